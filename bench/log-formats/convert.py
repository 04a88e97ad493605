#!/usr/bin/env python3
"""Writes one legacy CloudFront log as every other format the doctor reads (for bench/log-formats.sh).

    python convert.py LEGACY.log OUTDIR

Writes OUTDIR/v2.json, v2-plain.log (`|`, with v2-plain.fields), v2-w3c.log (`;`), v2.parquet (pyarrow,
SNAPPY, Athena's column names, `-` as null) and realtime.log (tab-separated real-time records with
realtime-config.json), the same requests in each, laid out by the encoders of the doctor's fixtures
(crates/cachalot-doctor/tests/formats/make_fixtures.py, imported from there).
"""

import json
import os
import sys

import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "cachalot-doctor",
                                "tests", "formats"))
from make_fixtures import encode_delimiter, parquet_table, realtime_values  # noqa: E402

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
            f.write(";".join(encode_delimiter(r[k], ";") for k in sel) + "\n")
    pq.write_table(parquet_table(rows, sel), os.path.join(out, "v2.parquet"), compression="snappy", row_group_size=65536)
    # In the order real-time records carry their fields ("Real-time logs", Fields).
    rt = [("sc-status", "sc-status"), ("sc-bytes", "sc-bytes"), ("cs-method", "cs-method"),
          ("cs-host", "x-host-header"), ("cs-uri-stem", None), ("x-edge-location", "x-edge-location"), ("x-host-header", "cs(Host)"),
          ("cs-user-agent", "cs(User-Agent)"), ("cs-referer", "cs(Referer)"), ("cs-cookie", "cs(Cookie)"),
          ("cs-uri-query", "cs-uri-query"), ("x-edge-result-type", "x-edge-result-type"),
          ("sc-content-type", "sc-content-type"), ("sc-content-len", "sc-content-len"),
          ("x-edge-detailed-result-type", "x-edge-detailed-result-type")]
    sources = [k for _, k in rt]
    import calendar, time as _t
    with open(os.path.join(out, "realtime.log"), "w") as f:
        for r in rows:
            ts = calendar.timegm(_t.strptime(r["date"] + " " + r["time"], "%Y-%m-%d %H:%M:%S"))
            f.write("\t".join(["%d.000" % ts] + realtime_values(r, sources)) + "\n")
    with open(os.path.join(out, "realtime-config.json"), "w") as f:
        json.dump({"RealtimeLogConfig": {"Name": "bench", "SamplingRate": 100,
                                         "Fields": ["timestamp"] + [n for n, _ in rt]}}, f)


if __name__ == "__main__":
    main()
