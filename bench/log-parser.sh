#!/usr/bin/env bash
# Access-log parser throughput, beside GoAccess and awk on the same generated file.
#
#   bash bench/log-parser.sh            # 1,000,000 lines
#   LINES=200000 RUNS=5 bash bench/log-parser.sh
#
# Prints lines/s for: Cachalot's parser (three depths, plain and gzip input, single
# thread), `awk -F'\t'` counting x-edge-result-type, and `goaccess --log-format=CLOUDFRONT`.
# A benchmark prints numbers; it never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
WORK=${WORK:-target/bench-log-parser}
mkdir -p "$WORK"

if ! command -v goaccess >/dev/null 2>&1; then
    echo "installing goaccess (apt-get)…" >&2
    { apt-get update -qq && apt-get install -y -qq goaccess; } >/dev/null 2>&1 || echo "goaccess could not be installed; skipping it" >&2
fi

cargo build --release -q -p cachalot-telemetry --examples
BIN=${CARGO_TARGET_DIR:-target}/release/examples

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== generating $LINES lines (seed 1)"
"$BIN/gen-logs" --lines "$LINES" --seed 1 --output "$WORK/cf.log"
gzip -c -6 "$WORK/cf.log" >"$WORK/cf.log.gz"
ls -l "$WORK/cf.log" "$WORK/cf.log.gz" | awk '{print "   " $5 " bytes  " $9}'

# Wall-clock seconds of a command, its output discarded.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

rate() { echo "$LINES / $1" | bc -l | xargs printf '%.0f'; }

echo
echo "== cachalot parser (single thread; best of $RUNS runs; cpu = this thread's CPU time)"
for input in cf.log cf.log.gz; do
    echo "-- $input"
    for _ in $(seq "$RUNS"); do
        "$BIN/parse-bench" "$WORK/$input" | grep -E '^(split|fields|records)'
    done | awk '{ if (!($1 in best) || $9 > rate[$1]) { best[$1] = $0; rate[$1] = $9 } }
                END { print best["split"]; print best["fields"]; print best["records"] }'
done

echo
echo "== awk: count x-edge-result-type ($(awk -W version 2>&1 | head -1 || true))"
best=""
for _ in $(seq "$RUNS"); do
    s=$(seconds awk -F'\t' '!/^#/ { c[$14]++ } END { for (k in c) print k, c[k] }' "$WORK/cf.log")
    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
done
printf 'awk        %8.3f s %12s lines/s\n' "$best" "$(rate "$best")"

if command -v goaccess >/dev/null 2>&1; then
    echo
    echo "== $(goaccess --version | head -1): --log-format=CLOUDFRONT, JSON report (one run)"
    s=$(seconds goaccess "$WORK/cf.log" --log-format=CLOUDFRONT --no-global-config --no-progress -o "$WORK/goaccess.json")
    printf 'goaccess   %8.3f s %12s lines/s\n' "$s" "$(rate "$s")"
fi
