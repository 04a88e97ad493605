#!/usr/bin/env python3
"""Writes the same requests in every log format CloudFront writes, for tests/formats.rs.

    /work/venv/bin/python crates/cachalot-doctor/tests/formats/make_fixtures.py

Needs pyarrow (Parquet). Field names, order and value conventions follow AWS's pages:
- legacy standard logs, "Standard logging reference", Log file fields (33 fields, tab-separated,
  `#Version: 1.0` and `#Fields:` header lines):
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
- standard logging (v2), "Configure standard logging (v2)": output formats json (one object per line,
  string values), plain (values joined by the field delimiter, no header), w3c (`#Version` and `#Fields`
  header lines, then values joined by the delimiter), parquet; any selection of fields in any order,
  v2-only fields such as timestamp(ms), c-country, asn, cache-behavior-path-pattern:
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html
- real-time logs, "Real-time logs", Fields: tab-separated, no header, the chosen fields always in the
  documented order; timestamp in Unix seconds with milliseconds; cs-uri-stem with the query string;
  cs-host is the viewer's Host header and x-host-header the distribution's domain name:
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/real-time-logs.html
"""

import gzip
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))

LEGACY = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
          "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
          "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
          "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
          "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end").split()

AGENTS = [
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/120.0.0.0%20Safari/537.36",
    "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2014_2)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.2%20Safari/605.1.15",
    "Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:121.0)%20Gecko/20100101%20Firefox/121.0",
]
PATHS = ["/images/cat.jpg", "/images/dog.jpg", "/css/site.css", "/js/app.js", "/index.html", "/api/items", "/missing.png"]
TYPES = {".jpg": "image/jpeg", ".css": "text/css", ".js": "application/javascript", ".html": "text/html",
         "/api/items": "application/json", ".png": "text/html"}
POPS = ["SOF50-P2", "FRA56-P1", "IAD89-C1"]
BASE = 1731618000  # 2024-11-14 21:00:00 UTC


