//! A stored response's headers, packed into one buffer.
//!
//! An `http::HeaderMap` costs about 100 bytes of bookkeeping per header (a bucket of
//! hash, name, value and links, with spare capacity) plus an allocation per value: more
//! than a 1 KiB object's body once it has eight headers. A cache holds millions of them,
//! so it keeps each as the text `name:value\n`, back to back in one buffer (names are
//! lower-case and contain no `:`; values never contain `\n`), and rebuilds a map when a
//! response is built. Values handed out share the buffer (no copy).
//!
//! A name found in [`KNOWN`] is kept as one byte, `0x80 + its index`, in place of its
//! text (no header name has a byte above `0x7f`, so the two cannot be confused): that
//! saves its text, and rebuilding a map on every hit takes the name from the table
//! instead of parsing it, which is most of what a hit spends on the stored headers.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The first byte of a name kept as its index in [`KNOWN`].
const CODED: u8 = 0x80;

/// Names origins and S3 commonly answer with, each kept as one byte. Order is free (the
/// packed form lives in memory only; the disk tier writes names out), but at most 128.
static KNOWN: [HeaderName; 52] = [
    header::ACCEPT_RANGES,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
    header::AGE,
    header::ALT_SVC,
    header::CACHE_CONTROL,
    header::CONTENT_DISPOSITION,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LENGTH,
    header::CONTENT_LOCATION,
    header::CONTENT_RANGE,
    header::CONTENT_SECURITY_POLICY,
    header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
    header::CONTENT_TYPE,
    header::DATE,
    header::ETAG,
    header::EXPIRES,
    header::LAST_MODIFIED,
    header::LINK,
    header::LOCATION,
    header::PRAGMA,
    header::REFERRER_POLICY,
    header::RETRY_AFTER,
    header::SERVER,
    header::SET_COOKIE,
    header::STRICT_TRANSPORT_SECURITY,
    header::VARY,
    header::VIA,
    header::WARNING,
    header::WWW_AUTHENTICATE,
    header::X_CONTENT_TYPE_OPTIONS,
    header::X_FRAME_OPTIONS,
    header::X_XSS_PROTECTION,
    HeaderName::from_static("cross-origin-embedder-policy"),
    HeaderName::from_static("cross-origin-opener-policy"),
    HeaderName::from_static("cross-origin-resource-policy"),
    HeaderName::from_static("permissions-policy"),
    HeaderName::from_static("server-timing"),
    HeaderName::from_static("timing-allow-origin"),
    HeaderName::from_static("x-amz-id-2"),
    HeaderName::from_static("x-amz-request-id"),
    HeaderName::from_static("x-amz-server-side-encryption"),
    HeaderName::from_static("x-amz-storage-class"),
    HeaderName::from_static("x-amz-version-id"),
    HeaderName::from_static("x-powered-by"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-robots-tag"),
];

/// Headers in the packed form described in the module docs. Cheap to clone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoredHeaders {
    block: Bytes,
}

impl std::fmt::Debug for StoredHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<&HeaderMap> for StoredHeaders {
    fn from(map: &HeaderMap) -> Self {
        StoredHeaders::from_map(map)
    }
}

impl StoredHeaders {
    /// Packs `map` (order and repeated names kept).
    pub fn from_map(map: &HeaderMap) -> Self {
        if map.is_empty() {
            return StoredHeaders::default();
        }
        // Exact, so the buffer holds no spare capacity for its whole life in the cache.
        let size = map.iter().map(|(n, v)| known_index(n).map_or(n.as_str().len(), |_| 1) + v.len() + 2).sum();
        let mut block = Vec::with_capacity(size);
        for (name, value) in map {
            match known_index(name) {
                Some(index) => block.push(CODED + index),
                None => block.extend_from_slice(name.as_str().as_bytes()),
            }
            block.push(b':');
            block.extend_from_slice(value.as_bytes());
            block.push(b'\n');
        }
        let block = Bytes::from(block);
        // A `Bytes` made from a `Vec` allocates its shared counter on its first clone; make
        // that happen now, so an object's size does not change once it is served.
        drop(block.clone());
        StoredHeaders { block }
    }

