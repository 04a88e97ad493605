#!/usr/bin/env bash
# The disk tier: hits from disk beside nginx proxy_cache and Traffic Server with a disk cache,
# hits with a disk tier behind memory against memory only, a restart with 100,000 cached objects,
# and resident memory with 20 GiB on disk.
#
#   bash bench/disk.sh                       # everything
#   PARTS="hits memory" bash bench/disk.sh   # a subset: hits memory restart rss
#   DURATION=5s OBJECTS=20000 DISK_GIB=4 bash bench/disk.sh
#   BEFORE_BIN=/tmp/cachalot-before PARTS=hits bash bench/disk.sh   # another build beside this one
#   CACHALOT_BIN=/path/to/cachalot bash bench/disk.sh                # a build of your own, no cargo
#   ORIGIN_PORT=18091 bash bench/disk.sh                             # when 18081 is taken
#
# Parts:
#   hits     1 MiB and 100 MiB objects hit from disk: Cachalot (1 MiB of memory, so nothing that
#            size is kept in memory; 4 GiB of disk), nginx proxy_cache (its standard disk setup)
#            and Traffic Server (4 GiB disk cache, RAM cache off); wrk -t1 after two warm-up requests
#   memory   1 KiB and 100 KiB hits, Cachalot with 256 MiB of memory, alone and with a disk tier
#   restart  OBJECTS (100,000) distinct 1 KiB objects cached, kill -9, start again: time until the
#            first hit, until the index is rebuilt (cachalot_cache_disk_loading 0), and a pass over
#            every object (all must be hits)
#   rss      DISK_GIB (20) GiB of 1 MiB objects on disk behind 256 MiB of memory: resident memory
#            after filling and after a restart (needs that much free disk; checked first). The disk
#            store admits an object only when the writer keeps up and admission lets it in, so one
#            pass of misses does not write them all: passes are repeated (up to FILL_PASSES, 6)
#            until the disk holds them all or a pass adds nothing.
#
# As bench/edge.sh: on a 2-core machine the server under test gets core 0, wrk (and the origin)
# core 1. Prints numbers; never fails on them. Needs wrk, nginx, trafficserver, curl, python3
# (apt-get install -y wrk nginx trafficserver curl python3).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
OBJECTS=${OBJECTS:-100000}
DISK_GIB=${DISK_GIB:-20}
PARTS=${PARTS:-hits memory restart rss}
FILL_PASSES=${FILL_PASSES:-6}
ORIGIN_PORT=${ORIGIN_PORT:-18081}
WORK=${WORK:-$ROOT/target/bench-disk}
HOST=d0bench0disk01.cloudfront.net
want() { [[ " $PARTS " == *" $1 "* ]]; }

need_tools "wrk nginx trafficserver curl python3" wrk nginx traffic_server taskset curl python3
if [ -n "${CACHALOT_BIN:-}" ]; then
    BIN=$(realpath -m -- "$CACHALOT_BIN")
else
    cargo build --release -q -p cachalot
    BIN=$(release_bin cachalot)
fi
BEFORE_BIN=${BEFORE_BIN:+$(realpath -m -- "$BEFORE_BIN")}

