#!/usr/bin/env bash
# `cachalot analyze` over the same requests in every log format it reads, beside the legacy reader,
# a plain awk count of the same data and, for Parquet, DuckDB reading the same file.
#
#   flock /work/locks/build.lock bash bench/log-formats.sh
#   LINES=200000 RUNS=1 bash bench/log-formats.sh
#
# Prints seconds and records/s (best of RUNS), for 1 thread and for every core: legacy, v2 json,
# v2 plain (`|`), v2 w3c (`;`), v2 parquet, real-time records; `awk` counting x-edge-result-type
# in the legacy file and in the plain file; DuckDB counting result types in the parquet file (when
# the venv has duckdb: pip install duckdb). A benchmark prints numbers; it never fails on them.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

LINES=${LINES:-1000000}
RUNS=${RUNS:-2}
WORK=${WORK:-target/bench-log-formats}
PY=${CACHALOT_VENV:-/work/venv}/bin/python
mkdir -p "$WORK"

cargo build --release -q -p cachalot -p cachalot-telemetry --bin cachalot --examples
BIN=${CARGO_TARGET_DIR:-target}/release

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -s "$WORK/legacy.log" ] || [ "$(grep -vc '^#' "$WORK/legacy.log")" != "$LINES" ]; then
    echo "== generating $LINES lines (seed 1) and converting them to every format"
    "$BIN/examples/gen-logs" --lines "$LINES" --seed 1 --distributions 1 --output "$WORK/legacy.log"
    "$PY" bench/log-formats/convert.py "$WORK/legacy.log" "$WORK"
fi
ls -l "$WORK"/legacy.log "$WORK"/v2* "$WORK"/realtime.log | awk '{print "   " $5 " bytes  " $9}'

best() { # label command...: best wall-clock seconds of RUNS runs, output discarded
    best_of 40 records/s "$@"
}

echo
best "awk legacy (count result types)" awk -F'\t' '!/^#/ { c[$14]++ } END { for (k in c) print k, c[k] }' "$WORK/legacy.log"
best "awk v2 plain | (count result types)" awk -F'|' '{ c[$7]++ } END { for (k in c) print k, c[k] }' "$WORK/v2-plain.log"
if "$PY" -c 'import duckdb' 2>/dev/null; then
    best "duckdb parquet (count result types)" "$PY" -c "import duckdb; print(duckdb.sql(\"select x_edge_result_type, count(*) from '$WORK/v2.parquet' group by 1\").fetchall())"
    best "duckdb parquet, 1 thread" "$PY" -c "import duckdb; duckdb.sql('set threads=1'); print(duckdb.sql(\"select x_edge_result_type, count(*) from '$WORK/v2.parquet' group by 1\").fetchall())"
else
    echo "duckdb not in the venv: skipped (pip install duckdb)"
fi
fields=$(cat "$WORK/v2-plain.fields")
for threads in 1 "$(nproc)"; do
    echo "-- cachalot analyze --threads $threads"
    best "legacy" "$BIN/cachalot" analyze "$WORK/legacy.log" --format json --threads "$threads"
    best "v2 json" "$BIN/cachalot" analyze "$WORK/v2.json" --format json --threads "$threads"
    best "v2 plain |" "$BIN/cachalot" analyze "$WORK/v2-plain.log" --fields "$fields" --format json --threads "$threads"
    best "v2 w3c ;" "$BIN/cachalot" analyze "$WORK/v2-w3c.log" --format json --threads "$threads"
    best "v2 parquet" "$BIN/cachalot" analyze "$WORK/v2.parquet" --format json --threads "$threads"
    best "real-time" "$BIN/cachalot" analyze "$WORK/realtime.log" --realtime-config "$WORK/realtime-config.json" --format json --threads "$threads"
done
