//! The cache file format: the body, then a trailer with everything needed to serve it
//! again after a restart, then a fixed footer.
//!
//! ```text
//! [body: body_len bytes]
//! [trailer: metadata, then the CRC32 of every BLOCK_SIZE block of the body]
//! [footer, 32 bytes: trailer offset u64, trailer length u64, trailer CRC32 u32, version u32, magic 8 bytes]
//! ```
//!
//! All integers are little-endian. A file is accepted only when the magic and version
//! match, the trailer starts right after the body and ends at the footer, the trailer's
//! CRC32 matches, and it carries one block checksum per block. Files are named by the
//! SHA-256 of the cache key (`<hh>/<hh>/<32 hex>.obj`); the key itself is in the trailer
//! and compared on every open, so another key's file is never served.

use crate::body::BLOCK_SIZE;
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Last bytes of every cache file.
pub(crate) const MAGIC: &[u8; 8] = b"CACHALOT";
/// Format version.
pub(crate) const VERSION: u32 = 1;
/// Footer length.
pub(crate) const FOOTER_LEN: u64 = 32;
/// Largest trailer accepted (headers, key and block checksums of a 50 GB body fit).
const MAX_TRAILER: u64 = 64 * 1024 * 1024;

/// What a cache file says about its object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    pub(crate) key: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) stored_at_ms: u64,
    pub(crate) ttl_secs: u64,
    pub(crate) stale_while_revalidate_secs: u64,
    pub(crate) stale_if_error_secs: u64,
    pub(crate) invalidation_target: String,
    pub(crate) tags: Vec<String>,
    pub(crate) edge_encoding: Option<&'static str>,
    pub(crate) body_len: u64,
    pub(crate) crcs: Vec<u32>,
}

