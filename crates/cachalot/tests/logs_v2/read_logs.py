"""Reads every v2 log file under a folder with implementations other than Cachalot's: gzip and
json from Python's standard library, parquet with pyarrow. Prints one JSON object:
{relative path: {"lines": [...]} for gzip text, {"json": [objects as [key, value] pairs]} for json
lines, {"columns": [...], "rows": [[...]]} for parquet}.

Formats: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html
"""
import gzip
import json
import os
import sys

import pyarrow.parquet as pq

root = sys.argv[1]
json_dirs = set(sys.argv[2:])
out = {}
for folder, _, names in os.walk(root):
    for name in sorted(names):
        path = os.path.join(folder, name)
        rel = os.path.relpath(path, root)
        if name.startswith("."):
            continue
        if name.endswith(".parquet"):
            table = pq.read_table(path)
            rows = [list(r.values()) for r in table.to_pylist()]
            out[rel] = {"columns": table.column_names, "rows": rows}
        elif name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                lines = f.read().splitlines()
            if rel.split(os.sep)[0] in json_dirs:
                out[rel] = {"json": [list(json.loads(l, object_pairs_hook=lambda p: p)) for l in lines]}
            else:
                out[rel] = {"lines": lines}
json.dump(out, sys.stdout)
