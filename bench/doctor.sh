#!/usr/bin/env bash
# `cachalot analyze` and `cachalot replay` throughput beside GoAccess and a plain awk pass,
# on the same generated 1,000,000-line CloudFront log.
#
#   bash bench/doctor.sh
#   LINES=200000 RUNS=1 bash bench/doctor.sh
#
# Prints seconds and lines/s (best of RUNS) for:
#   awk        counting x-edge-result-type (a floor: no analysis at all)
#   goaccess   --log-format=CLOUDFRONT, JSON report
#   analyze    the full analysis (hit ratios, worst URIs, miss classes, causes), all cores and 1 thread
#   replay     re-keying every request under a candidate config and simulating every POP, regional
#              and shield cache, all cores and 1 thread
# A benchmark prints numbers; it never fails on them. Needs goaccess (apt-get install goaccess).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
WORK=${WORK:-target/bench-doctor}
mkdir -p "$WORK"

cargo build --release -q -p cachalot -p cachalot-telemetry --bin cachalot --examples
BIN=${CARGO_TARGET_DIR:-target}/release

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== generating $LINES lines (one distribution, 6 POPs, 5000 paths, seed 1)"
"$BIN/examples/gen-logs" --lines "$LINES" --seed 1 --distributions 1 --output "$WORK/cf.log"
ls -l "$WORK/cf.log" | awk '{print "   " $5 " bytes"}'

# A candidate config for replay: the generated distribution (reached through its alias) with
# the query strings and cookies the log varies kept out of the key, and a one-day TTL.
cat >"$WORK/candidate.json" <<'EOF'
{
  "CachePolicies": [{"Id": "00000000-0000-0000-0000-00000000be0c", "CachePolicyConfig": {
    "Name": "bench-candidate", "DefaultTTL": 86400, "MaxTTL": 31536000, "MinTTL": 0,
    "ParametersInCacheKeyAndForwardedToOrigin": {"EnableAcceptEncodingGzip": true, "EnableAcceptEncodingBrotli": true,
      "HeadersConfig": {"HeaderBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"},
      "CookiesConfig": {"CookieBehavior": "none"}}}}],
  "Distributions": [{"Id": "E0BENCH0DOCTOR", "DomainName": "d0bench0doctor.cloudfront.net", "DistributionConfig": {
    "CallerReference": "bench", "Comment": "", "Enabled": true,
    "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
    "ViewerCertificate": {"ACMCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0be0c0be-0c0b-e0c0-be0c-0be0c0be0c0b",
      "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"},
    "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.example.com",
      "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
      "CachePolicyId": "00000000-0000-0000-0000-00000000be0c"}}}]
}
EOF

best() { # label command...: best wall-clock seconds of RUNS runs, output discarded
    best_of 28 lines/s "$@"
}

echo
best "awk (count result types)" awk -F'\t' '!/^#/ { c[$14]++ } END { for (k in c) print k, c[k] }' "$WORK/cf.log"
if command -v goaccess >/dev/null; then
    best "goaccess CLOUDFRONT" goaccess "$WORK/cf.log" --log-format=CLOUDFRONT --no-global-config -o "$WORK/goaccess.json"
else
    echo "goaccess not installed: skipped"
fi
best "cachalot analyze" "$BIN/cachalot" analyze "$WORK/cf.log" --format json
best "cachalot analyze (1 thread)" "$BIN/cachalot" analyze "$WORK/cf.log" --format json --threads 1
best "cachalot replay" "$BIN/cachalot" replay "$WORK/cf.log" --config "$WORK/candidate.json" --format json
best "cachalot replay (1 thread)" "$BIN/cachalot" replay "$WORK/cf.log" --config "$WORK/candidate.json" --format json --threads 1
echo
echo "== replay's prediction on this log (candidate: query strings and cookies out of the key, 1-day TTL)"
"$BIN/cachalot" replay "$WORK/cf.log" --config "$WORK/candidate.json" | head -20
