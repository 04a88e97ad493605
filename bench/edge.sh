#!/usr/bin/env bash
# Cache-hit throughput of Cachalot beside nginx (proxy_cache) and Varnish, in the same run,
# in front of the same nginx origin, driven by wrk.
#
#   bash bench/edge.sh                 # 10 s per measurement
#   DURATION=5s CONNECTIONS=32 bash bench/edge.sh
#   TARGETS="cachalot cachalot+logs" bash bench/edge.sh   # a subset
#
# Scenarios (all cache hits after a warm-up request):
#   hit-1k      1 KiB binary object
#   hit-100k    100 KiB binary object
#   gzip-100k   100 KiB text object, Accept-Encoding: gzip (each edge serves it compressed)
# plus Cachalot with standard logging on (every request a log line) and Cachalot with the
# seed's Accept-normalising viewer-request function on the behavior, to show their cost.
#
# On a 2-core machine the server under test is pinned to core 0 and wrk to core 1
# (taskset), so every server gets one core. Prints requests/s and latency; never fails on
# the numbers. Needs wrk, nginx and varnish (apt-get install wrk nginx varnish).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WORK=${WORK:-$ROOT/target/bench-edge}
HOST=d0bench0edge01.cloudfront.net
TARGETS=${TARGETS:-cachalot cachalot+logs cachalot+function nginx varnish}
want() { [[ " $TARGETS " == *" $1 "* ]]; }

for tool in wrk nginx varnishd taskset; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx varnish" >&2; exit 1; }
done
cargo build --release -q -p cachalot
BIN=${CARGO_TARGET_DIR:-target}/release/cachalot

rm -rf "$WORK" && mkdir -p "$WORK/site" "$WORK/cache" "$WORK/logs"
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
head -c 102400 /dev/urandom >"$WORK/site/100k.bin"
# Compressible text (about 4:1 with gzip -6).
python3 -c "
import random
random.seed(1)
words = [''.join(random.choice('abcdefghijklmnop') for _ in range(random.randint(2, 9))) for _ in range(400)]
out = []
while sum(map(len, out)) < 102400:
    out.append(' '.join(random.choice(words) for _ in range(12)) + '\n')
open('$WORK/site/100k.txt', 'w').write(''.join(out)[:102400])
"
cp bench/edge/*.conf bench/edge/*.vcl bench/edge/*.json examples/functions/normalize-accept.js "$WORK/"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

# The origin gets core 1 with wrk: it is only hit during warm-up.
(cd "$WORK" && exec taskset -c 1 nginx -p "$WORK" -c nginx-origin.conf) &
PIDS+=($!)
wait_port 18081

run_wrk() { # name port path [header]
    local name=$1 port=$2 path=$3 extra=${4:-}
    local args=(-t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST")
    [ -n "$extra" ] && args+=(-H "$extra")
    # Warm the cache (and check the object is served) before measuring.
    curl -sf -o /dev/null -H "Host: $HOST" ${extra:+-H "$extra"} "http://127.0.0.1:$port$path"
    curl -sf -o /dev/null -H "Host: $HOST" ${extra:+-H "$extra"} "http://127.0.0.1:$port$path"
    local out
    out=$(taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$port$path")
    local rps p50 p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    printf '%-22s %-10s %12s req/s   p50 %8s   p99 %8s\n' "$name" "${path#/}${extra:+ (gzip)}" "$rps" "$p50" "$p99"
}

scenarios() { # name port
    run_wrk "$1" "$2" /1k.bin
    run_wrk "$1" "$2" /100k.bin
    run_wrk "$1" "$2" /100k.txt "Accept-Encoding: gzip"
}

echo "== machine: $(nproc) cores; server on core 0, wrk on core 1; $CONNECTIONS connections, $DURATION each"
echo "== $(nginx -v 2>&1); $(varnishd -V 2>&1 | head -1); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"

start_cachalot() { # config
    (cd "$WORK" && exec taskset -c 0 "$ROOT/$BIN" serve --config "$1" --state "state-$1" --log warn) &
    PIDS+=($!)
    wait_port 18080
}
stop_last() {
    local last=${PIDS[-1]}
    kill "$last" 2>/dev/null || true
    wait "$last" 2>/dev/null || true
    unset 'PIDS[-1]'
}

if want cachalot; then
    start_cachalot cachalot.json
    scenarios "cachalot" 18080
    stop_last
fi

if want cachalot+logs; then
    start_cachalot cachalot-logging.json
    scenarios "cachalot +logs" 18080
    stop_last
    echo "   (log lines written: $(find "$WORK/logs" -name '*.gz' -exec zcat {} + 2>/dev/null | grep -vc '^#' || true))"
fi

if want cachalot+function; then
    start_cachalot cachalot-function.json
    scenarios "cachalot +function" 18080
    stop_last
fi

if want nginx; then
    (cd "$WORK" && exec taskset -c 0 nginx -p "$WORK" -c nginx-cache.conf) &
    PIDS+=($!)
    wait_port 18082
    scenarios "nginx proxy_cache" 18082
    stop_last
fi

want varnish || exit 0
taskset -c 0 varnishd -F -j none -n "$WORK/varnish" -a 127.0.0.1:18083 -f "$WORK/varnish.vcl" \
    -s malloc,256m -p thread_pool_min=10 >"$WORK/varnish.log" 2>&1 &
PIDS+=($!)
wait_port 18083
scenarios "varnish" 18083
stop_last
