#!/usr/bin/env bash
# Memory of the edge: resident memory per cached object beside the cache's own byte
# accounting, per idle keep-alive connection, and hit throughput with many keys cached.
#
#   bash bench/memory.sh
#   SMALL=50000 LARGE=20000 KEYS=200000 bash bench/memory.sh   # a quicker run
#   PARTS="small idle" bash bench/memory.sh                     # a subset
#
# Parts (each with a fresh `cachalot serve`, in front of an nginx origin):
#   small   SMALL distinct 1 KiB objects (default 202,447) into a 4 GiB cache: RSS growth per
#           object, the bytes the cache charges for them, and the difference
#   large   LARGE distinct 100 KiB objects (default 60,000) into a 64 MiB cache: RSS against
#           the cache's size once it is full and evicting
#   idle    IDLE keep-alive connections (default 10,000), each after one request, then idle:
#           RSS growth per connection
#   keys    1 KiB hits (wrk, DURATION) spread over 1,000 keys, then over KEYS keys (default
#           1,000,000) once they are all cached: requests/s of both and the ratio
#
# The server is pinned to core 0, the clients and the origin to core 1 (taskset). Object
# sizes are what the origin sends; the cache's accounting is `cachalot_cache_bytes` from
# /metrics. Prints numbers; never fails on them. Needs wrk, nginx and python3.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
SMALL=${SMALL:-202447}
LARGE=${LARGE:-60000}
IDLE=${IDLE:-10000}
KEYS=${KEYS:-1000000}
DURATION=${DURATION:-10s}
PARTS=${PARTS:-small large idle keys}
WORK=${WORK:-$ROOT/target/bench-memory}
HOST=d0bench0edge01.cloudfront.net
want() { [[ " $PARTS " == *" $1 "* ]]; }

need_tools "wrk nginx python3 curl" wrk nginx python3 taskset curl
cargo build --release -q -p cachalot
BIN=$(release_bin cachalot)