    /// The headers as a map for a response (values share the packed buffer).
    ///
    /// A hit rebuilds its object's map for every response; cloning a map is several times
    /// cheaper than rebuilding one, so each thread keeps the maps of the objects it serves
    /// repeatedly (see [`RECENT_MAPS`]).
    pub fn to_map(&self) -> HeaderMap {
        if self.block.is_empty() || self.block.len() > RECENT_MAX_TEXT {
            return self.build_map();
        }
        // Fibonacci hashing of the buffer's address spreads same-sized allocations.
        let slot = ((self.block.as_ptr() as usize).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % RECENT_SLOTS;
        RECENT_MAPS.with(|recent| {
            let Ok(mut recent) = recent.try_borrow_mut() else { return self.build_map() };
            if recent.slots.is_empty() {
                recent.slots.resize_with(RECENT_SLOTS, || None);
                recent.last_missed.resize(RECENT_SLOTS, 0);
            }
            let RecentMaps { slots, last_missed } = &mut *recent;
            let (Some(entry), Some(missed)) = (slots.get_mut(slot), last_missed.get_mut(slot)) else {
                return self.build_map();
            };
            // The entry holds its buffer, so no other buffer can have that address while it is kept.
            if let Some((block, map)) = entry.as_ref()
                && block.as_ptr() == self.block.as_ptr()
                && block.len() == self.block.len()
            {
                return map.clone();
            }
            let map = self.build_map();
            // Kept only when seen twice in a row, so a stream of distinct objects costs no clones.
            if *missed == self.block.as_ptr() as usize {
                *entry = Some((self.block.clone(), map.clone()));
            } else {
                *missed = self.block.as_ptr() as usize;
            }
            map
        })
    }

    /// Rebuilds the map from the packed text.
    fn build_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.len());
        for (name, value) in self.iter() {
            map.append(name, value);
        }
        map
    }

    /// Each `(name, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
        self.lines().filter_map(|(name, value)| {
            // Both were valid when packed; a line that would not be is skipped rather than served.
            let name = match self.block[name.clone()] {
                [code] if code >= CODED => KNOWN.get(usize::from(code - CODED))?.clone(),
                ref text => HeaderName::from_bytes(text).ok()?,
            };
            let value = HeaderValue::from_maybe_shared(self.block.slice(value)).ok()?;
            Some((name, value))
        })
    }

    /// The first value of `name`.
    pub fn get(&self, name: impl AsRef<str>) -> Option<HeaderValue> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a, N: AsRef<str> + 'a>(&'a self, name: N) -> impl Iterator<Item = HeaderValue> + 'a {
        self.lines()
            .filter(move |(n, _)| self.name_text(n.clone()).eq_ignore_ascii_case(name.as_ref().as_bytes()))
            .filter_map(|(_, value)| HeaderValue::from_maybe_shared(self.block.slice(value)).ok())
    }

    /// Whether `name` is present.
    pub fn contains_key(&self, name: impl AsRef<str>) -> bool {
        self.get(name).is_some()
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        memchr::memchr_iter(b'\n', &self.block).count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.block.is_empty()
    }

    /// Bytes of header text held (names, or one byte for a [`KNOWN`] name, values, and one
    /// separator and one end per header).
    pub fn text_len(&self) -> usize {
        self.block.len()
    }

    /// The text of the name at `range`, whether kept as text or as a [`KNOWN`] index.
    fn name_text(&self, range: std::ops::Range<usize>) -> &[u8] {
        match &self.block[range] {
            [code] if *code >= CODED => KNOWN.get(usize::from(code - CODED)).map_or(&[][..], |k| k.as_str().as_bytes()),
            text => text,
        }
    }

    /// The name's and the value's byte ranges of each line.
    fn lines(&self) -> impl Iterator<Item = (std::ops::Range<usize>, std::ops::Range<usize>)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let rest = self.block.get(at..)?;
            let end = at + memchr::memchr(b'\n', rest)?;
            let colon = match rest {
                [code, b':', ..] if *code >= CODED => at + 1,
                _ => at + memchr::memchr(b':', &self.block[at..end])?,
            };
            let line = (at..colon, colon + 1..end);
            at = end + 1;
            Some(line)
        })
    }
}

/// Slots per thread of [`RECENT_MAPS`].
const RECENT_SLOTS: usize = 256;

/// Headers longer than this are rebuilt every time, bounding what [`RECENT_MAPS`] holds.
const RECENT_MAX_TEXT: usize = 1024;

/// Maps a thread rebuilt recently, each beside the packed buffer it came from.
#[derive(Default)]
struct RecentMaps {
    /// Direct-mapped by the buffer's address.
    slots: Vec<Option<(Bytes, HeaderMap)>>,
    /// The address last rebuilt in each slot without being kept.
    last_missed: Vec<usize>,
}

