# What the benchmarks in bench/ share; each sources it at its top (`source "$(dirname "$0")/lib.sh"`),
# it is never run on its own. It owns: strict mode and the repository root as the working folder
# ($ROOT), the tools check, a release binary's path, the processes a benchmark starts (pinned to a
# core, remembered in PIDS, stopped by stop_all at exit), waiting for a port, GETs and wrk runs with
# the benchmark's $HOST, and best-of-$RUNS timing.
#
# The servers under test get core 0, wrk (and the origin) core 1: on a 2-core machine every
# server gets one core of its own.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Used by the scripts that source this file.
# shellcheck disable=SC2034
ROOT=$PWD

# Exits naming the first missing tool and the packages that provide them all.
need_tools() { # packages tool...
    local packages=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y $packages" >&2; exit 1; }
    done
}

# The absolute path of a release build's file (CARGO_TARGET_DIR relative to the root, or absolute),
# so that it still names the file from $WORK.
release_bin() { # name under release/
    echo "$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/$1"
}

# The processes a benchmark started; `trap stop_all EXIT` stops whatever is left.
PIDS=()
stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
# Stops the process started last and forgets it.
stop_last() {
    local last=${PIDS[-1]}
    kill "$last" 2>/dev/null || true
    wait "$last" 2>/dev/null || true
    unset 'PIDS[-1]'
}

# How many tenths of a second wait_port waits before it gives up.
WAIT_TRIES=100
wait_port() { # port
    for _ in $(seq "$WAIT_TRIES"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

# Runs a command from $WORK on one core, remembered in PIDS, and waits until something listens on PORT.
start_pinned() { # core port command...
    local core=$1 port=$2
    shift 2
    (cd "$WORK" && exec taskset -c "$core" "$@") &
    PIDS+=("$!")
    wait_port "$port"
}

# The nginx origin ($WORK/nginx-origin.conf, port 18081) on core 1.
start_origin() {
    start_pinned 1 18081 nginx -p "$WORK" -c nginx-origin.conf
}

# Apache Traffic Server on core 0, from its own run root: config, cache and logs under $WORK/ats.
# It listens on 18084 (as RECORDS says), maps $HOST to the origin and caches SIZE on disk.
start_ats() { # records.config size
    local ats=$WORK/ats
    mkdir -p "$ats/etc" "$ats/cache" "$ats/var" "$ats/run" "$ats/log"
    cp -r /etc/trafficserver/. "$ats/etc/"
    printf '%s\n' "prefix: /usr" "exec_prefix: /usr" "bindir: /usr/bin" "sbindir: /usr/sbin" \
        "sysconfdir: $ats/etc" "datadir: $ats/cache" "includedir: /usr/include" "libdir: /usr/lib/trafficserver" \
        "libexecdir: /usr/lib/trafficserver/modules" "localstatedir: $ats/var" "runtimedir: $ats/run" \
        "logdir: $ats/log" "cachedir: $ats/cache" >"$ats/runroot.yaml"
    cp "$1" "$ats/etc/records.config"
    echo "map http://$HOST/ http://127.0.0.1:18081/" >"$ats/etc/remap.config"
    echo "$ats/cache $2" >"$ats/etc/storage.config"
    (cd "$ats" && exec taskset -c 0 traffic_server --run-root="$ats/runroot.yaml") >"$ats/out.log" 2>&1 &
    PIDS+=("$!")
    wait_port 18084
}

# GETs PATH from 127.0.0.1:PORT with Host: $HOST, the body discarded; fails unless the answer is 2xx.
# Further arguments go to curl (e.g. -H "Accept-Encoding: gzip").
get() { # port path [curl argument...]
    local port=$1 path=$2
    shift 2
    curl -sf -o /dev/null -H "Host: $HOST" "$@" "http://127.0.0.1:$port$path"
}

# Runs wrk with one thread on core 1 with Host: $HOST and the given arguments, and reads its report
# into WRK_RPS (requests/s), WRK_P50 and WRK_P99 (with --latency), WRK_TRANSFER (per second) and
# WRK_NON2XX (" (N non-2xx)", or empty). Fails when wrk does.
# The WRK_ variables are read by the scripts that source this file.
# shellcheck disable=SC2034
pinned_wrk() { # wrk argument...
    local out
    out=$(taskset -c 1 wrk -t1 -H "Host: $HOST" "$@") || return
    WRK_RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    WRK_P50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    WRK_P99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    WRK_TRANSFER=$(echo "$out" | awk '/Transfer\/sec/ {print $2}')
    WRK_NON2XX=$(echo "$out" | awk '/Non-2xx/ {print " (" $5 " non-2xx)"}')
}

# Runs a command RUNS times (output discarded, stderr kept in $WORK/stderr.txt) and prints the label
# padded to WIDTH, the best wall-clock seconds and LINES per second as UNIT. A failing command
# prints its stderr instead; the benchmark goes on.
best_of() { # width unit label command...
    local width=$1 unit=$2 label=$3 best="" s e t
    shift 3
    for _ in $(seq "$RUNS"); do
        s=$(date +%s.%N)
        "$@" >/dev/null 2>"$WORK/stderr.txt" || { echo "$label failed:"; cat "$WORK/stderr.txt"; return 0; }
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    printf '%-*s %8.3f s %12.0f %s\n' "$width" "$label" "$best" "$(echo "$LINES / $best" | bc -l)" "$unit"
}
