"""The AWS CLI's private-content commands against a Cachalot admin listener, verbatim.

Usage: python private.py ENDPOINT_URL WORK_DIR   (AWS_* variables set; `openssl` on PATH)

create/get/get-config/list/update/delete for public keys, key groups, origin access controls
and CloudFront origin access identities, and CloudFront's errors for keys and groups in use.
Prints "N passed, 0 failed" at the end; exits non-zero naming the first failure.
"""

import json
import os
import subprocess
import sys
import time

from harness import aws, check, finish, refused, step

WORK = sys.argv[2]


def public_key_pem(name):
    private = os.path.join(WORK, f"{name}.pem")
    subprocess.run(["openssl", "genrsa", "-out", private, "2048"], check=True, capture_output=True)
    return subprocess.run(["openssl", "rsa", "-in", private, "-pubout"], check=True, capture_output=True, text=True).stdout


def write(name, doc):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return f"file://{path}"


# --- Public keys ------------------------------------------------------------------------------
keys = []
for i in range(6):
    config = {"CallerReference": f"key-{i}-{time.time()}", "Name": f"signer-{i}", "EncodedKey": public_key_pem(f"k{i}"),
              "Comment": "made by openssl"}
    out = aws("cloudfront", "create-public-key", "--public-key-config", write(f"k{i}.json", config))
    check(out["PublicKey"]["Id"].startswith("K") and out["ETag"] and out["Location"].endswith(out["PublicKey"]["Id"]),
          f"create-public-key: {out}")
    keys.append((out["PublicKey"]["Id"], config))
step("create-public-key x6")
ec_private = os.path.join(WORK, "ec.pem")
subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec_private], check=True)
ec_pem = subprocess.run(["openssl", "ec", "-in", ec_private, "-pubout"], check=True, capture_output=True, text=True).stdout
ec = aws("cloudfront", "create-public-key", "--public-key-config",
         write("ec.json", {"CallerReference": f"ec-{time.time()}", "Name": "ecdsa", "EncodedKey": ec_pem}))
aws("cloudfront", "delete-public-key", "--id", ec["PublicKey"]["Id"], "--if-match", ec["ETag"])
step("create-public-key with an ECDSA P-256 key")
key_id, key_config = keys[0]
got = aws("cloudfront", "get-public-key", "--id", key_id)
check(got["PublicKey"]["PublicKeyConfig"]["EncodedKey"].strip() == key_config["EncodedKey"].strip(), f"get-public-key: {got}")
etag = got["ETag"]
cfg = aws("cloudfront", "get-public-key-config", "--id", key_id)
check(cfg["PublicKeyConfig"]["Name"] == "signer-0" and cfg["ETag"] == etag, f"get-public-key-config: {cfg}")
listed = aws("cloudfront", "list-public-keys")
check(len(listed["PublicKeyList"]["Items"]) == 6, f"list-public-keys: {listed}")
step("get-public-key, get-public-key-config, list-public-keys")
updated = aws("cloudfront", "update-public-key", "--id", key_id, "--if-match", etag,
              "--public-key-config", write("k0u.json", {**key_config, "Comment": "rotated comment"}))
check(updated["PublicKey"]["PublicKeyConfig"]["Comment"] == "rotated comment" and updated["ETag"] != etag, f"{updated}")
refused("CannotChangeImmutablePublicKeyFields", "cloudfront", "update-public-key", "--id", key_id,
        "--if-match", updated["ETag"], "--public-key-config", write("k0x.json", {**key_config, "EncodedKey": keys[1][1]["EncodedKey"]}))
refused("PreconditionFailed", "cloudfront", "update-public-key", "--id", key_id, "--if-match", etag,
        "--public-key-config", write("k0s.json", key_config))
refused("NoSuchPublicKey", "cloudfront", "get-public-key", "--id", "KNOTAKEY000000")
refused("InvalidArgument", "cloudfront", "create-public-key", "--public-key-config",
        write("bad.json", {"CallerReference": "bad", "Name": "bad", "EncodedKey": "not a key"}))
step("update-public-key; immutable key, stale ETag, unknown id and bad PEM refused")

