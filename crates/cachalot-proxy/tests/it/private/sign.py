"""Signs CloudFront URLs and cookies with botocore's CloudFrontSigner (RSA-SHA1 via `rsa`).

usage: sign.py KEY.pem KEY_PAIR_ID url URL EXPIRES [RESOURCE [IP_CIDR]]
       sign.py KEY.pem KEY_PAIR_ID cookies URL EXPIRES RESOURCE
Prints the signed URL, or the Cookie header value for signed cookies (custom policy).
"""
import datetime
import sys

import rsa
from botocore.signers import CloudFrontSigner

key_file, key_id, mode, url, expires = sys.argv[1:6]
extra = sys.argv[6:]
private_key = rsa.PrivateKey.load_pkcs1(open(key_file, "rb").read())
signer = CloudFrontSigner(key_id, lambda message: rsa.sign(message, private_key, "SHA-1"))
until = datetime.datetime.fromtimestamp(int(expires), datetime.timezone.utc)
if mode == "url":
    if not extra:
        print(signer.generate_presigned_url(url, date_less_than=until))
    else:
        policy = signer.build_policy(extra[0], until, ip_address=extra[1] if len(extra) > 1 else None)
        print(signer.generate_presigned_url(url, policy=policy))
elif mode == "cookies":
    policy = signer.build_policy(extra[0], until).encode("utf8")
    signature = signer.rsa_signer(policy)
    print(
        "CloudFront-Policy=%s; CloudFront-Signature=%s; CloudFront-Key-Pair-Id=%s"
        % (signer._url_b64encode(policy).decode(), signer._url_b64encode(signature).decode(), key_id)
    )
else:
    sys.exit("unknown mode " + mode)
