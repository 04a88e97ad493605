"""boto3 against a Cachalot admin listener: what CloudFront returns and refuses, one scenario at a time.

Usage: python fidelity.py ENDPOINT_URL SCENARIO   (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION set)

Each scenario cites the AWS page that documents the behaviour it checks. Exits non-zero naming the failed check;
prints "SCENARIO passed" at the end.
"""

import sys
import time

import boto3
import botocore.exceptions
from botocore.config import Config

ENDPOINT, SCENARIO = sys.argv[1], sys.argv[2]
cf = boto3.client("cloudfront", endpoint_url=ENDPOINT, config=Config(retries={"max_attempts": 1}))
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def check(cond, what):
    if not cond:
        sys.exit(f"FAILED: {what}")


def refused(call, code, what):
    """Runs `call`, which must fail with `code`; returns the error message."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{what}: expected {code}, got {got}: {e.response['Error'].get('Message')}")
        return e.response["Error"].get("Message", "")
    sys.exit(f"FAILED: {what}: expected {code}, the call succeeded")


def config(caller, origin=None, behavior=None, **top):
    """A distribution config with one origin and a default behavior on it."""
    origin = origin or {"Id": "web", "DomainName": "origin.example.com",
                        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}
    behavior = behavior or {"CachePolicyId": CACHING_OPTIMIZED}
    return dict({
        "CallerReference": f"{caller}-{time.time()}",
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": dict({"TargetOriginId": origin["Id"], "ViewerProtocolPolicy": "allow-all"}, **behavior),
    }, **top)


S3_ORIGIN = {"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}


def legacy(headers):
    return {"MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"},
                                             "Headers": {"Quantity": len(headers), "Items": headers}}}


def s3_host_forwarding():
    """Legacy cache settings forwarding Host to an S3 origin: CloudFront accepts the config (a production config
    it serves does this; it does not cache on Host for S3 origins:
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/header-caching.html). A cache policy keying
    Host on a behavior whose origin is S3 is still refused, at that behavior's CachePolicyId."""
    made = cf.create_distribution(DistributionConfig=config("s3-host", S3_ORIGIN, legacy(["Host"])))["Distribution"]
    headers = made["DistributionConfig"]["DefaultCacheBehavior"]["ForwardedValues"]["Headers"]
    check(headers["Items"] == ["Host"], f"the config is kept as sent: {headers}")
    policy = cf.create_cache_policy(CachePolicyConfig={
        "Name": "key-host", "MinTTL": 0, "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": True, "CookiesConfig": {"CookieBehavior": "none"},
            "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": {"Quantity": 1, "Items": ["Host"]}},
            "QueryStringsConfig": {"QueryStringBehavior": "none"}}})["CachePolicy"]["Id"]
    keyed = config("s3-keyed", S3_ORIGIN, legacy(["Host"]), CacheBehaviors={"Quantity": 1, "Items": [{
        "PathPattern": "/keyed/*", "TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": policy}]})
    message = refused(lambda: cf.create_distribution(DistributionConfig=keyed), "InvalidHeadersForS3Origin",
                      "a cache policy keying Host for S3")
    check("CacheBehaviors.Items[0].CachePolicyId" in message and "DefaultCacheBehavior" not in message,
          f"the error names the behavior with the policy, not the legacy one: {message}")