thread_local! {
    /// At most [`RECENT_SLOTS`] maps of at most [`RECENT_MAX_TEXT`] bytes of text per thread
    /// (about 600 KB when full), outside the cache's accounting; a buffer stays alive while
    /// its slot holds it, even after its object is evicted.
    static RECENT_MAPS: std::cell::RefCell<RecentMaps> = std::cell::RefCell::new(RecentMaps::default());
}

/// `name`'s index in [`KNOWN`].
fn known_index(name: &HeaderName) -> Option<u8> {
    KNOWN.iter().position(|known| known == name).and_then(|i| u8::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("content-type", HeaderValue::from_static("text/plain"));
        m.append("set-cookie", HeaderValue::from_static("a=1"));
        m.append("x-amz-meta-colour", HeaderValue::from_static("blue: navy"));
        m.append("set-cookie", HeaderValue::from_static("b=2"));
        m.insert("etag", HeaderValue::from_static("\"v1\""));
        m.insert("x-empty", HeaderValue::from_static(""));
        m
    }

    #[test]
    fn a_map_comes_back_as_it_was_packed() {
        let map = sample();
        let stored = StoredHeaders::from_map(&map);
        assert_eq!(stored.to_map(), map);
        assert_eq!(stored.len(), map.len());
        assert_eq!(stored.iter().count(), map.len());
    }

    #[test]
    fn lookups_find_every_value_of_a_name() {
        let stored = StoredHeaders::from_map(&sample());
        let cookies: Vec<_> = stored.get_all("Set-Cookie").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(stored.get(http::header::ETAG).unwrap(), "\"v1\"");
        assert_eq!(stored.get("x-amz-meta-colour").unwrap(), "blue: navy", "a colon in a value is kept");
        assert_eq!(stored.get("x-empty").unwrap(), "");
        assert!(stored.get("last-modified").is_none());
        assert!(!stored.contains_key("x-amz"), "a prefix of a name is not the name");
    }

    #[test]
    fn repeated_and_interleaved_rebuilds_give_each_its_own_map() {
        let a = StoredHeaders::from_map(&sample());
        let mut other = sample();
        other.insert("etag", HeaderValue::from_static("\"v2\""));
        let b = StoredHeaders::from_map(&other);
        for _ in 0..3 {
            assert_eq!(a.to_map(), sample());
            assert_eq!(b.to_map(), other);
        }
        // A buffer freed and another allocated at its address is never taken for it: the
        // kept entry holds its buffer alive.
        for i in 0..100 {
            let mut map = sample();
            map.insert("x-round", HeaderValue::from(i));
            let stored = StoredHeaders::from_map(&map);
            assert_eq!(stored.to_map(), map);
            assert_eq!(stored.to_map(), map);
        }
    }

    #[test]
    fn an_empty_map_holds_nothing() {
        let stored = StoredHeaders::from_map(&HeaderMap::new());
        assert!(stored.is_empty());
        assert_eq!(stored.len(), 0);
        assert_eq!(stored.text_len(), 0);
        assert!(stored.to_map().is_empty());
    }

    #[test]
    fn the_text_is_all_it_holds() {
        let stored = StoredHeaders::from_map(&sample());
        // Known names take one byte; the others their text.
        let name_len = |n: &HeaderName| if KNOWN.contains(n) { 1 } else { n.as_str().len() };
        let text: usize = sample().iter().map(|(n, v)| name_len(n) + v.len() + 2).sum();
        assert_eq!(stored.text_len(), text);
        assert!(text < sample().iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum::<usize>());
    }

    #[test]
    fn every_known_name_comes_back_and_is_found_by_its_text() {
        assert!(KNOWN.len() <= 128, "a known name's index must fit beside the marker bit");
        let mut map = HeaderMap::new();
        for (i, name) in KNOWN.iter().enumerate() {
            map.append(name.clone(), HeaderValue::from(i));
        }
        map.append("x-not-known", HeaderValue::from_static("custom"));
        let stored = StoredHeaders::from_map(&map);
        assert_eq!(stored.to_map(), map);
        for (i, name) in KNOWN.iter().enumerate() {
            assert_eq!(stored.get(name.as_str().to_ascii_uppercase()).unwrap(), HeaderValue::from(i));
        }
        assert_eq!(stored.get("x-not-known").unwrap(), "custom");
        let distinct: std::collections::HashSet<_> = KNOWN.iter().collect();
        assert_eq!(distinct.len(), KNOWN.len(), "each known name once");
    }
}