# --- Key groups -------------------------------------------------------------------------------
group = aws("cloudfront", "create-key-group", "--key-group-config",
            json.dumps({"Name": "signers", "Items": [keys[0][0], keys[1][0]], "Comment": "two keys"}))
group_id, group_etag = group["KeyGroup"]["Id"], group["ETag"]
check(group["KeyGroup"]["KeyGroupConfig"]["Items"] == [keys[0][0], keys[1][0]], f"create-key-group: {group}")
refused("TooManyPublicKeysInKeyGroup", "cloudfront", "create-key-group", "--key-group-config",
        json.dumps({"Name": "too-many", "Items": [k for k, _ in keys]}))
refused("KeyGroupAlreadyExists", "cloudfront", "create-key-group", "--key-group-config",
        json.dumps({"Name": "signers", "Items": [keys[2][0]]}))
check(aws("cloudfront", "get-key-group", "--id", group_id)["ETag"] == group_etag, "get-key-group ETag")
check(aws("cloudfront", "get-key-group-config", "--id", group_id)["KeyGroupConfig"]["Name"] == "signers", "config")
check(aws("cloudfront", "list-key-groups")["KeyGroupList"]["Items"][0]["KeyGroup"]["Id"] == group_id, "list-key-groups")
refused("NoSuchResource", "cloudfront", "get-key-group", "--id", "00000000-0000-0000-0000-000000000000")
step("create-key-group, get-key-group(-config), list-key-groups; quota and name refused")
refused("PublicKeyInUse", "cloudfront", "delete-public-key", "--id", keys[0][0],
        "--if-match", aws("cloudfront", "get-public-key", "--id", keys[0][0])["ETag"])
group = aws("cloudfront", "update-key-group", "--id", group_id, "--if-match", group_etag,
            "--key-group-config", json.dumps({"Name": "signers", "Items": [keys[1][0]]}))
check(group["KeyGroup"]["KeyGroupConfig"]["Items"] == [keys[1][0]], f"update-key-group: {group}")
key0_etag = aws("cloudfront", "get-public-key", "--id", keys[0][0])["ETag"]
aws("cloudfront", "delete-public-key", "--id", keys[0][0], "--if-match", key0_etag)
refused("NoSuchPublicKey", "cloudfront", "get-public-key", "--id", keys[0][0])
step("delete-public-key refused while in a key group, accepted once removed")

distribution = {
    "CallerReference": f"private-{time.time()}", "Comment": "signed", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "web", "DomainName": "origin.example.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "allow-all",
                             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                             "TrustedKeyGroups": {"Enabled": True, "Quantity": 1, "Items": [group_id]}},
}
created = aws("cloudfront", "create-distribution", "--distribution-config", json.dumps(distribution))
check(created["Distribution"]["DistributionConfig"]["DefaultCacheBehavior"]["TrustedKeyGroups"]["Items"] == [group_id],
      f"create-distribution: {created}")
active = created["Distribution"]["ActiveTrustedKeyGroups"]
check(active["Enabled"] and active["Items"][0]["KeyGroupId"] == group_id
      and active["Items"][0]["KeyPairIds"]["Items"] == [keys[1][0]], f"ActiveTrustedKeyGroups: {active}")
refused("ResourceInUse", "cloudfront", "delete-key-group", "--id", group_id, "--if-match", group["ETag"])
by_group = aws("cloudfront", "list-distributions-by-key-group", "--key-group-id", group_id)["DistributionIdList"]
check(by_group["Items"] == [created["Distribution"]["Id"]], f"list-distributions-by-key-group: {by_group}")
bad = json.loads(json.dumps(distribution))
bad["CallerReference"] += "-bad"
bad["DefaultCacheBehavior"]["TrustedKeyGroups"]["Items"] = ["00000000-0000-0000-0000-000000000000"]
refused("TrustedKeyGroupDoesNotExist", "cloudfront", "create-distribution", "--distribution-config", json.dumps(bad))
spare = aws("cloudfront", "create-key-group", "--key-group-config", json.dumps({"Name": "spare", "Items": [keys[2][0]]}))
aws("cloudfront", "delete-key-group", "--id", spare["KeyGroup"]["Id"], "--if-match", spare["ETag"])
step("key groups in a distribution: ResourceInUse, TrustedKeyGroupDoesNotExist; an unused group deletes")

