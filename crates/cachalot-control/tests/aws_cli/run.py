"""The AWS CLI and boto3 against a Cachalot admin listener.

Usage: python run.py ENDPOINT_URL   (with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION set)

Runs the seed documents' commands verbatim (create-cache-policy with the seed's JSON, get-cache-policy with
its --query, create-distribution, create-invalidation, the two waiters) and boto3's paginators. Exits non-zero,
naming the step, on the first failure; prints "N passed, 0 failed" at the end.
"""

import json
import time

import boto3
import botocore.exceptions
from botocore.config import Config

from harness import ENDPOINT, aws, check, finish, step

# --- The seed's commands, verbatim -------------------------------------------------------------
seed_policy = """{
  "Name": "static-assets-cache",
  "DefaultTTL": 86400,
  "MaxTTL": 31536000,
  "MinTTL": 1,
  "ParametersInCacheKeyAndForwardedToOrigin": {
    "EnableAcceptEncodingGzip": true,
    "EnableAcceptEncodingBrotli": true,
    "HeadersConfig": { "HeaderBehavior": "none" },
    "QueryStringsConfig": { "QueryStringBehavior": "none" },
    "CookiesConfig": { "CookieBehavior": "none" }
  }
}"""
created = aws("cloudfront", "create-cache-policy", "--cache-policy-config", seed_policy)
policy_id = created["CachePolicy"]["Id"]
check(created["ETag"] and created["Location"].endswith(policy_id), f"create-cache-policy output: {created}")
check(created["CachePolicy"]["CachePolicyConfig"]["DefaultTTL"] == 86400, "DefaultTTL kept as a number")
step("create-cache-policy (seed JSON)")

params = aws(
    "cloudfront", "get-cache-policy", "--id", policy_id,
    "--query", "CachePolicy.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin",
)
check(params["CookiesConfig"]["CookieBehavior"] == "none", f"cookies: {params}")
check(params["QueryStringsConfig"]["QueryStringBehavior"] == "none", f"query strings: {params}")
check(params["EnableAcceptEncodingBrotli"] is True, f"brotli: {params}")
step("get-cache-policy --query ParametersInCacheKeyAndForwardedToOrigin")

distribution_config = {
    "CallerReference": f"seed-{time.time()}",
    "Comment": "static assets",
    "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{
        "Id": "web", "DomainName": "origin.example.com",
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"},
    }]},
    "DefaultCacheBehavior": {
        "TargetOriginId": "web", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": policy_id,
    },
    "CacheBehaviors": {"Quantity": 1, "Items": [{
        "PathPattern": "/static/*", "TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https",
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        "AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"],
                           "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}},
    }]},
}
dist = aws("cloudfront", "create-distribution", "--distribution-config", json.dumps(distribution_config))
dist_id = dist["Distribution"]["Id"]
check(dist_id.startswith("E") and len(dist_id) == 14, f"distribution id {dist_id}")
check(dist["Distribution"]["DomainName"].endswith(".cloudfront.net"), "domain name")
check(dist["Distribution"]["Status"] == "InProgress", "a new distribution is InProgress")
step("create-distribution")

aws("cloudfront", "wait", "distribution-deployed", "--id", dist_id)
got = aws("cloudfront", "get-distribution", "--id", dist_id)
check(got["Distribution"]["Status"] == "Deployed", "Deployed after the waiter")
step("wait distribution-deployed")

inv = aws("cloudfront", "create-invalidation", "--distribution-id", dist_id, "--paths", "/images/*", "/index.html")
inv_id = inv["Invalidation"]["Id"]
check(inv["Invalidation"]["InvalidationBatch"]["Paths"]["Quantity"] == 2, f"invalidation: {inv}")
step("create-invalidation")

aws("cloudfront", "wait", "invalidation-completed", "--distribution-id", dist_id, "--id", inv_id)
check(aws("cloudfront", "get-invalidation", "--distribution-id", dist_id, "--id", inv_id)["Invalidation"]["Status"]
      == "Completed", "Completed")
step("wait invalidation-completed")

