#!/usr/bin/env python3
"""Writes one legacy CloudFront log as every other format the doctor reads (for bench/log-formats.sh).

    python convert.py LEGACY.log OUTDIR

Writes OUTDIR/v2.json, v2-plain.log (`|`, with v2-plain.fields), v2-w3c.log (`;`), v2.parquet (pyarrow,
SNAPPY, Athena's column names, `-` as null) and realtime.log (tab-separated real-time records with
realtime-config.json), the same requests in each, as tests/formats/make_fixtures.py lays them out.
"""

import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

USED = ["x-edge-location", "cs-uri-stem", "cs-uri-query", "sc-status", "x-edge-result-type",
        "x-edge-detailed-result-type", "cs-method", "cs(Host)", "x-host-header", "cs(User-Agent)",
        "cs(Referer)", "cs(Cookie)", "sc-content-type", "sc-content-len", "sc-bytes", "c-ip"]


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    names = None
    rows = []
    with open(src, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#Fields:"):
                names = line[len("#Fields:"):].split()
                continue
            if not line or line.startswith("#"):
                continue
            rows.append(dict(zip(names, line.split("\t"))))
    sel = ["date", "time"] + USED
    enc = lambda v, d: v.replace(d, "%%%02X" % ord(d)) if d in ",;" else v
    with open(os.path.join(out, "v2.json"), "w") as f:
        for r in rows:
            f.write(json.dumps({k: r[k] for k in sel[::-1]}, separators=(",", ":")) + "\n")
    with open(os.path.join(out, "v2-plain.log"), "w") as f:
        for r in rows:
            f.write("|".join(r[k] for k in sel) + "\n")
    with open(os.path.join(out, "v2-plain.fields"), "w") as f:
        f.write(",".join(sel) + "\n")
    with open(os.path.join(out, "v2-w3c.log"), "w") as f:
        f.write("#Version: 1.0\n#Fields: %s\n" % " ".join(sel))
        for r in rows:
            f.write(";".join(enc(r[k], ";") for k in sel) + "\n")
    col = lambda k: k.replace("-", "_").replace("(", "_").replace(")", "").lower()
    table = pa.table({col(k): pa.array([None if r[k] == "-" else r[k] for r in rows], pa.string()) for k in sel})
    pq.write_table(table, os.path.join(out, "v2.parquet"), compression="snappy", row_group_size=65536)
    # In the order real-time records carry their fields ("Real-time logs", Fields).
    rt = [("sc-status", "sc-status"), ("sc-bytes", "sc-bytes"), ("cs-method", "cs-method"),
          ("cs-host", "x-host-header"), ("cs-uri-stem", None), ("x-edge-location", "x-edge-location"), ("x-host-header", "cs(Host)"),
          ("cs-user-agent", "cs(User-Agent)"), ("cs-referer", "cs(Referer)"), ("cs-cookie", "cs(Cookie)"),
          ("cs-uri-query", "cs-uri-query"), ("x-edge-result-type", "x-edge-result-type"),
          ("sc-content-type", "sc-content-type"), ("sc-content-len", "sc-content-len"),
          ("x-edge-detailed-result-type", "x-edge-detailed-result-type")]
    import calendar, time as _t
    with open(os.path.join(out, "realtime.log"), "w") as f:
        for r in rows:
            ts = calendar.timegm(_t.strptime(r["date"] + " " + r["time"], "%Y-%m-%d %H:%M:%S"))
            vals = ["%d.000" % ts]
            for name, k in rt:
                if k is None:
                    q = r["cs-uri-query"]
                    vals.append(r["cs-uri-stem"] + ("" if q == "-" else "?" + q))
                else:
                    vals.append(r[k])
            f.write("\t".join(vals) + "\n")
    with open(os.path.join(out, "realtime-config.json"), "w") as f:
        json.dump({"RealtimeLogConfig": {"Name": "bench", "SamplingRate": 100,
                                         "Fields": ["timestamp"] + [n for n, _ in rt]}}, f)


if __name__ == "__main__":
    main()