rm -rf "$WORK" && mkdir -p "$WORK/site"
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
head -c 102400 /dev/urandom >"$WORK/site/100k.bin"
head -c 1048576 /dev/urandom >"$WORK/site/1m.bin"
head -c 104857600 /dev/urandom >"$WORK/site/100m.bin"
cp bench/disk/* "$WORK/"
if [ "$ORIGIN_PORT" != 18081 ]; then
    # Every config names the origin's port; Traffic Server reads its map from a file of ours
    # (start_ats writes remap.config for 18081).
    sed -i "s/127\.0\.0\.1:18081/127.0.0.1:$ORIGIN_PORT/; s/\"HTTPPort\": 18081/\"HTTPPort\": $ORIGIN_PORT/" \
        "$WORK"/nginx-*.conf "$WORK"/cachalot-*.json
    mkdir -p "$WORK/ats/etc"
    echo "map http://$HOST/ http://127.0.0.1:$ORIGIN_PORT/" >"$WORK/ats/etc/remap-disk.config"
    echo "CONFIG proxy.config.url_remap.filename STRING remap-disk.config" >>"$WORK/ats-records.config"
fi

trap stop_all EXIT
# The servers here start with gigabytes of cache on disk: wait up to 30 s for a port.
WAIT_TRIES=300
now() { date +%s.%N; }
metric() { # name{labels}
    curl -sf "http://127.0.0.1:19400/metrics" | awk -v m="$1" 'index($0, m " ") == 1 { print $2 }'
}
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

start_pinned 1 "$ORIGIN_PORT" nginx -p "$WORK" -c nginx-origin.conf

run_wrk() { # name port path
    local name=$1 port=$2 path=$3
    get "$port" "$path"
    sleep 1 # disk writes behind the first request
    get "$port" "$path"
    pinned_wrk -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port$path"
    printf '%-28s %-10s %12s req/s %12s/s   p99 %8s\n' "$name" "${path#/}" "$WRK_RPS" "$WRK_TRANSFER" "$WRK_P99"
}

start_cachalot() { # config state [binary]
    start_pinned 0 18080 "${3:-$BIN}" serve --config "$1" --state "$2" --log warn
}

echo "== machine: $(nproc) cores; server on core 0, wrk and origin on core 1; $CONNECTIONS connections, $DURATION each"

if want hits; then
    echo "== hits from disk"
    for build in ${BEFORE_BIN:+before} this; do
        bin=$BIN label="cachalot (disk tier)"
        [ "$build" = before ] && bin=$BEFORE_BIN label="cachalot@before (disk tier)"
        start_cachalot cachalot-disk.json "state-disk-$build" "$bin"
        run_wrk "$label" 18080 /1m.bin
        run_wrk "$label" 18080 /100m.bin
        echo "   memory hits $(metric 'cachalot_cache_hits_total{tier="BENCH50-C1",store="memory"}'), disk hits $(metric 'cachalot_cache_hits_total{tier="BENCH50-C1",store="disk"}')"
        stop_last
    done
    start_pinned 0 18082 nginx -p "$WORK" -c nginx-cache.conf
    run_wrk "nginx proxy_cache" 18082 /1m.bin
    run_wrk "nginx proxy_cache" 18082 /100m.bin
    stop_last
    start_ats "$WORK/ats-records.config" 4G
    run_wrk "traffic server (disk)" 18084 /1m.bin
    run_wrk "traffic server (disk)" 18084 /100m.bin
    stop_last
fi

if want memory; then
    echo "== small hits: memory only against memory with a disk tier behind it"
    for config in cachalot-memory.json cachalot-memory-disk.json; do
        start_cachalot "$config" "state-${config%.json}"
        run_wrk "cachalot ${config#cachalot-}" 18080 /1k.bin
        run_wrk "cachalot ${config#cachalot-}" 18080 /100k.bin
        stop_last
    done
fi

# Requests /gen/<i> (or /big/<i>) for i in 0..n with 8 keep-alive connections; prints how many
# answered with each x-cache value.
fill() { # prefix n
    python3 - "$1" "$2" "$HOST" <<'PY'
import http.client, sys, threading, collections
prefix, n, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen = collections.Counter()
lock = threading.Lock()
def worker(k):
    c = http.client.HTTPConnection("127.0.0.1", 18080, timeout=60)
    for i in range(k, n, 8):
        c.request("GET", f"{prefix}{i}", headers={"Host": host})
        r = c.getresponse()
        r.read()
        with lock:
            seen[r.getheader("x-cache")] += 1
threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(dict(seen))
PY
}
wait_written() { # n
    for _ in $(seq 6000); do
        local w
        w=$(metric 'cachalot_cache_disk_writes_total{tier="BENCH50-C1"}')
        [ "${w:-0}" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "only $(metric 'cachalot_cache_disk_writes_total{tier="BENCH50-C1"}') of $1 objects written" >&2
}
# Waits until the disk writes stop growing for a second (the writer's queue drained), at most 10 min.
settle() {
    local last=-1 w
    for _ in $(seq 600); do
        w=$(metric 'cachalot_cache_disk_writes_total{tier="BENCH50-C1"}')
        [ "${w:-0}" = "$last" ] && return 0
        last=${w:-0}
        sleep 1
    done
}
disk_objects() { metric 'cachalot_cache_objects{tier="BENCH50-C1",store="disk"}'; }
# Passes of fill until the disk holds n objects, a pass adds none, or FILL_PASSES were made.
fill_disk() { # prefix n
    local pass have=0 before t
    for pass in $(seq "$FILL_PASSES"); do
        before=$have
        t=$(now)
        echo "   fill, pass $pass: $(fill "$1" "$2") in $(awk "BEGIN { printf \"%.1f\", $(now) - $t }") s"
        settle
        have=$(disk_objects)
        echo "      $have objects on disk, $(metric 'cachalot_cache_disk_admission_rejections_total{tier="BENCH50-C1"}') refused so far"
        if [ "${have:-0}" -ge "$2" ] || [ "${have:-0}" -le "$before" ]; then break; fi
    done
}

if want restart; then
    echo "== restart with $OBJECTS cached objects"
    start_cachalot cachalot-restart.json state-restart
    t=$(now)
    echo "   fill: $(fill /gen/ "$OBJECTS") in $(awk "BEGIN { printf \"%.2f\", $(now) - $t }") s"
    wait_written "$OBJECTS"
    kill -9 "${PIDS[-1]}"
    wait "${PIDS[-1]}" 2>/dev/null || true
    unset 'PIDS[-1]'
    t0=$(now)
    start_cachalot cachalot-restart.json state-restart
    until curl -sf -D - -o /dev/null -H "Host: $HOST" http://127.0.0.1:18080/gen/1 | grep -qi '^x-cache: Hit'; do sleep 0.01; done
    t1=$(now)
    until [ "$(metric 'cachalot_cache_disk_loading{tier="BENCH50-C1"}')" = "0" ]; do sleep 0.05; done
    t2=$(now)
    pass=$(fill /gen/ "$OBJECTS")
    t3=$(now)
    echo "   kill -9, start: first hit after $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s; index of $(metric 'cachalot_cache_objects{tier="BENCH50-C1",store="disk"}') objects rebuilt after $(awk "BEGIN { printf \"%.2f\", $t2 - $t0 }") s"
    echo "   a pass over every object: $pass in $(awk "BEGIN { printf \"%.2f\", $t3 - $t2 }") s (every object a hit after $(awk "BEGIN { printf \"%.2f\", $t3 - $t0 }") s)"
    stop_last
fi

if want rss; then
    echo "== resident memory with $DISK_GIB GiB on disk, 256 MiB of memory"
    need=$(( (DISK_GIB + 1) * 1024 * 1024 ))
    free=$(df -k --output=avail "$WORK" | tail -1)
    if [ "$free" -lt "$need" ]; then
        echo "   SKIPPED: $((free / 1024 / 1024)) GiB free under $WORK, $((DISK_GIB + 1)) GiB needed"
    else
        start_cachalot cachalot-20g.json state-20g
        pid=${PIDS[-1]}
        echo "   at start: $(rss_mib "$pid") MiB"
        n=$((DISK_GIB * 1024))
        fill_disk /big/ "$n"
        echo "   after filling ($(metric 'cachalot_cache_objects{tier="BENCH50-C1",store="disk"}') objects, $(( $(metric 'cachalot_cache_bytes{tier="BENCH50-C1",store="disk"}') / 1073741824 )) GiB on disk): $(rss_mib "$pid") MiB"
        stop_last
        t0=$(now)
        start_cachalot cachalot-20g.json state-20g
        pid=${PIDS[-1]}
        until [ "$(metric 'cachalot_cache_disk_loading{tier="BENCH50-C1"}')" = "0" ]; do sleep 0.1; done
        t1=$(now)
        echo "   after a restart, index of $(disk_objects) objects rebuilt in $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s: $(rss_mib "$pid") MiB"
        echo "   a pass: $(fill /big/ "$n") in $(awk "BEGIN { printf \"%.1f\", $(now) - $t1 }") s; $(rss_mib "$pid") MiB after it"
        stop_last
    fi
fi
