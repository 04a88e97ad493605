//! Byte encodings and digests behind `crypto`, `Buffer`, `querystring.unescape` and the
//! cloudfront-js-1.0 String byte helpers. Decoding is lenient the way Node's is.

use base64::Engine as _;
use hmac::{Hmac, Mac};

/// Encodings the JavaScript side passes (already normalised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    /// UTF-8 that must be valid (`fromUTF8` returns null otherwise).
    Utf8Strict,
    Latin1,
    Hex,
    Base64,
    Base64Url,
}

impl Encoding {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "utf8" => Self::Utf8,
            "utf8strict" => Self::Utf8Strict,
            "latin1" => Self::Latin1,
            "hex" => Self::Hex,
            "base64" => Self::Base64,
            "base64url" => Self::Base64Url,
            _ => return None,
        })
    }
}

/// Text → bytes.
pub(crate) fn decode(text: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 | Encoding::Utf8Strict => text.as_bytes().to_vec(),
        Encoding::Latin1 => latin1_bytes(text),
        Encoding::Hex => {
            let digits: Vec<u8> = text.bytes().collect();
            let mut out = Vec::with_capacity(digits.len() / 2);
            for pair in digits.chunks_exact(2) {
                match (hex_value(pair[0]), hex_value(pair[1])) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => break,
                }
            }
            out
        }
        Encoding::Base64 | Encoding::Base64Url => decode_base64_lenient(text),
    }
}

/// Bytes → text; `None` only for [`Encoding::Utf8Strict`] on invalid UTF-8.
pub(crate) fn encode(bytes: &[u8], encoding: Encoding) -> Option<String> {
    Some(match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Utf8Strict => return std::str::from_utf8(bytes).ok().map(str::to_owned),
        Encoding::Latin1 => latin1_string(bytes),
        Encoding::Hex => {
            let mut s = String::with_capacity(bytes.len() * 2);
            for b in bytes {
                s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
            }
            s
        }
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    })
}

/// Each char's low byte (JavaScript "binary" strings hold one byte per char).
pub(crate) fn latin1_bytes(text: &str) -> Vec<u8> {
    text.chars().map(|c| (u32::from(c) & 0xff) as u8).collect()
}

pub(crate) fn latin1_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Percent-decoding that never fails: `%XX` becomes a byte, other characters their UTF-8
/// bytes, and invalid UTF-8 becomes U+FFFD (Node's `querystring.unescape` fallback).
pub(crate) fn unescape_lossy(text: &str) -> String {
    let raw = text.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let (Some(h), Some(l)) =
                (raw.get(i + 1).copied().and_then(hex_value), raw.get(i + 2).copied().and_then(hex_value))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Accepts both alphabets, skips characters outside them, stops at `=`.
fn decode_base64_lenient(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// WHATWG's forgiving-base64 decode (what `atob` does): ASCII whitespace is ignored, padding
/// is optional but must be right when present, anything outside the standard alphabet fails.
pub(crate) fn forgiving_base64(text: &str) -> Option<Vec<u8>> {
    let mut data: Vec<u8> = text.bytes().filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')).collect();
    if data.len().is_multiple_of(4) {
        if data.ends_with(b"==") {
            data.truncate(data.len() - 2);
        } else if data.ends_with(b"=") {
            data.truncate(data.len() - 1);
        }
    }
    if data.len() % 4 == 1 || !data.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/') {
        return None;
    }
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(&data).ok().or_else(|| {
        // Leftover bits that are not zero: decode leniently, as browsers do.
        Some(decode_base64_lenient(std::str::from_utf8(&data).ok()?))
    })
}

/// Hash or HMAC (when `key` is given) of the concatenated parts.
pub(crate) fn digest(algorithm: &str, key: Option<&[u8]>, parts: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    fn run<D: sha2::Digest>(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    fn run_hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let mut m = <M as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
        for p in parts {
            m.update(p);
        }
        Ok(m.finalize().into_bytes().to_vec())
    }
    match (algorithm, key) {
        ("md5", None) => Ok(run::<md5::Md5>(parts)),
        ("sha1", None) => Ok(run::<sha1::Sha1>(parts)),
        ("sha256", None) => Ok(run::<sha2::Sha256>(parts)),
        ("md5", Some(k)) => run_hmac::<Hmac<md5::Md5>>(k, parts),
        ("sha1", Some(k)) => run_hmac::<Hmac<sha1::Sha1>>(k, parts),
        ("sha256", Some(k)) => run_hmac::<Hmac<sha2::Sha256>>(k, parts),
        _ => Err("Digest method not supported".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values() {
        let hex = |b: Vec<u8>| encode(&b, Encoding::Hex).unwrap();
        assert_eq!(hex(digest("md5", None, &[b"abc".to_vec()]).unwrap()), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(digest("sha1", None, &[b"abc".to_vec()]).unwrap()), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(digest("sha256", None, &[b"a".to_vec(), b"bc".to_vec()]).unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hex(digest("sha256", Some(b"Jefe"), &[b"what do ya want for nothing?".to_vec()]).unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(digest("sha512", None, &[]).is_err());
    }

    #[test]
    fn decoding_is_lenient_like_node() {
        assert_eq!(decode("68656c6c6fzz", Encoding::Hex), b"hello");
        assert_eq!(decode("aGVsbG8", Encoding::Base64), b"hello");
        assert_eq!(decode("aGVs bG8=", Encoding::Base64Url), b"hello");
        assert_eq!(decode("-_8", Encoding::Base64), [0xfb, 0xff]);
        assert_eq!(encode(&[0xfb, 0xff], Encoding::Base64Url).unwrap(), "-_8");
        assert_eq!(encode(&[0xff], Encoding::Utf8Strict), None);
        assert_eq!(unescape_lossy("a%20b%zz%e9"), "a b%zz\u{fffd}");
    }

    #[test]
    fn forgiving_base64_is_what_atob_accepts() {
        assert_eq!(forgiving_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(forgiving_base64(" aGVs\nbG8 ").unwrap(), b"hello");
        assert_eq!(forgiving_base64("YQ").unwrap(), b"a");
        assert_eq!(forgiving_base64("YR==").unwrap(), b"a", "non-zero leftover bits are ignored");
        assert_eq!(forgiving_base64("").unwrap(), b"");
        for bad in ["a", "aGVsbG8-", "aGVs_G8=", "aGVsbG8===", "a=bc", "YQ="] {
            assert!(forgiving_base64(bad).is_none(), "{bad}");
        }
    }
}