# --- Origin access controls -------------------------------------------------------------------
oac_config = {"Name": "s3-oac", "Description": "signs for S3", "SigningProtocol": "sigv4",
              "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}
oac = aws("cloudfront", "create-origin-access-control", "--origin-access-control-config", json.dumps(oac_config))
oac_id, oac_etag = oac["OriginAccessControl"]["Id"], oac["ETag"]
check(oac["OriginAccessControl"]["OriginAccessControlConfig"]["SigningBehavior"] == "always", f"{oac}")
refused("OriginAccessControlAlreadyExists", "cloudfront", "create-origin-access-control",
        "--origin-access-control-config", json.dumps(oac_config))
check(aws("cloudfront", "get-origin-access-control", "--id", oac_id)["ETag"] == oac_etag, "get-origin-access-control")
check(aws("cloudfront", "get-origin-access-control-config", "--id", oac_id)["OriginAccessControlConfig"]["Name"] == "s3-oac",
      "get-origin-access-control-config")
listed = aws("cloudfront", "list-origin-access-controls")["OriginAccessControlList"]
check(len(listed["Items"]) == 1 and listed["Items"][0]["SigningBehavior"] == "always", f"{listed}")
oac = aws("cloudfront", "update-origin-access-control", "--id", oac_id, "--if-match", oac_etag,
          "--origin-access-control-config", json.dumps({**oac_config, "SigningBehavior": "no-override"}))
check(oac["OriginAccessControl"]["OriginAccessControlConfig"]["SigningBehavior"] == "no-override", f"{oac}")
refused("InvalidArgument", "cloudfront", "update-origin-access-control", "--id", oac_id, "--if-match", oac["ETag"],
        "--origin-access-control-config", json.dumps({**oac_config, "SigningBehavior": "sometimes"}))
aws("cloudfront", "delete-origin-access-control", "--id", oac_id, "--if-match", oac["ETag"])
refused("NoSuchOriginAccessControl", "cloudfront", "get-origin-access-control", "--id", oac_id)
step("origin access control: create, get, get-config, list, update, delete")

# --- CloudFront origin access identities ------------------------------------------------------
oai = aws("cloudfront", "create-cloud-front-origin-access-identity", "--cloud-front-origin-access-identity-config",
          f"CallerReference=oai-{time.time()},Comment=legacy")
oai_id, oai_etag = oai["CloudFrontOriginAccessIdentity"]["Id"], oai["ETag"]
check(len(oai["CloudFrontOriginAccessIdentity"]["S3CanonicalUserId"]) == 96, f"{oai}")
got = aws("cloudfront", "get-cloud-front-origin-access-identity", "--id", oai_id)
check(got["ETag"] == oai_etag, "get-cloud-front-origin-access-identity")
cfg = aws("cloudfront", "get-cloud-front-origin-access-identity-config", "--id", oai_id)
check(cfg["CloudFrontOriginAccessIdentityConfig"]["Comment"] == "legacy", f"{cfg}")
listed = aws("cloudfront", "list-cloud-front-origin-access-identities")["CloudFrontOriginAccessIdentityList"]
check(len(listed["Items"]) == 1 and listed["Items"][0]["Id"] == oai_id, f"{listed}")
reference = cfg["CloudFrontOriginAccessIdentityConfig"]["CallerReference"]
oai = aws("cloudfront", "update-cloud-front-origin-access-identity", "--id", oai_id, "--if-match", oai_etag,
          "--cloud-front-origin-access-identity-config", f"CallerReference={reference},Comment=renamed")
check(oai["CloudFrontOriginAccessIdentity"]["CloudFrontOriginAccessIdentityConfig"]["Comment"] == "renamed", f"{oai}")
aws("cloudfront", "delete-cloud-front-origin-access-identity", "--id", oai_id, "--if-match", oai["ETag"])
refused("NoSuchCloudFrontOriginAccessIdentity", "cloudfront", "get-cloud-front-origin-access-identity", "--id", oai_id)
step("origin access identity: create, get, get-config, list, update, delete")

finish()
