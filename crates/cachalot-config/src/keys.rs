//! Public keys for signed URLs and cookies: the PEM a user uploads (`EncodedKey`) read
//! into the key material the edge verifies signatures with.
//!
//! CloudFront accepts RSA 2048 and ECDSA P-256 keys in SubjectPublicKeyInfo PEM
//! (`-----BEGIN PUBLIC KEY-----`, what `openssl rsa -pubout` and `openssl ec -pubout`
//! print); see <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_PublicKeyConfig.html>.
//! The DER reader below reads exactly the two structures it needs and never panics.

use crate::model::KeyAlgorithm;
use base64::Engine as _;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Reads a PEM public key: its algorithm and key material (see [`KeyAlgorithm`]).
pub fn parse_public_key(pem: &str) -> Result<(KeyAlgorithm, Vec<u8>), String> {
    let pem = pem.trim();
    let body = pem
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.trim_end().strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(|| {
            if pem.contains("BEGIN RSA PUBLIC KEY") {
                "the key is PKCS#1 (BEGIN RSA PUBLIC KEY); CloudFront takes a BEGIN PUBLIC KEY block (openssl rsa -RSAPublicKey_in -pubout)".to_owned()
            } else if pem.contains("PRIVATE KEY") {
                "this is a private key; upload only the public key (openssl rsa -pubout / openssl ec -pubout)".to_owned()
            } else {
                "the key is not a PEM block from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----".to_owned()
            }
        })?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| format!("the PEM body is not base64: {e}"))?;
    parse_spki(&der)
}

/// Reads a DER SubjectPublicKeyInfo.
pub fn parse_spki(der: &[u8]) -> Result<(KeyAlgorithm, Vec<u8>), String> {
    let bad = || "the key is not a SubjectPublicKeyInfo structure".to_owned();
    let (spki, rest) = tlv(der, 0x30).ok_or_else(bad)?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let (alg, rest) = tlv(spki, 0x30).ok_or_else(bad)?;
    let (bits, _) = tlv(rest, 0x03).ok_or_else(bad)?;
    let (0, key) = bits.split_first().map(|(u, k)| (*u, k)).ok_or_else(bad)? else {
        return Err(bad());
    };
    let (oid, params) = tlv(alg, 0x06).ok_or_else(bad)?;
    if oid == OID_RSA {
        let bits = rsa_modulus_bits(key).ok_or_else(|| "the RSA key is malformed".to_owned())?;
        if bits != 2048 {
            return Err(format!("the RSA key has {bits} bits; CloudFront accepts RSA 2048 keys"));
        }
        Ok((KeyAlgorithm::Rsa2048, key.to_vec()))
    } else if oid == OID_EC {
        let curve = tlv(params, 0x06).map(|(c, _)| c);
        if curve != Some(OID_P256) {
            return Err("the EC key is not on P-256; CloudFront accepts ECDSA P-256 (prime256v1) keys".to_owned());
        }
        if !(key.len() == 65 && key[0] == 4 || key.len() == 33 && (key[0] == 2 || key[0] == 3)) {
            return Err("the EC point is malformed".to_owned());
        }
        Ok((KeyAlgorithm::EcdsaP256, key.to_vec()))
    } else {
        Err("the key is neither RSA nor EC; CloudFront accepts RSA 2048 and ECDSA P-256 keys".to_owned())
    }
}

/// The bit length of the modulus of a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (seq, _) = tlv(der, 0x30)?;
    let (n, rest) = tlv(seq, 0x02)?;
    tlv(rest, 0x02)?;
    let n = match n.iter().position(|b| *b != 0) {
        Some(i) => &n[i..],
        None => return Some(0),
    };
    Some(n.len() * 8 - n[0].leading_zeros() as usize)
}

/// One DER element with tag `tag`: its contents and what follows it.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl genrsa 2048 | openssl rsa -pubout` and `openssl ecparam -name prime256v1 -genkey | openssl ec -pubout`.
    const RSA: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAt+endGtmM941Lhn3pqXv
SKsHEJRCKDw1E30HfHP9YhcbMpR78neJfZNB2uj2j93pZ8pjeRXzYzrtKEUhVdua
UDgtAbBWVfh4tH+US/L0k9H4KCEncouOV8owcDUiiY1vpDcs48SGY1yxMWjk2m5+
X2Fx4fhFDcXfRH3T5/nC56TZe1qXaOxi3oggjMxohsYdoHNjkYQ1L0/gHyJ3mVE5
sQK9yQaFvvttHNGBqewuPILTJAKZe27ISEpWNIKydgrrqW5AF7oRPmiadKOk/PFd
2p+LzOFyKa8q5ZUEI6aEddj8KlcpRRp9hOsTqz36JKNAMYJHnhKXq8Cv2yUxZD6s
MQIDAQAB
-----END PUBLIC KEY-----";
    const EC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+M045WEA4e2wU7rzq5ONHHQHDDca
7D/QEEpG2y8EwYFVU2mltlX9xS/0Cy1vr1hP2lh6jPY4t2DVvnAEWpyXLg==
-----END PUBLIC KEY-----";
    const RSA_1024: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC9LmAy5szTRiDy7NTSi7ElOQqy
gXvvjC8pxeYin9C3/j2yxx024mTWbhBforfE0gwt1qINIA8FWT13X5fsY7L9EgkQ
3Agmfoflxq5QZ5gpXj23+9e/cl3dxQAZo6OB8yFqO2GoAu1hY3ipYEz3/kvBVXYA
EoNVkNWPLTU02Ysx7QIDAQAB
-----END PUBLIC KEY-----";

    #[test]
    fn reads_rsa_2048_and_p256_keys() {
        let (alg, key) = parse_public_key(RSA).unwrap();
        assert_eq!(alg, KeyAlgorithm::Rsa2048);
        assert_eq!(key[0], 0x30);
        let (alg, key) = parse_public_key(EC).unwrap();
        assert_eq!(alg, KeyAlgorithm::EcdsaP256);
        assert_eq!((key.len(), key[0]), (65, 4));
    }

    #[test]
    fn refuses_what_cloudfront_refuses_without_panicking() {
        assert!(
            parse_public_key("-----BEGIN RSA PUBLIC KEY-----\nAA==\n-----END RSA PUBLIC KEY-----")
                .unwrap_err()
                .contains("PKCS#1")
        );
        assert!(parse_public_key("-----BEGIN PRIVATE KEY-----").unwrap_err().contains("private key"));
        assert!(parse_public_key("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----").is_err());
        assert!(parse_public_key(RSA_1024).unwrap_err().contains("1024 bits"));
        let b64: String = RSA.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        for n in 0..der.len() {
            assert!(parse_spki(&der[..n]).is_err(), "a key cut at {n} bytes was accepted");
        }
    }
}