/// The 128-bit file id of a cache key and the 64-bit id the index uses.
pub(crate) fn ids(key: &str) -> ([u8; 16], u64) {
    let digest = Sha256::digest(key.as_bytes());
    let mut full = [0u8; 16];
    full.copy_from_slice(&digest[..16]);
    let mut short = [0u8; 8];
    short.copy_from_slice(&digest[..8]);
    (full, u64::from_le_bytes(short))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<dir>/<hh>/<hh>/<32 hex>.obj`.
pub(crate) fn object_path(dir: &Path, file_id: &[u8; 16]) -> PathBuf {
    let name = hex(file_id);
    dir.join(&name[..2]).join(&name[2..4]).join(format!("{name}.obj"))
}

/// The file id in a file name, when it is one of ours.
pub(crate) fn parse_name(name: &str) -> Option<[u8; 16]> {
    let hex = name.strip_suffix(".obj")?;
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The 64-bit index id of a file id.
pub(crate) fn short_id(file_id: &[u8; 16]) -> u64 {
    let mut short = [0u8; 8];
    short.copy_from_slice(&file_id[..8]);
    u64::from_le_bytes(short)
}

/// Number of blocks of a body of `len` bytes.
pub(crate) fn block_count(len: u64) -> u64 {
    len.div_ceil(BLOCK_SIZE)
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The trailer and footer for `meta`, to be written at offset `meta.body_len`.
pub(crate) fn encode_trailer(meta: &Meta) -> Vec<u8> {
    let mut t = Vec::with_capacity(256 + meta.crcs.len() * 4);
    t.extend_from_slice(&meta.status.to_le_bytes());
    for v in [meta.stored_at_ms, meta.ttl_secs, meta.stale_while_revalidate_secs, meta.stale_if_error_secs] {
        t.extend_from_slice(&v.to_le_bytes());
    }
    t.push(match meta.edge_encoding {
        Some("gzip") => 1,
        Some("br") => 2,
        _ => 0,
    });
    put_bytes(&mut t, meta.key.as_bytes());
    put_bytes(&mut t, meta.invalidation_target.as_bytes());
    t.extend_from_slice(&(meta.tags.len() as u32).to_le_bytes());
    for tag in &meta.tags {
        put_bytes(&mut t, tag.as_bytes());
    }
    t.extend_from_slice(&(meta.headers.len() as u32).to_le_bytes());
    for (name, value) in &meta.headers {
        put_bytes(&mut t, name.as_str().as_bytes());
        put_bytes(&mut t, value.as_bytes());
    }
    t.extend_from_slice(&meta.body_len.to_le_bytes());
    t.extend_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
    t.extend_from_slice(&(meta.crcs.len() as u32).to_le_bytes());
    for c in &meta.crcs {
        t.extend_from_slice(&c.to_le_bytes());
    }
    let crc = crc32fast::hash(&t);
    let len = t.len() as u64;
    t.extend_from_slice(&meta.body_len.to_le_bytes());
    t.extend_from_slice(&len.to_le_bytes());
    t.extend_from_slice(&crc.to_le_bytes());
    t.extend_from_slice(&VERSION.to_le_bytes());
    t.extend_from_slice(MAGIC);
    t
}

/// Where the trailer lies, from the footer: (offset, length, CRC32).
pub(crate) fn parse_footer(footer: &[u8], file_len: u64) -> Result<(u64, u64, u32), String> {
    if footer.len() != FOOTER_LEN as usize || &footer[24..32] != MAGIC {
        return Err("not a cache file (no magic)".to_owned());
    }
    let u64_at = |i: usize| footer.get(i..i + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
    let u32_at = |i: usize| footer.get(i..i + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes);
    let (offset, len, crc, version) = (u64_at(0), u64_at(8), u32_at(16), u32_at(20));
    if version != VERSION {
        return Err(format!("cache file version {version}, expected {VERSION}"));
    }
    if len > MAX_TRAILER || offset.checked_add(len).and_then(|e| e.checked_add(FOOTER_LEN)) != Some(file_len) {
        return Err("the trailer does not end at the footer (a partial or foreign file)".to_owned());
    }
    Ok((offset, len, crc))
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the trailer is cut short".to_owned());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| "bad u16")?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "bad u32")?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "bad u64")?))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "text in the trailer is not UTF-8".to_owned())
    }
}

/// Decodes a trailer whose CRC32 is `crc` and which starts at `offset` (= the body length).
pub(crate) fn decode_trailer(trailer: &[u8], offset: u64, crc: u32) -> Result<Meta, String> {
    if crc32fast::hash(trailer) != crc {
        return Err("the trailer fails its checksum".to_owned());
    }
    let mut c = Cursor(trailer);
    let status = c.u16()?;
    let (stored_at_ms, ttl_secs, swr, sie) = (c.u64()?, c.u64()?, c.u64()?, c.u64()?);
    let edge_encoding = match c.take(1)?[0] {
        1 => Some("gzip"),
        2 => Some("br"),
        _ => None,
    };
    let key = c.text()?;
    let invalidation_target = c.text()?;
    let tags = (0..c.u32()?).map(|_| c.text()).collect::<Result<Vec<_>, _>>()?;
    let header_count = c.u32()?;
    let mut headers = HeaderMap::with_capacity(header_count.min(256) as usize);
    for _ in 0..header_count {
        let name = HeaderName::from_bytes(c.bytes()?).map_err(|_| "a header name in the trailer is invalid")?;
        let value = HeaderValue::from_bytes(c.bytes()?).map_err(|_| "a header value in the trailer is invalid")?;
        headers.append(name, value);
    }
    let body_len = c.u64()?;
    let block = c.u32()?;
    let count = c.u32()?;
    if body_len != offset || u64::from(block) != BLOCK_SIZE || u64::from(count) != block_count(body_len) {
        return Err("the trailer's lengths do not match the file".to_owned());
    }
    let crcs = (0..count).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
    if !c.0.is_empty() {
        return Err("unexpected bytes after the trailer".to_owned());
    }
    Ok(Meta {
        key,
        status,
        headers,
        stored_at_ms,
        ttl_secs,
        stale_while_revalidate_secs: swr,
        stale_if_error_secs: sie,
        invalidation_target,
        tags,
        edge_encoding,
        body_len,
        crcs,
    })
}

/// Reads and checks the metadata of an open cache file of `file_len` bytes.
pub(crate) fn read_meta(file: &std::fs::File, file_len: u64) -> Result<Meta, String> {
    if file_len < FOOTER_LEN {
        return Err("too short to be a cache file".to_owned());
    }
    let mut footer = [0u8; FOOTER_LEN as usize];
    crate::body::read_exact_at(file, &mut footer, file_len - FOOTER_LEN).map_err(|e| e.to_string())?;
    let (offset, len, crc) = parse_footer(&footer, file_len)?;
    let mut trailer = vec![0u8; len as usize];
    crate::body::read_exact_at(file, &mut trailer, offset).map_err(|e| e.to_string())?;
    decode_trailer(&trailer, offset, crc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        Meta {
            key: "/a\u{1f}DE1".to_owned(),
            status: 200,
            headers,
            stored_at_ms: 1_700_000_000_000,
            ttl_secs: 60,
            stale_while_revalidate_secs: 5,
            stale_if_error_secs: 7,
            invalidation_target: "/a".to_owned(),
            tags: vec!["red".to_owned()],
            edge_encoding: Some("br"),
            body_len: 300_000,
            crcs: vec![1, 2],
        }
    }

    #[test]
    fn trailer_round_trips_and_refuses_damage() {
        let m = meta();
        let t = encode_trailer(&m);
        let file_len = m.body_len + t.len() as u64;
        let footer = &t[t.len() - FOOTER_LEN as usize..];
        let (offset, len, crc) = parse_footer(footer, file_len).unwrap();
        assert_eq!(offset, m.body_len);
        let back = decode_trailer(&t[..len as usize], offset, crc).unwrap();
        assert_eq!(back, m);
        let mut bad = t.clone();
        bad[10] ^= 1;
        assert!(decode_trailer(&bad[..len as usize], offset, crc).is_err(), "a flipped bit");
        assert!(parse_footer(footer, file_len - 1).is_err(), "a truncated body");
        let mut foreign = footer.to_vec();
        foreign[31] = b'X';
        assert!(parse_footer(&foreign, file_len).is_err(), "no magic");
    }

    #[test]
    fn names_round_trip() {
        let (full, short) = ids("/a");
        let path = object_path(Path::new("/c"), &full);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_name(name), Some(full));
        assert_eq!(short_id(&full), short);
        assert_eq!(parse_name("x.obj"), None);
    }
}
