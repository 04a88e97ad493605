#!/usr/bin/env bash
# Instructions per request on the edge's hit path, counted by callgrind: immune to the noise of a
# shared machine, so it tells a 5 % change where req/s and CPU time cannot.
#
#   bash bench/instructions.sh                          # this build, 1 KiB hits
#   bash bench/instructions.sh /tmp/before/target/release/cachalot   # and older builds, same run
#   REQUESTS=8000 OBJECT=/100k.bin bash bench/instructions.sh
#   CONFIG=cachalot-logging.json bash bench/instructions.sh   # another of bench/edge's configs
#
# Each build serves bench/edge/$CONFIG (cachalot.json) under `valgrind --tool=callgrind` with instrumentation
# off; after a warm-up (the object cached, 8 connections opened) instrumentation is switched on for
# exactly REQUESTS hits sent by wrk over 8 keep-alive connections (wrk then idles until LIMIT, 30 s),
# then off. Prints instructions per request (all threads, user space) and the project's functions
# by inclusive cost per request (callgrind_annotate). Output files stay in $WORK/callgrind.<n>.out for callgrind_annotate.
# Needs valgrind, wrk, nginx.
# shellcheck shell=bash
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
need_tools "valgrind wrk nginx" valgrind callgrind_control callgrind_annotate wrk nginx
REQUESTS=${REQUESTS:-4000}
OBJECT=${OBJECT:-/1k.bin}
CONFIG=${CONFIG:-cachalot.json}
HOST=d0bench0edge01.cloudfront.net
WORK=${WORK:-$ROOT/target/bench-instructions}
BINS=("$(release_bin cachalot)")
for bin in "$@"; do BINS+=("$(realpath -m -- "$bin")"); done
trap stop_all EXIT

rm -rf "$WORK" && mkdir -p "$WORK/site"
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
head -c 102400 /dev/urandom >"$WORK/site/100k.bin"
mkdir -p "$WORK/logs"
cp bench/edge/nginx-origin.conf bench/edge/*.json examples/functions/normalize-accept.js "$WORK/"
start_origin
# wrk stops its thread after exactly REQUESTS requests.
printf '%s\n' "local n = 0" "request = function()" "    n = n + 1" \
    "    if n > $REQUESTS then wrk.thread:stop() end" "    return wrk.format(nil)" "end" >"$WORK/count.lua"

n=0
for bin in "${BINS[@]}"; do
    n=$((n + 1))
    out=$WORK/callgrind.$n.out
    rm -rf "$WORK/state"
    (cd "$WORK" && exec taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$bin" serve --config "$CONFIG" --state state --log error) 2>"$WORK/valgrind.$n.log" &
    PIDS+=("$!")
    WAIT_TRIES=600 wait_port 18080
    for _ in 1 2 3; do get 18080 "$OBJECT"; done
    pinned_wrk -c8 -d2s "http://127.0.0.1:18080$OBJECT"
    callgrind_control -i on "${PIDS[-1]}" >/dev/null
    done_line=$(taskset -c 1 wrk -t1 -c8 -d"${LIMIT:-30s}" -s "$WORK/count.lua" -H "Host: $HOST" "http://127.0.0.1:18080$OBJECT" |
        awk '/requests in/ {print $1}')
    callgrind_control -i off "${PIDS[-1]}" >/dev/null
    callgrind_control -d "${PIDS[-1]}" >/dev/null
    sleep 1
    stop_last
    # The dump made on request (callgrind.N.out.1) holds exactly the counted requests.
    total=$(awk '/^totals:/ {print $2}' "$out.1")
    echo "== $bin"
    echo "$done_line hits of $OBJECT: $((total / done_line)) instructions per request"
    callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$out.1" 2>/dev/null |
        awk -v n="$done_line" '/cachalot[a-z_]*::/ {
            c = $1; gsub(",", "", c); f = $0
            sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f); sub(/ \[[^]]*\]$/, "", f); sub(/^[^:]*:/, "", f)
            if (c / n >= 300 && !seen[f]++) printf "%8.0f  %s\n", c / n, substr(f, 1, 150)
        }' | head -25
done
