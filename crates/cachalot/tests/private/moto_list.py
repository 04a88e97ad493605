"""Lists a bucket of the moto S3 server, signed with the given access key: one key per line.

usage: moto_list.py ENDPOINT_URL ACCESS_KEY_ID SECRET BUCKET
"""
import sys

import boto3

endpoint, key_id, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                  aws_secret_access_key=secret)
for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
    print(item["Key"])
