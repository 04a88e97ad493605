#!/usr/bin/env bash
# The fleet (interface §7) measured on this machine: propagation of a write, invalidation
# across 10 nodes, a POP hit through its regional cache's own node beside a local hit and an
# origin fetch, and the 1 KiB hit of one node alone beside the same node in a 10-node fleet.
#
#   bash bench/fleet.sh
#   NODES=5 WRITES=50 INVALIDATIONS=20 DURATION=5s bash bench/fleet.sh
#
# Starts its own PostgreSQL (initdb in a temporary folder, as `nobody` when run as root, a
# free loopback port) and an nginx origin, runs bench/fleet.py with boto3 from the test venv
# (CACHALOT_VENV, default .venv), and prints the numbers; never fails on them. Needs wrk,
# nginx and PostgreSQL (apt-get install wrk nginx postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export WORK=${WORK:-$ROOT/target/bench-fleet}
VENV=${CACHALOT_VENV:-$ROOT/.venv}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_BIN=${PG_BIN:-$(dirname "$(command -v initdb)")}

for tool in wrk nginx taskset "$PG_BIN/initdb" "$VENV/bin/python"; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx postgresql; python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt" >&2; exit 1; }
done
cargo build --release -q -p cachalot
export CACHALOT_BIN=$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/cachalot

PG=$(mktemp -d /tmp/cachalot-bench-pg.XXXXXX)
ORIGIN_DIR=$(mktemp -d /tmp/cachalot-bench-origin.XXXXXX)
PIDS=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$PG" "$ORIGIN_DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port)
[ "$(id -u)" = 0 ] && chown nobody "$PG"
as_pg "$PG_BIN/initdb" -D "$PG/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nmax_connections = 200\n" "$PG_PORT" "$PG" >>"$PG/data/postgresql.conf"
as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w start >/dev/null
export FLEET_STORE="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

ORIGIN_PORT=$(free_port)
mkdir -p "$ORIGIN_DIR/site"
head -c 1024 /dev/urandom >"$ORIGIN_DIR/site/1k.bin"
# nginx's workers run as an unprivileged user.
chmod -R a+rX "$ORIGIN_DIR"
sed "s/127.0.0.1:18081/127.0.0.1:$ORIGIN_PORT/" bench/edge/nginx-origin.conf >"$ORIGIN_DIR/nginx.conf"
(cd "$ORIGIN_DIR" && exec taskset -c 1 nginx -p "$ORIGIN_DIR" -c nginx.conf) &
PIDS+=($!)
export FLEET_ORIGIN="127.0.0.1:$ORIGIN_PORT"

echo "fleet benchmark on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
"$VENV/bin/python" bench/fleet.py