rm -rf "$WORK" && mkdir -p "$WORK/site"
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
head -c 102400 /dev/urandom >"$WORK/site/100k.bin"
cp bench/edge/nginx-origin.conf "$WORK/"
# Requests keys n=first..first+count-1 of `path` over 32 keep-alive connections, each key
# once; prints how many answered 200.
cat >"$WORK/fill.py" <<'EOF'
import asyncio, sys
count, path, host, first = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = iter(range(first, first + count))
async def client(ok):
    reader, writer = await asyncio.open_connection("127.0.0.1", 18080)
    for n in keys:
        writer.write(f"GET {path}?n={n} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        ok[0] += head.startswith(b"HTTP/1.1 200")
    writer.close()
async def main():
    ok = [0]
    await asyncio.gather(*(client(ok) for _ in range(32)))
    print(ok[0])
asyncio.run(main())
EOF
# Hits spread uniformly over keys 1..args[1] (all cached beforehand).
cat >"$WORK/spread.lua" <<'EOF'
local keys = 1000
init = function(args) keys = tonumber(args[1]); math.randomseed(1) end
request = function()
    return wrk.format(nil, "/1k.bin?n=" .. math.random(keys))
end
EOF

# A config like bench/edge/cachalot.json with the POP's CacheSize set.
config() { # cache_size file
    python3 - "$1" "$2" <<'EOF'
import json, sys
c = json.load(open("bench/edge/cachalot.json"))
c["Pops"][0]["CacheSize"] = sys.argv[1]
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
}

trap stop_all EXIT
start_origin

CACHALOT=
start_cachalot() { # cache_size
    config "$1" "$WORK/cachalot.json"
    rm -rf "$WORK/state"
    (cd "$WORK" && ulimit -n "$(ulimit -Hn)" && exec taskset -c 0 "$BIN" serve --config cachalot.json --state state --log warn) &
    CACHALOT=$!
    PIDS+=("$CACHALOT")
    wait_port 18080
    # One request of each kind, so that lazily built state is not counted per object.
    get 18080 "/1k.bin?warm"
    get 18080 "/100k.bin?warm"
    sleep 0.5
}
# Cachalot is the process started last: stop_last stops it.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$CACHALOT/status"; }
# Bytes the cache charges for what it holds, summed over tiers (memory store).
cache_bytes() {
    curl -sf http://127.0.0.1:19400/metrics |
        awk '/^cachalot_cache_bytes\{/ && /store="memory"/ {s += $NF; f = 1} END {if (f) printf "%d", s; else print "n/a"}'
}
fill() { # count path [first] -> prints how many were answered 200
    taskset -c 1 python3 "$WORK/fill.py" "$1" "$2" "$HOST" "${3:-1}"
}
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "n/a") printf "%.0f", a / b; else print "n/a" }'; }
# A fresh Cachalot with a cache of SIZE, filled with COUNT distinct objects of PATH: sets before
# and after (RSS in KiB), n (objects answered 200) and charged (the cache's accounting).
fill_measured() { # size count path
    start_cachalot "$1"
    before=$(rss_kb)
    n=$(fill "$2" "$3")
    sleep 1
    after=$(rss_kb)
    charged=$(cache_bytes)
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server on core 0, clients and origin on core 1"

if want small; then
    fill_measured 4GiB "$SMALL" /1k.bin
    grown=$(( (after - before) * 1024 ))
    echo "small: $n distinct 1 KiB objects in a 4 GiB cache"
    echo "   RSS $((before / 1024)) MB -> $((after / 1024)) MB: $(per "$grown" "$n") bytes per object (body 1024)"
    echo "   cache accounting: $charged bytes, $(per "$charged" "$n") per object"
    if [ "$charged" != n/a ]; then
        echo "   held beyond the accounting: $(per $((grown - charged)) "$n") bytes per object"
    fi
    stop_last
fi

if want large; then
    fill_measured 64MiB "$LARGE" /100k.bin
    echo "large: $n distinct 100 KiB objects into a 64 MiB cache"
    echo "   RSS $((before / 1024)) MB -> $((after / 1024)) MB ($(awk -v a="$after" 'BEGIN {printf "%.2f", a / 65536}')x the cache size)"
    echo "   cache accounting: $charged bytes; RSS grew $(( (after - before) / 1024 )) MB, $(awk -v g="$(( (after - before) * 1024 ))" -v c="$charged" 'BEGIN { if (c > 0) printf "%.2f", g / c; else print "n/a" }')x the accounting"
    stop_last
fi

if want idle; then
    start_cachalot 64MiB
    before=$(rss_kb)
    # Opens the connections (one request each, keep-alive), reports, then holds them while RSS is read.
    python3 - "$IDLE" "$HOST" >"$WORK/idle.out" 2>&1 <<'EOF' &
import asyncio, resource, sys
count, host = int(sys.argv[1]), sys.argv[2]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
request = f"GET /1k.bin?warm HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
async def one(held):
    reader, writer = await asyncio.open_connection("127.0.0.1", 18080)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    held.append(writer)
async def main():
    held, sem = [], asyncio.Semaphore(200)
    async def guarded():
        async with sem:
            await one(held)
    await asyncio.gather(*(guarded() for _ in range(count)))
    print(f"open {len(held)}", flush=True)
    await asyncio.sleep(30)
asyncio.run(main())
EOF
    client=$!
    for _ in $(seq 300); do grep -q '^open' "$WORK/idle.out" 2>/dev/null && break; sleep 0.2; done
    sleep 2
    after=$(rss_kb)
    open=$(awk '/^open/ {print $2}' "$WORK/idle.out")
    echo "idle: ${open:-0} keep-alive connections open (each after one request)"
    echo "   RSS $((before / 1024)) MB -> $((after / 1024)) MB: $(per $(( (after - before) * 1024 )) "${open:-0}") bytes per connection"
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    stop_last
fi

if want keys; then
    start_cachalot 4GiB
    run_spread() { # keys
        pinned_wrk -c64 -d"$DURATION" -s "$WORK/spread.lua" "http://127.0.0.1:18080/1k.bin" -- "$1" && echo "$WRK_RPS"
    }
    fill 1000 /1k.bin >/dev/null
    few=$(run_spread 1000)
    n=$(( 1000 + $(fill $((KEYS - 1000)) /1k.bin 1001) ))
    many=$(run_spread "$KEYS")
    echo "keys: 1 KiB hits over 1,000 keys: $few req/s; over $n keys: $many req/s ($(awk -v a="$many" -v b="$few" 'BEGIN {printf "%.2f", a / b}')x)"
    echo "   RSS with $n keys: $(( $(rss_kb) / 1024 )) MB"
    stop_last
fi