def defaults():
    """Responses carry CloudFront's defaults (the AWS CLI's create-distribution example output:
    https://docs.aws.amazon.com/cli/latest/reference/cloudfront/create-distribution.html; origin timeouts:
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CustomOriginConfig.html; cache policy TTLs:
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html)."""
    made = cf.create_distribution(DistributionConfig=config("defaults", behavior=legacy([])))["Distribution"]
    got = cf.get_distribution_config(Id=made["Id"])["DistributionConfig"]
    b = got["DefaultCacheBehavior"]
    check((b["MinTTL"], b["DefaultTTL"], b["MaxTTL"]) == (0, 86400, 31536000), f"legacy TTLs: {b}")
    check(b["AllowedMethods"]["Items"] == ["HEAD", "GET"], f"AllowedMethods: {b.get('AllowedMethods')}")
    check(b["AllowedMethods"]["CachedMethods"]["Quantity"] == 2, "CachedMethods")
    check(b["FunctionAssociations"] == {"Quantity": 0}, f"FunctionAssociations: {b.get('FunctionAssociations')}")
    check(b["LambdaFunctionAssociations"] == {"Quantity": 0}, "LambdaFunctionAssociations")
    check((b["Compress"], b["SmoothStreaming"], b["FieldLevelEncryptionId"]) == (False, False, ""), f"{b}")
    check(b["TrustedSigners"] == {"Enabled": False, "Quantity": 0}, "TrustedSigners")
    o = got["Origins"]["Items"][0]
    check((o["ConnectionAttempts"], o["ConnectionTimeout"]) == (3, 10), f"origin: {o}")
    check(o["OriginShield"] == {"Enabled": False} and o["OriginPath"] == "", f"origin: {o}")
    check((o["CustomOriginConfig"]["OriginReadTimeout"], o["CustomOriginConfig"]["OriginKeepaliveTimeout"]) == (30, 5),
          f"origin timeouts: {o}")
    check(got["Staging"] is False and got["ContinuousDeploymentPolicyId"] == "", "Staging")
    listed = cf.list_distributions()["DistributionList"]["Items"][0]
    check(listed["DefaultCacheBehavior"]["DefaultTTL"] == 86400, "ListDistributions carries them too")

    policy = cf.create_cache_policy(CachePolicyConfig={
        "Name": "no-ttls", "MinTTL": 172800, "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": True, "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}}})
    read = cf.get_cache_policy(Id=policy["CachePolicy"]["Id"])["CachePolicy"]["CachePolicyConfig"]
    check((read["DefaultTTL"], read["MaxTTL"]) == (172800, 31536000), f"cache policy TTLs: {read}")
    check(read["ParametersInCacheKeyAndForwardedToOrigin"]["EnableAcceptEncodingBrotli"] is False, "brotli flag")


def certificates():
    """ViewerCertificate rules (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html):
    aliases need a certificate of their own, ACM certificates come from us-east-1, SNI needs TLSv1 or later."""
    aliases = {"Quantity": 1, "Items": ["www.example.com"]}
    refused(lambda: cf.create_distribution(DistributionConfig=config("alias-default", Aliases=aliases)),
            "InvalidViewerCertificate", "an alias with the default certificate")
    refused(lambda: cf.create_distribution(DistributionConfig=config("alias-default2", Aliases=aliases,
            ViewerCertificate={"CloudFrontDefaultCertificate": True})),
            "InvalidViewerCertificate", "an alias with CloudFrontDefaultCertificate")
    elsewhere = {"ACMCertificateArn": CERT.replace("us-east-1", "eu-west-1"), "SSLSupportMethod": "sni-only",
                 "MinimumProtocolVersion": "TLSv1.2_2021"}
    message = refused(lambda: cf.create_distribution(DistributionConfig=config("acm-region", Aliases=aliases,
                      ViewerCertificate=elsewhere)), "InvalidViewerCertificate", "an ACM certificate outside us-east-1")
    check("us-east-1" in message, message)
    sslv3 = {"ACMCertificateArn": CERT, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "SSLv3"}
    refused(lambda: cf.create_distribution(DistributionConfig=config("sslv3", Aliases=aliases, ViewerCertificate=sslv3)),
            "InvalidMinimumProtocolVersion", "SSLv3 with SNI")
    good = {"ACMCertificateArn": CERT, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"}
    made = cf.create_distribution(DistributionConfig=config("good-cert", Aliases=aliases, ViewerCertificate=good))
    check(made["Distribution"]["DistributionConfig"]["Aliases"]["Items"] == ["www.example.com"], "a valid alias")


def ip_origin():
    """An IP address as an origin's domain name is refused by CloudFront's API with this message
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesOrigin.html: the origin
    domain is a DNS name)."""
    for address in ["192.0.2.10", "2001:db8::1"]:
        origin = {"Id": "ip", "DomainName": address,
                  "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}
        message = refused(lambda: cf.create_distribution(DistributionConfig=config("ip", origin)),
                          "InvalidArgument", f"origin {address}")
        check("cannot be an IP address" in message and "DomainName" in message, message)


def tags():
    """Tag restrictions (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/tagging.html, 50 tags per
    distribution: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html), and a
    malformed ARN is InvalidArgument (the model's ARN pattern), a well-formed one of nothing NoSuchResource."""
    arn = cf.create_distribution(DistributionConfig=config("tags"))["Distribution"]["ARN"]
    for key in ["bad#key", "k" * 129, "aws:reserved", "emoji\U0001F600"]:
        refused(lambda: cf.tag_resource(Resource=arn, Tags={"Items": [{"Key": key, "Value": "v"}]}),
                "InvalidTagging", f"tag key {key!r}")
    refused(lambda: cf.tag_resource(Resource=arn, Tags={"Items": [{"Key": "k", "Value": "v" * 257}]}),
            "InvalidTagging", "a 257-character value")
    fifty = [{"Key": f"team-{i}", "Value": "a b:c/d=e+f-g@h_i.j"} for i in range(50)]
    cf.tag_resource(Resource=arn, Tags={"Items": fifty})
    refused(lambda: cf.tag_resource(Resource=arn, Tags={"Items": [{"Key": "one-more", "Value": ""}]}),
            "InvalidTagging", "a 51st tag")
    check(len(cf.list_tags_for_resource(Resource=arn)["Tags"]["Items"]) == 50, "50 tags kept")
    refused(lambda: cf.create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": config("with-tags"), "Tags": {"Items": [{"Key": "a%b", "Value": ""}]}}),
        "InvalidTagging", "CreateDistributionWithTags checks its tags")
    for bad in ["not-an-arn", "arn:aws:s3:::bucket", "arn:aws:cloudfront::abc:distribution/E1"]:
        refused(lambda: cf.list_tags_for_resource(Resource=bad), "InvalidArgument", f"malformed ARN {bad}")
    refused(lambda: cf.list_tags_for_resource(Resource="arn:aws:cloudfront::123456789012:distribution/ENOSUCH"),
            "NoSuchResource", "a well-formed ARN of nothing")


def cname():
    """CNAMEAlreadyExists names the distribution that holds the alias, the same one every time, and comes with every
    other problem of the request at once."""
    cert = {"ACMCertificateArn": CERT, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"}
    aliases = {"Quantity": 1, "Items": ["shop.example.com"]}
    holder = cf.create_distribution(DistributionConfig=config("holder", Aliases=aliases, ViewerCertificate=cert))
    holder_id = holder["Distribution"]["Id"]
    for attempt in range(4):
        message = refused(lambda: cf.create_distribution(DistributionConfig=config(f"taker-{attempt}", Aliases=aliases,
                          ViewerCertificate=cert)), "CNAMEAlreadyExists", "a second distribution with the alias")
        check(holder_id in message, f"attempt {attempt} names {holder_id}: {message}")
    bad_ttl = legacy([])
    bad_ttl.update({"MinTTL": 100, "DefaultTTL": 10})
    message = refused(lambda: cf.create_distribution(DistributionConfig=config("taker-bad", behavior=bad_ttl,
                      Aliases=aliases, ViewerCertificate=cert)), "CNAMEAlreadyExists", "alias and another problem")
    check(holder_id in message and "MinTTL" in message, f"both problems in one answer: {message}")


def list_by():
    """ListDistributionsBy* operations Cachalot does not implement say so (UnsupportedOperation), like every other
    operation of the model, instead of a 404 for an unknown path."""
    for call in [lambda: cf.list_distributions_by_web_acl_id(WebACLId="acl"),
                 lambda: cf.list_distributions_by_vpc_origin_id(VpcOriginId="vo")]:
        try:
            call()
            sys.exit("FAILED: expected UnsupportedOperation")
        except botocore.exceptions.ClientError as e:
            check(e.response["Error"]["Code"] == "UnsupportedOperation", str(e.response["Error"]))
            check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, "status 400")
    # ListDistributionsByKeyGroup is implemented: an unknown key group is NoSuchResource, as the
    # CloudFront API reference lists for it.
    try:
        cf.list_distributions_by_key_group(KeyGroupId="kg")
        sys.exit("FAILED: expected NoSuchResource")
    except botocore.exceptions.ClientError as e:
        check(e.response["Error"]["Code"] == "NoSuchResource", str(e.response["Error"]))


def function_location():
    """CreateFunction's Location is the function's URL by ARN (the example output of CreateFunction:
    https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/client/cloudfront/command/CreateFunctionCommand/)."""
    made = cf.create_function(Name="where", FunctionConfig={"Comment": "", "Runtime": "cloudfront-js-2.0"},
                              FunctionCode=b"function handler(event) { return event.request; }")
    arn = made["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
    check(made["Location"].endswith(f"/2020-05-31/function/{arn}"), f"Location {made['Location']}")


globals()[SCENARIO.replace("-", "_")]()
print(f"{SCENARIO} passed")
