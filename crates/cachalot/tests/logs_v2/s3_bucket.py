"""A bucket of the moto S3 server, signed with the given access key.

usage: s3_bucket.py ENDPOINT_URL ACCESS_KEY_ID SECRET BUCKET create
       s3_bucket.py ENDPOINT_URL ACCESS_KEY_ID SECRET BUCKET download FOLDER

`download` writes every object under FOLDER at its key and prints the keys, one a line (none
when the bucket does not exist yet).
"""
import os
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, key_id, secret, bucket, action = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                  aws_secret_access_key=secret)
if action == "create":
    s3.create_bucket(Bucket=bucket)
else:
    folder = sys.argv[6]
    try:
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchBucket":
            sys.exit(0)
        raise
    for page in pages:
        for item in page.get("Contents", []):
            path = os.path.join(folder, item["Key"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            print(item["Key"])