def records():
    rng = random.Random(7)
    seen = set()
    out = []
    for i in range(120):
        path = rng.choice(PATHS)
        pop = rng.choice(POPS)
        method = "GET" if i % 17 else ("HEAD" if i % 2 else "POST")
        query = rng.choice(["-", "-", "v=3", "utm_source=news%2Cletter&v=3", "w=200,h=100"])
        cookie = rng.choice(["-", "-", "session=ab12cd", "theme=dark;%20session=ef34"])
        status, result = 200, "Hit"
        key = (pop, path, query)
        if path == "/missing.png":
            status, result = 404, "Error"
        elif method == "POST":
            result = "Miss"
        elif key not in seen:
            result = "Miss"
            seen.add(key)
        elif i % 11 == 0:
            result = "RefreshHit"
        ext = next((t for s, t in TYPES.items() if path.endswith(s)), "application/octet-stream")
        length = 1000 + 37 * len(path) + i
        t = BASE + 7 * i
        ms = (i * 137) % 1000
        rid = ("%054d==" % (i * 7919))[-56:]
        f = {
            "date": "2024-11-14", "time": "%02d:%02d:%02d" % (21 + (t - BASE) // 3600, (t - BASE) // 60 % 60, (t - BASE) % 60),
            "x-edge-location": pop, "sc-bytes": str(length + 350), "c-ip": "192.0.2.%d" % (i % 250 + 1),
            "cs-method": method, "cs(Host)": "d111111abcdef8.cloudfront.net", "cs-uri-stem": path,
            "sc-status": str(status), "cs(Referer)": rng.choice(["-", "https://www.example.com/"]),
            "cs(User-Agent)": rng.choice(AGENTS), "cs-uri-query": query, "cs(Cookie)": cookie,
            "x-edge-result-type": result, "x-edge-request-id": rid, "x-host-header": "www.example.com",
            "cs-protocol": "https", "cs-bytes": str(180 + i), "time-taken": "0.0%02d" % (i % 90 + 1),
            "x-forwarded-for": "-", "ssl-protocol": "TLSv1.3", "ssl-cipher": "TLS_AES_128_GCM_SHA256",
            "x-edge-response-result-type": result, "cs-protocol-version": "HTTP/2.0", "fle-status": "-",
            "fle-encrypted-fields": "-", "c-port": str(40000 + i), "time-to-first-byte": "0.0%02d" % (i % 80 + 1),
            "x-edge-detailed-result-type": "Error" if result == "Error" else result, "sc-content-type": ext,
            "sc-content-len": str(length), "sc-range-start": "-", "sc-range-end": "-",
            # v2-only fields.
            "timestamp(ms)": str(t * 1000 + ms), "timestamp": "%d.%03d" % (t, ms), "c-country": "BG",
            "asn": "16509", "cache-behavior-path-pattern": "/api/*" if path.startswith("/api") else "*",
        }
        out.append(f)
    return out


# encode_delimiter, parquet_table and realtime_values are also bench/log-formats/convert.py's, so that
# the benchmark's files are laid out as these fixtures are.
def encode_delimiter(value, delimiter):
    # With `,` or `;` as the delimiter, CloudFront percent-encodes it inside values.
    if delimiter in ",;":
        return value.replace(delimiter, "%%%02X" % ord(delimiter))
    return value


def write(name, text):
    with open(os.path.join(HERE, name), "w", newline="") as f:
        f.write(text)
    # mtime=0: the same bytes on every run.
    with gzip.GzipFile(os.path.join(HERE, name + ".gz"), "wb", mtime=0) as f:
        f.write(text.encode())


def delimited(recs, fields, delimiter):
    return "".join(delimiter.join(encode_delimiter(r[k], delimiter) for k in fields) + "\n" for r in recs)


def parquet_table(recs, fields):
    """One optional string column per field, named as Athena's CloudFront tables name them, `-` stored
    as null."""
    def column(k):
        return k.replace("-", "_").replace("(", "_").replace(")", "").lower()
    return pa.table({column(k): pa.array([None if r[k] == "-" else r[k] for r in recs], pa.string()) for k in fields})


def realtime_values(r, sources):
    """One real-time record's values: for each source, that field of the record `r`, or for None the
    cs-uri-stem with the query string, as real-time logs carry it."""
    q = r["cs-uri-query"]
    uri = r["cs-uri-stem"] + ("" if q == "-" else "?" + q)
    return [uri if src is None else r[src] for src in sources]


def main():
    recs = records()
    write("legacy.log", "#Version: 1.0\n#Fields: %s\n%s" % (" ".join(LEGACY), delimited(recs, LEGACY, "\t")))

    used = ["x-edge-location", "cs-uri-stem", "cs-uri-query", "sc-status", "x-edge-result-type",
            "x-edge-detailed-result-type", "cs-method", "cs(Host)", "x-host-header", "cs(User-Agent)",
            "cs(Referer)", "cs(Cookie)", "sc-content-type", "sc-content-len", "sc-bytes", "c-ip"]
    json_fields = ["timestamp(ms)"] + used[::-1] + ["asn", "c-country", "cache-behavior-path-pattern"]
    write("v2.json", "".join(json.dumps({k: r[k] for k in json_fields}, separators=(",", ":")) + "\n" for r in recs))

    plains = {
        "pipe": (LEGACY + ["c-country", "cache-behavior-path-pattern"], "|"),
        "tab": (["cache-behavior-path-pattern", "date", "time"] + used, "\t"),
        "space": (["timestamp"] + used[5:] + used[:5] + ["c-country"], " "),
    }
    for label, (fields, delimiter) in plains.items():
        write("v2-plain-%s.log" % label, delimited(recs, fields, delimiter))
        with open(os.path.join(HERE, "v2-plain-%s.fields" % label), "w") as f:
            f.write(",".join(fields) + "\n")

    w3c_fields = ["timestamp(ms)", "c-country"] + used
    write("v2-w3c.log", "#Version: 1.0\n#Fields: %s\n%s" % (" ".join(w3c_fields), delimited(recs, w3c_fields, ";")))

    pq_fields = ["date", "time"] + used + ["c-country", "asn"]
    pq.write_table(parquet_table(recs, pq_fields), os.path.join(HERE, "v2.parquet"), compression="snappy", row_group_size=50)

    # Real-time records: the chosen fields in the documented order, whatever the configuration lists.
    rt = {"timestamp": "timestamp", "c-ip": "c-ip", "sc-status": "sc-status", "sc-bytes": "sc-bytes",
          "cs-method": "cs-method", "cs-host": "x-host-header", "cs-uri-stem": None,
          "x-edge-location": "x-edge-location", "x-host-header": "cs(Host)", "cs-user-agent": "cs(User-Agent)",
          "cs-referer": "cs(Referer)", "cs-cookie": "cs(Cookie)", "cs-uri-query": "cs-uri-query",
          "x-edge-result-type": "x-edge-result-type", "sc-content-type": "sc-content-type",
          "sc-content-len": "sc-content-len", "x-edge-detailed-result-type": "x-edge-detailed-result-type",
          "c-country": "c-country"}
    write("realtime.log", "".join("\t".join(realtime_values(r, rt.values())) + "\n" for r in recs))
    config = {"RealtimeLogConfig": {
        "ARN": "arn:aws:cloudfront::123456789012:realtime-log-config/doctor-fixture",
        "Name": "doctor-fixture", "SamplingRate": 100,
        "EndPoints": [{"StreamType": "Kinesis", "KinesisStreamConfig": {
            "RoleARN": "arn:aws:iam::123456789012:role/CloudFrontRealtimeLogConfiguration",
            "StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/doctor-fixture"}}],
        # Listed in another order than the records carry them, as a configuration may.
        "Fields": sorted(rt)}}
    with open(os.path.join(HERE, "realtime-config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