cfg = aws("cloudfront", "get-distribution-config", "--id", dist_id)
cfg["DistributionConfig"]["Comment"] = "updated by the AWS CLI"
cfg["DistributionConfig"]["Enabled"] = False
updated = aws("cloudfront", "update-distribution", "--id", dist_id, "--if-match", cfg["ETag"],
              "--distribution-config", json.dumps(cfg["DistributionConfig"]))
check(updated["Distribution"]["DistributionConfig"]["Comment"] == "updated by the AWS CLI", "update")
step("get-distribution-config / update-distribution round trip")

# --- boto3: paginators, errors, functions ------------------------------------------------------
cf = boto3.client("cloudfront", endpoint_url=ENDPOINT, config=Config(retries={"max_attempts": 1}))
for i in range(5):
    c = dict(distribution_config, CallerReference=f"page-{i}-{time.time()}")
    d = cf.create_distribution(DistributionConfig=c)["Distribution"]
    cf.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": [f"/page-{i}"]}, "CallerReference": f"inv-{i}-{time.time()}"})
ids = [s["Id"] for page in cf.get_paginator("list_distributions").paginate(PaginationConfig={"PageSize": 2})
       for s in page["DistributionList"].get("Items", [])]
check(len(ids) == 6 and len(set(ids)) == 6, f"list_distributions pages: {ids}")
step("boto3 list_distributions paginator")

invs = [s["Id"] for page in cf.get_paginator("list_invalidations").paginate(
    DistributionId=dist_id, PaginationConfig={"PageSize": 2}) for s in page["InvalidationList"].get("Items", [])]
check(len(invs) == 6 and len(set(invs)) == 6, f"list_invalidations pages: {invs}")
step("boto3 list_invalidations paginator")

# botocore has no paginator for ListCachePolicies: follow NextMarker by hand, as its docs say.
pol, marker = [], ""
while True:
    page = cf.list_cache_policies(Marker=marker, MaxItems="3")["CachePolicyList"]
    pol += [s["CachePolicy"]["Id"] for s in page.get("Items", [])]
    marker = page.get("NextMarker")
    if not marker:
        break
check(policy_id in pol and "658327ea-f89d-4fab-a63d-7e88639e58f6" in pol and len(pol) == len(set(pol)),
      f"list_cache_policies pages: {pol}")
custom = cf.list_cache_policies(Type="custom")["CachePolicyList"]
check([s["CachePolicy"]["Id"] for s in custom["Items"]] == [policy_id], "Type=custom")
step("boto3 list_cache_policies paging (Marker/MaxItems) and Type filter")

try:
    cf.get_cache_policy(Id="no-such-policy")
    check(False, "NoSuchCachePolicy expected")
except cf.exceptions.NoSuchCachePolicy as e:
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, "404")
try:
    cf.delete_cache_policy(Id=policy_id, IfMatch=created["ETag"])
    check(False, "CachePolicyInUse expected")
except cf.exceptions.CachePolicyInUse:
    pass
try:
    cf.delete_distribution(Id=ids[-1], IfMatch="stale")
    check(False, "PreconditionFailed expected")
except botocore.exceptions.ClientError as e:
    check(e.response["Error"]["Code"] in ("PreconditionFailed", "DistributionNotDisabled"), str(e))
step("boto3 modelled errors")

code = b"function handler(event) { return event.request; }"
fn = cf.create_function(Name="seed-fn", FunctionConfig={"Comment": "", "Runtime": "cloudfront-js-2.0"},
                        FunctionCode=code)
upd = cf.update_function(Name="seed-fn", IfMatch=fn["ETag"], FunctionCode=code + b"\n",
                         FunctionConfig={"Comment": "v2", "Runtime": "cloudfront-js-2.0"})
check(upd.get("ETag"), "UpdateFunction's ETag reaches boto3 (ETtag header)")
pub = cf.publish_function(Name="seed-fn", IfMatch=upd["ETag"])
check(pub["FunctionSummary"]["FunctionMetadata"]["Stage"] == "LIVE", "published")
live = cf.get_function(Name="seed-fn", Stage="LIVE")
check(live["FunctionCode"].read() == code + b"\n", "LIVE code")
step("boto3 functions: create, update (ETtag), publish, get")

finish()
