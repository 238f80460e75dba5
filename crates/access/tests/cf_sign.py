"""Signs CloudFront URLs and cookies with botocore, for the interop test in botocore.rs.

Uses botocore.signers.CloudFrontSigner with an RSA signer from the `rsa` package, as
AWS's boto3 documentation shows. Prints one JSON object on stdout.

Usage: cf_sign.py <PKCS#1 private key PEM file> <key pair id> <expires epoch> <asset base URL>
"""

import datetime
import json
import sys

import rsa
from botocore.signers import CloudFrontSigner


def main():
    key_path, key_pair_id, expires_text, asset_base = sys.argv[1:5]
    expires = int(expires_text)
    with open(key_path, "rb") as key_file:
        private_key = rsa.PrivateKey.load_pkcs1(key_file.read())

    def sign_sha1(message):
        return rsa.sign(message, private_key, "SHA-1")

    def sign_sha256(message):
        return rsa.sign(message, private_key, "SHA-256")

    # An aware UTC datetime, so botocore's conversion to epoch seconds cannot be shifted
    # by the local time zone.
    not_after = datetime.datetime.fromtimestamp(expires, tz=datetime.timezone.utc)
    master = asset_base + "/master.m3u8"
    signer = CloudFrontSigner(key_pair_id, sign_sha1)

    canned_url = signer.generate_presigned_url(master, date_less_than=not_after)

    wildcard_policy = signer.build_policy(asset_base + "/*", not_after)
    custom_url = signer.generate_presigned_url(master, policy=wildcard_policy)

    # botocore has no cookie helper: cookies carry the same values as the custom URL.
    policy_bytes = wildcard_policy.encode("utf8")
    cookies = {
        "CloudFront-Policy": signer._url_b64encode(policy_bytes).decode("utf8"),
        "CloudFront-Signature": signer._url_b64encode(sign_sha1(policy_bytes)).decode("utf8"),
        "CloudFront-Key-Pair-Id": key_pair_id,
    }

    # botocore's signer has no hash parameter: CloudFront's documentation says to sign with
    # SHA-256 and add Hash-Algorithm=SHA256 to the URL.
    sha256_signer = CloudFrontSigner(key_pair_id, sign_sha256)
    canned_sha256_url = (
        sha256_signer.generate_presigned_url(master, date_less_than=not_after)
        + "&Hash-Algorithm=SHA256"
    )

    # build_policy outputs for the byte-for-byte comparison with Policy::to_json.
    policy_cases = [
        {"resource": asset_base + "/*", "not_after": expires},
        {"resource": master + "?lang=en&v=2", "not_after": expires},
        {
            "resource": asset_base + "/*",
            "not_after": expires,
            "not_before": expires - 600,
            "source_ip": "192.0.2.7",
        },
        {"resource": asset_base + "/*", "not_after": expires, "source_ip": "198.51.100.0/24"},
        {"resource": asset_base + "/*", "not_after": expires, "source_ip": "2001:db8:1::/48"},
        {"resource": asset_base + '/\u00e9t\u00e9 "q" \\ \U0001f600/*', "not_after": expires},
    ]
    for case in policy_cases:
        not_before = case.get("not_before")
        case["json"] = signer.build_policy(
            case["resource"],
            datetime.datetime.fromtimestamp(case["not_after"], tz=datetime.timezone.utc),
            date_greater_than=None
            if not_before is None
            else datetime.datetime.fromtimestamp(not_before, tz=datetime.timezone.utc),
            ip_address=case.get("source_ip"),
        )

    json.dump(
        {
            "canned_url": canned_url,
            "custom_url": custom_url,
            "custom_policy": wildcard_policy,
            "cookies": cookies,
            "canned_sha256_url": canned_sha256_url,
            "policy_cases": policy_cases,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
