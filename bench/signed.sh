#!/usr/bin/env bash
# Signed URLs at the edge: 1 KiB hits with a canned-policy signed URL and a custom-policy
# signed URL beside unsigned 1 KiB hits, in the same run (a repeated signed URL is verified
# once, then remembered), and the cost of one cold verification per key type and hash.
#
#   bash bench/signed.sh                 # 10 s per measurement
#   DURATION=5s CONNECTIONS=32 bash bench/signed.sh
#
# On a 2-core machine cachalot is pinned to core 0 and wrk to core 1. Needs wrk and openssl
# (apt-get install wrk openssl). Prints requests/s, latency and the signed/unsigned ratio;
# never fails on the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WORK=${WORK:-$ROOT/target/bench-signed}
HOST=d0bench0signd1.cloudfront.net
PORT=18090

for tool in wrk openssl taskset python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk openssl" >&2; exit 1; }
done
cargo build --release -q -p cachalot
cargo build --release -q -p cachalot-policy --example verify-bench
BIN=${CARGO_TARGET_DIR:-target}/release/cachalot

rm -rf "$WORK" && mkdir -p "$WORK/site/private"
head -c 1024 /dev/urandom >"$WORK/site/1k.bin"
cp "$WORK/site/1k.bin" "$WORK/site/private/1k.bin"
openssl genrsa -out "$WORK/key.pem" 2048 2>/dev/null
openssl rsa -in "$WORK/key.pem" -pubout -out "$WORK/key.pub" 2>/dev/null

# The config: one distribution; /private/* trusts a key group holding the key.
python3 - "$WORK" "$HOST" "$PORT" <<'PY'
import json, sys
work, host, port = sys.argv[1], sys.argv[2], sys.argv[3]
pem = open(f"{work}/key.pub").read()
behavior = {"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}
config = {
    "Pops": [{"Id": "BNCH50-C1", "Listen": f"127.0.0.1:{port}", "Region": "us-east-1"}],
    "Buckets": {"site": "site"},
    "PublicKeys": [{"Id": "KBENCHKEY00001", "PublicKeyConfig": {"CallerReference": "bench", "Name": "bench", "EncodedKey": pem}}],
    "KeyGroups": [{"Id": "00000000-0000-4000-8000-000000000001", "KeyGroupConfig": {"Name": "bench", "Items": ["KBENCHKEY00001"]}}],
    "Distributions": [{"Id": "EBENCHSIGNED01", "DomainName": host, "DistributionConfig": {
        "CallerReference": "bench", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "site.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": behavior,
        "CacheBehaviors": {"Quantity": 1, "Items": [dict(behavior, PathPattern="/private/*", TrustedKeyGroups={
            "Enabled": True, "Quantity": 1, "Items": ["00000000-0000-4000-8000-000000000001"]})]}}}],
}
json.dump(config, open(f"{work}/cachalot.json", "w"))
PY

# Signed URLs made with openssl (CloudFront's canned and custom policies, URL-safe base64).
sign() { # message → URL-safe base64 RSA-SHA1 signature
    printf '%s' "$1" | openssl dgst -sha1 -sign "$WORK/key.pem" | openssl base64 -A | tr '+=/' '-_~'
}
EXPIRES=$(( $(date +%s) + 86400 ))
URL="http://$HOST/private/1k.bin"
CANNED="{\"Statement\":[{\"Resource\":\"$URL\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":$EXPIRES}}}]}"
CANNED_PATH="/private/1k.bin?Expires=$EXPIRES&Signature=$(sign "$CANNED")&Key-Pair-Id=KBENCHKEY00001"
CUSTOM="{\"Statement\":[{\"Resource\":\"http*://$HOST/private/*\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":$EXPIRES},\"IpAddress\":{\"AWS:SourceIp\":\"127.0.0.0/8\"}}}]}"
POLICY=$(printf '%s' "$CUSTOM" | openssl base64 -A | tr '+=/' '-_~')
CUSTOM_PATH="/private/1k.bin?Policy=$POLICY&Signature=$(sign "$CUSTOM")&Key-Pair-Id=KBENCHKEY00001"

PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
(cd "$WORK" && exec taskset -c 0 "$ROOT/$BIN" serve --config cachalot.json --state state --admin 127.0.0.1:18091 --log warn) &
PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

echo "== machine: $(nproc) cores; cachalot on core 0, wrk on core 1; $CONNECTIONS connections, $DURATION each"
declare -A RPS
run() { # label path
    curl -sf -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PORT$2" || { echo "$1: not served" >&2; exit 1; }
    curl -sf -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PORT$2"
    local out
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "http://127.0.0.1:$PORT$2")
    RPS[$1]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    printf '%-26s %12s req/s   p50 %8s   p99 %8s\n' "$1" "${RPS[$1]}" \
        "$(echo "$out" | awk '$1 == "50%" {print $2}')" "$(echo "$out" | awk '$1 == "99%" {print $2}')"
}
run "unsigned 1k hit" /1k.bin
run "canned signed 1k hit" "$CANNED_PATH"
run "custom signed 1k hit" "$CUSTOM_PATH"
for k in "canned signed 1k hit" "custom signed 1k hit"; do
    awk -v s="${RPS[$k]}" -v u="${RPS[unsigned 1k hit]}" -v k="$k" \
        'BEGIN { printf "%-26s %+.1f %% throughput against unsigned hits\n", k, (s / u - 1) * 100 }'
done
echo
echo "== one cold verification (no remembered signature), single thread"
taskset -c 0 "${CARGO_TARGET_DIR:-target}/release/examples/verify-bench" 5000
