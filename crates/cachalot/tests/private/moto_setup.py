"""Prepares a moto S3 server (started with INITIAL_NO_AUTH_ACTION_COUNT=6, so that these six
calls are the last it takes unsigned): an IAM user allowed s3:*, its access key, a private
bucket `media` with one object and an empty log bucket `logs`. Prints the access key id and
secret on one line.

usage: moto_setup.py ENDPOINT_URL
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="edge")
key = iam.create_access_key(UserName="edge")["AccessKey"]
iam.put_user_policy(UserName="edge", PolicyName="read", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
s3 = boto3.client("s3", **kw)
s3.create_bucket(Bucket="media")
s3.put_object(Bucket="media", Key="clip.txt", Body=b"from the S3-compatible server", ContentType="text/plain")
s3.create_bucket(Bucket="logs")
print(key["AccessKeyId"], key["SecretAccessKey"])
