#!/usr/bin/env bash
# Cache throughput of Cachalot beside nginx (proxy_cache), Varnish and Apache Traffic Server,
# in the same run, in front of the same nginx origin, driven by wrk.
#
#   bash bench/edge.sh                 # 10 s per measurement
#   DURATION=5s CONNECTIONS=32 bash bench/edge.sh
#   TARGETS="cachalot cachalot+logs" bash bench/edge.sh   # a subset
#   BEFORE_BIN=/tmp/before/target/release/cachalot TARGETS=cachalot bash bench/edge.sh   # two builds
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
#
# Before and after: BEFORE_BIN=<another build of cachalot> adds the target cachalot@before, which
# runs the same scenarios against that binary right after `cachalot` (the same config,
# bench/edge/cachalot.json, the same pinning and origin, a state folder of its own). Its rows are
# printed beside cachalot's, and its column in the table at the end is its requests/s over this
# build's. A relative BEFORE_BIN is taken from where the script was started. An older commit's build:
#   git worktree add /tmp/before <rev> && (cd /tmp/before && cargo build --release -p cachalot)
# The older build must take `serve --config --state --log` (serve has since its first version) and load
# bench/edge/cachalot.json. A config file holding a key its build does not know does not load, so
# a key added to that file later shuts out the builds older than the key. Every key it holds today
# (Pops' Id, Listen and Region; Admin; OriginAddresses; Buckets; Distributions, with the behavior's
# Compress; CachePolicies, with Comment) has been read since the config file's first version.
BEFORE_BIN=${BEFORE_BIN:+$(realpath -m -- "$BEFORE_BIN")}
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WORK=${WORK:-$ROOT/target/bench-edge}
HOST=d0bench0edge01.cloudfront.net
TARGETS=${TARGETS:-cachalot cachalot+logs cachalot+function nginx varnish ats}
RESULTS=$WORK/results.txt
want() { [[ " $TARGETS " == *" $1 "* ]]; }
if [ -n "$BEFORE_BIN" ] && ! want cachalot@before; then TARGETS="$TARGETS cachalot@before"; fi
if want cachalot@before && [ ! -x "$BEFORE_BIN" ]; then
    echo "cachalot@before needs BEFORE_BIN=/path/to/another/cachalot (got \"$BEFORE_BIN\")" >&2
    exit 1
fi

need_tools "wrk nginx varnish trafficserver" wrk nginx varnishd traffic_server taskset
cargo build --release -q -p cachalot
BIN=$(release_bin cachalot)

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

trap stop_all EXIT
# The origin gets core 1 with wrk: it is only hit during warm-up.
start_origin

run_wrk() { # name port path [header|miss]
    local name=$1 port=$2 path=$3 extra=${4:-}
    local args=(-c"$CONNECTIONS" -d"$DURATION" --latency)
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
        get "$port" "$path" ${extra:+-H "$extra"}
        get "$port" "$path" ${extra:+-H "$extra"}
    fi
    pinned_wrk "${args[@]}" "http://127.0.0.1:$port$path"
    printf '%-22s %-18s %12s req/s   p50 %8s   p99 %8s%s\n' "$name" "$label" "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$WRK_NON2XX"
    printf '%s|%s|%s\n' "$name" "$label" "$WRK_RPS" >>"$RESULTS"
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
if want cachalot@before; then echo "== cachalot@before: $BEFORE_BIN"; fi

start_cachalot() { # config [binary state]
    start_pinned 0 18080 "${2:-$BIN}" serve --config "$1" --state "${3:-state-$1}" --log warn
}

if want cachalot; then
    start_cachalot cachalot.json
    scenarios "cachalot" 18080
    stop_last
fi

if want cachalot@before; then
    start_cachalot cachalot.json "$BEFORE_BIN" state-before
    scenarios "cachalot@before" 18080
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
    start_pinned 0 18082 nginx -p "$WORK" -c nginx-cache.conf
    scenarios "nginx proxy_cache" 18082
    stop_last
fi

if want varnish; then
taskset -c 0 varnishd -F -j none -n "$WORK/varnish" -a 127.0.0.1:18083 -f "$WORK/varnish.vcl" \
    -s malloc,256m -p thread_pool_min=10 >"$WORK/varnish.log" 2>&1 &
PIDS+=("$!")
wait_port 18083
scenarios "varnish" 18083
stop_last
fi

if want ats; then
    start_ats bench/edge/ats-records.config 512M
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
