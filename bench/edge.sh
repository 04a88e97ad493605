#!/usr/bin/env bash
# Cache throughput of Cachalot beside nginx (proxy_cache), Varnish and Apache Traffic Server,
# in the same run, in front of the same nginx origin, driven by wrk.
#
#   bash bench/edge.sh                 # 10 s per measurement
#   DURATION=5s CONNECTIONS=32 bash bench/edge.sh
#   TARGETS="cachalot cachalot+logs" bash bench/edge.sh   # a subset
#
# Scenarios:
#   1k.bin            1 KiB binary object, cache hits (after a warm-up request)
#   100k.bin          100 KiB binary object, cache hits
#   20k.txt (gzip)    20 KiB text, Accept-Encoding: gzip: compressed hits
#   100k.txt (gzip)   100 KiB text, Accept-Encoding: gzip: compressed hits
#   miss 1k           every request a new key (/1k.bin?n=<counter>): the miss path to a fast origin
# plus Cachalot with standard logging on (every request a log line) and Cachalot with the
# seed's Accept-normalising viewer-request function on the behavior, to show their cost.
#
# On a 2-core machine the server under test is pinned to core 0 and wrk to core 1
# (taskset), so every server gets one core. Prints requests/s and latency; never fails on
# the numbers. Needs wrk, nginx, varnish and trafficserver (apt-get install wrk nginx varnish
# trafficserver). Traffic Server's compress plugin is not configured: it has no gzip rows.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WORK=${WORK:-$ROOT/target/bench-edge}
HOST=d0bench0edge01.cloudfront.net
TARGETS=${TARGETS:-cachalot cachalot+logs cachalot+function nginx varnish ats}
RESULTS=$WORK/results.txt
want() { [[ " $TARGETS " == *" $1 "* ]]; }

for tool in wrk nginx varnishd traffic_server taskset; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx varnish trafficserver" >&2; exit 1; }
done
cargo build --release -q -p cachalot
BIN=$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/cachalot

rm -rf "$WORK" && mkdir -p "$WORK/site" "$WORK/cache" "$WORK/logs"
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
head -c 102400 /dev/urandom >"$WORK/site/100k.bin"
printf '%s\n' "-- Every request a new cache key." "local n = 0" "request = function()" "    n = n + 1" \
    '    return wrk.format(nil, "/1k.bin?n=" .. n)' "end" >"$WORK/miss.lua"
# Compressible text (about 4:1 with gzip -6).
python3 -c "
import random
random.seed(1)
words = [''.join(random.choice('abcdefghijklmnop') for _ in range(random.randint(2, 9))) for _ in range(400)]
out = []
while sum(map(len, out)) < 102400:
    out.append(' '.join(random.choice(words) for _ in range(12)) + '\n')
open('$WORK/site/100k.txt', 'w').write(''.join(out)[:102400])
open('$WORK/site/20k.txt', 'w').write(''.join(out)[:20480])
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

run_wrk() { # name port path [header|miss]
    local name=$1 port=$2 path=$3 extra=${4:-}
    local args=(-t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST")
    local label="${path#/}"
    if [ "$extra" = miss ]; then
        args+=(-s "$WORK/miss.lua")
        label="miss 1k"
    else
        if [ -n "$extra" ]; then
            args+=(-H "$extra")
            label="$label (gzip)"
        fi
        # Warm the cache (and check the object is served) before measuring.
        curl -sf -o /dev/null -H "Host: $HOST" ${extra:+-H "$extra"} "http://127.0.0.1:$port$path"
        curl -sf -o /dev/null -H "Host: $HOST" ${extra:+-H "$extra"} "http://127.0.0.1:$port$path"
    fi
    local out rps p50 p99 errors
    out=$(taskset -c 1 wrk "${args[@]}" "http://127.0.0.1:$port$path")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print " (" $4 " non-2xx)"}')
    printf '%-22s %-18s %12s req/s   p50 %8s   p99 %8s%s\n' "$name" "$label" "$rps" "$p50" "$p99" "$errors"
    printf '%s|%s|%s\n' "$name" "$label" "$rps" >>"$RESULTS"
}

scenarios() { # name port [nogzip]
    run_wrk "$1" "$2" /1k.bin
    run_wrk "$1" "$2" /100k.bin
    if [ -z "${3:-}" ]; then
        run_wrk "$1" "$2" /20k.txt "Accept-Encoding: gzip"
        run_wrk "$1" "$2" /100k.txt "Accept-Encoding: gzip"
    fi
    run_wrk "$1" "$2" /1k.bin miss
}

echo "== machine: $(nproc) cores; server on core 0, wrk on core 1; $CONNECTIONS connections, $DURATION each"
echo "== $(nginx -v 2>&1); $(varnishd -V 2>&1 | head -1); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"

start_cachalot() { # config
    (cd "$WORK" && exec taskset -c 0 "$BIN" serve --config "$1" --state "state-$1" --log warn) &
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

if want varnish; then
taskset -c 0 varnishd -F -j none -n "$WORK/varnish" -a 127.0.0.1:18083 -f "$WORK/varnish.vcl" \
    -s malloc,256m -p thread_pool_min=10 >"$WORK/varnish.log" 2>&1 &
PIDS+=($!)
wait_port 18083
scenarios "varnish" 18083
stop_last
fi

if want ats; then
    # Traffic Server from its own run root: config, cache and logs under $WORK/ats.
    ATS=$WORK/ats
    mkdir -p "$ATS/etc" "$ATS/cache" "$ATS/var" "$ATS/run" "$ATS/log"
    cp -r /etc/trafficserver/. "$ATS/etc/"
    printf '%s\n' "prefix: /usr" "exec_prefix: /usr" "bindir: /usr/bin" "sbindir: /usr/sbin" \
        "sysconfdir: $ATS/etc" "datadir: $ATS/cache" "includedir: /usr/include" "libdir: /usr/lib/trafficserver" \
        "libexecdir: /usr/lib/trafficserver/modules" "localstatedir: $ATS/var" "runtimedir: $ATS/run" \
        "logdir: $ATS/log" "cachedir: $ATS/cache" >"$ATS/runroot.yaml"
    cp bench/edge/ats-records.config "$ATS/etc/records.config"
    echo "map http://$HOST/ http://127.0.0.1:18081/" >"$ATS/etc/remap.config"
    echo "$ATS/cache 512M" >"$ATS/etc/storage.config"
    (cd "$ATS" && exec taskset -c 0 traffic_server --run-root="$ATS/runroot.yaml") >"$ATS/out.log" 2>&1 &
    PIDS+=($!)
    wait_port 18084
    scenarios "traffic server" 18084 nogzip
    stop_last
    pkill -f "traffic_crashlog.*" 2>/dev/null || true
fi

echo
echo "== requests/s relative to Cachalot (same scenario, same run)"
awk -F'|' '{ rps[$1 "|" $2] = $3
             if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
             if (!($1 in srv)) { srv[$1] = 1; servers[++m] = $1 } }
    END {
        printf "%-18s", "scenario"; for (j = 1; j <= m; j++) printf " %18s", servers[j]; printf "\n"
        for (i = 1; i <= n; i++) {
            base = rps["cachalot|" order[i]]; printf "%-18s", order[i]
            for (j = 1; j <= m; j++) {
                v = rps[servers[j] "|" order[i]]
                if (v == "" || base == "") printf " %18s", "-"; else printf " %18.2f", v / base
            }
            printf "\n"
        }
    }' "$RESULTS"
