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
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WORK=${WORK:-$ROOT/target/bench-signed}
HOST=d0bench0signd1.cloudfront.net
PORT=18090

need_tools "wrk openssl" wrk openssl taskset python3
cargo build --release -q -p cachalot
cargo build --release -q -p cachalot-policy --example verify-bench
BIN=$(release_bin cachalot)

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

trap stop_all EXIT
start_pinned 0 "$PORT" "$BIN" serve --config cachalot.json --state state --admin 127.0.0.1:18091 --log warn

echo "== machine: $(nproc) cores; cachalot on core 0, wrk on core 1; $CONNECTIONS connections, $DURATION each"
declare -A RPS
run() { # label path
    get "$PORT" "$2" || { echo "$1: not served" >&2; exit 1; }
    get "$PORT" "$2"
    pinned_wrk -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT$2"
    RPS[$1]=$WRK_RPS
    printf '%-26s %12s req/s   p50 %8s   p99 %8s\n' "$1" "${RPS[$1]}" "$WRK_P50" "$WRK_P99"
}
run "unsigned 1k hit" /1k.bin
# The same URLs on a behavior that trusts no key (the query is not in the cache key): what a
# URL this long costs without any signature checking, to tell the two costs apart.
run "unsigned, canned URL" "/1k.bin?${CANNED_PATH#*\?}"
run "unsigned, custom URL" "/1k.bin?${CUSTOM_PATH#*\?}"
run "canned signed 1k hit" "$CANNED_PATH"
run "custom signed 1k hit" "$CUSTOM_PATH"
for k in "canned signed 1k hit" "custom signed 1k hit"; do
    awk -v s="${RPS[$k]}" -v u="${RPS[unsigned 1k hit]}" -v k="$k" \
        'BEGIN { printf "%-26s %+.1f %% throughput against unsigned hits\n", k, (s / u - 1) * 100 }'
done
awk -v s="${RPS[canned signed 1k hit]}" -v u="${RPS[unsigned, canned URL]}" \
    'BEGIN { printf "%-26s %+.1f %% throughput against the same URL unsigned\n", "canned signed 1k hit", (s / u - 1) * 100 }'
awk -v s="${RPS[custom signed 1k hit]}" -v u="${RPS[unsigned, custom URL]}" \
    'BEGIN { printf "%-26s %+.1f %% throughput against the same URL unsigned\n", "custom signed 1k hit", (s / u - 1) * 100 }'
echo
echo "== one cold verification (no remembered signature), single thread"
taskset -c 0 "$(release_bin examples/verify-bench)" 5000
