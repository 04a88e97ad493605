"""The delivery API's errors through boto3, as the CloudWatch Logs API reference documents them
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateDelivery.html and
the other delivery operations) and CloudFront's standard logging page its one source per
distribution (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging.html,
"Troubleshoot"). Usage: errors.py ENDPOINT DISTRIBUTION_ID. Prints one line per check."""
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, distribution = sys.argv[1], sys.argv[2]
logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
arn = f"arn:aws:cloudfront::123456789012:distribution/{distribution}"


def code(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return "ok", 200


def check(label, got, want):
    assert got == want, f"{label}: {got} != {want}"
    print(f"ok {label}")


check("missing source", code(logs.get_delivery_source, name="nope"), ("ResourceNotFoundException", 400))
check("missing destination", code(logs.get_delivery_destination, name="nope"), ("ResourceNotFoundException", 400))
check("missing delivery", code(logs.get_delivery, id="nope1"), ("ResourceNotFoundException", 400))
check("bad source name", code(logs.put_delivery_source, name="bad name!", resourceArn=arn, logType="ACCESS_LOGS"),
      ("ValidationException", 400))
check("wrong log type", code(logs.put_delivery_source, name="s1", resourceArn=arn, logType="APPLICATION_LOGS"),
      ("ValidationException", 400))
check("unknown distribution", code(logs.put_delivery_source, name="s1",
      resourceArn="arn:aws:cloudfront::123456789012:distribution/ENOSUCHDIST000", logType="ACCESS_LOGS"),
      ("ResourceNotFoundException", 400))
check("source", code(logs.put_delivery_source, name="s1", resourceArn=arn, logType="ACCESS_LOGS"), ("ok", 200))
check("source again, unchanged", code(logs.put_delivery_source, name="s1", resourceArn=arn, logType="ACCESS_LOGS"),
      ("ok", 200))
check("second source of one distribution",
      code(logs.put_delivery_source, name="s2", resourceArn=arn, logType="ACCESS_LOGS"), ("ConflictException", 400))
check("tags on update", code(logs.put_delivery_source, name="s1", resourceArn=arn, logType="ACCESS_LOGS",
      tags={"team": "web"}), ("ConflictException", 400))
s3 = {"destinationResourceArn": "arn:aws:s3:::v2-logs/errors"}
check("raw format", code(logs.put_delivery_destination, name="d0", outputFormat="raw",
      deliveryDestinationConfiguration=s3), ("ValidationException", 400))
check("log group destination", code(logs.put_delivery_destination, name="d0", outputFormat="json",
      deliveryDestinationConfiguration={"destinationResourceArn":
                                        "arn:aws:logs:us-east-1:123456789012:log-group:cf"}),
      ("ValidationException", 400))
dest = logs.put_delivery_destination(name="d1", outputFormat="json", deliveryDestinationConfiguration=s3)
dest_arn = dest["deliveryDestination"]["arn"]
check("destination arn", dest_arn, "arn:aws:logs:us-east-1:123456789012:delivery-destination:d1")
check("new output format", code(logs.put_delivery_destination, name="d1", outputFormat="parquet",
      deliveryDestinationConfiguration=s3), ("ValidationException", 400))
check("unknown source", code(logs.create_delivery, deliverySourceName="nope", deliveryDestinationArn=dest_arn),
      ("ResourceNotFoundException", 400))
check("unknown destination", code(logs.create_delivery, deliverySourceName="s1",
      deliveryDestinationArn=dest_arn + "x"), ("ResourceNotFoundException", 400))
check("unknown field", code(logs.create_delivery, deliverySourceName="s1", deliveryDestinationArn=dest_arn,
      recordFields=["date", "no-such-field"]), ("ValidationException", 400))
check("field twice", code(logs.create_delivery, deliverySourceName="s1", deliveryDestinationArn=dest_arn,
      recordFields=["date", "date"]), ("ValidationException", 400))
check("bad delimiter", code(logs.create_delivery, deliverySourceName="s1", deliveryDestinationArn=dest_arn,
      fieldDelimiter="##"), ("ValidationException", 400))
check("bad suffix variable", code(logs.create_delivery, deliverySourceName="s1", deliveryDestinationArn=dest_arn,
      s3DeliveryConfiguration={"suffixPath": "{DistributionId}/{mm}"}), ("ValidationException", 400))
delivery = logs.create_delivery(deliverySourceName="s1", deliveryDestinationArn=dest_arn)["delivery"]
check("default fields", len(delivery["recordFields"]), 35)
# Under a destination prefix CloudFront adds no suffix path (standard-logging.html, "Example paths").
check("no suffix under a prefix", delivery["s3DeliveryConfiguration"], {"enableHiveCompatiblePath": False})
check("tab by default", delivery["fieldDelimiter"], "\t")
check("delivery again", code(logs.create_delivery, deliverySourceName="s1", deliveryDestinationArn=dest_arn),
      ("ConflictException", 400))
check("source in use", code(logs.delete_delivery_source, name="s1"), ("ConflictException", 400))
check("destination in use", code(logs.delete_delivery_destination, name="d1"), ("ConflictException", 400))
check("update unknown field", code(logs.update_delivery_configuration, id=delivery["id"], recordFields=["asn", "x"]),
      ("ValidationException", 400))
check("update", code(logs.update_delivery_configuration, id=delivery["id"], recordFields=["timestamp(ms)", "asn"],
      s3DeliveryConfiguration={"suffixPath": "{yyyy}/{MM}", "enableHiveCompatiblePath": True}), ("ok", 200))
updated = logs.get_delivery(id=delivery["id"])["delivery"]
check("updated fields", updated["recordFields"], ["timestamp(ms)", "asn"])
check("updated path", updated["s3DeliveryConfiguration"], {"suffixPath": "{yyyy}/{MM}", "enableHiveCompatiblePath": True})
check("limit over 50", code(logs.describe_deliveries, limit=51), ("ValidationException", 400))
templates = logs.describe_configuration_templates(service="cloudfront", logTypes=["ACCESS_LOGS"])
[template] = templates["configurationTemplates"]
check("template formats", sorted(template["allowedOutputFormats"]), ["json", "parquet", "plain", "w3c"])
names = [f["name"] for f in template["allowedFields"]]
check("template v2 fields", all(n in names for n in ["timestamp(ms)", "origin-fbl", "origin-lbl", "asn",
                                                      "c-country", "cache-behavior-path-pattern"]), True)
check("template defaults", len(template["defaultDeliveryConfigValues"]["recordFields"]), 35)
check("other service", logs.describe_configuration_templates(service="bedrock")["configurationTemplates"], [])
# ServiceQuotaExceededException: destinations up to the quota, then one more.
made = 1
while True:
    got = code(logs.put_delivery_destination, name=f"q{made}", outputFormat="plain",
               deliveryDestinationConfiguration=s3)
    if got != ("ok", 200):
        break
    made += 1
check("destination quota", (got, made), (("ServiceQuotaExceededException", 400), 150))
seen, token = [], None
while True:
    page = logs.describe_delivery_destinations(limit=50, **({"nextToken": token} if token else {}))
    seen += [d["name"] for d in page["deliveryDestinations"]]
    token = page.get("nextToken")
    if not token:
        break
check("pages", (len(seen), len(set(seen))), (150, 150))
paginated = sum(len(p["deliveryDestinations"]) for p in logs.get_paginator("describe_delivery_destinations").paginate())
check("paginator", paginated, 150)
check("delete delivery", code(logs.delete_delivery, id=delivery["id"]), ("ok", 200))
check("delete delivery twice", code(logs.delete_delivery, id=delivery["id"]), ("ResourceNotFoundException", 400))
check("delete source", code(logs.delete_delivery_source, name="s1"), ("ok", 200))
check("delete destination", code(logs.delete_delivery_destination, name="d1"), ("ok", 200))
print("all checks passed")
