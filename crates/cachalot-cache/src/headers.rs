//! A stored response's headers, packed into one buffer.
//!
//! An `http::HeaderMap` costs about 100 bytes of bookkeeping per header (a bucket of
//! hash, name, value and links, with spare capacity) plus an allocation per value: more
//! than a 1 KiB object's body once it has eight headers. A cache holds millions of them,
//! so it keeps each as the text `name:value\n`, back to back in one buffer (names are
//! lower-case and contain no `:`; values never contain `\n`), and rebuilds a map when a
//! response is built. Values handed out share the buffer (no copy).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

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
        let size = map.iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum();
        let mut block = Vec::with_capacity(size);
        for (name, value) in map {
            block.extend_from_slice(name.as_str().as_bytes());
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
    pub fn to_map(&self) -> HeaderMap {
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
            let name = HeaderName::from_bytes(&self.block[name]).ok()?;
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
            .filter(move |(n, _)| self.block[n.clone()].eq_ignore_ascii_case(name.as_ref().as_bytes()))
            .filter_map(|(_, value)| HeaderValue::from_maybe_shared(self.block.slice(value)).ok())
    }

    /// Whether `name` is present.
    pub fn contains_key(&self, name: impl AsRef<str>) -> bool {
        self.get(name).is_some()
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.block.iter().filter(|b| **b == b'\n').count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.block.is_empty()
    }

    /// Bytes of header text held (names, values and one separator and one end per header).
    pub fn text_len(&self) -> usize {
        self.block.len()
    }

    /// The name's and the value's byte ranges of each line.
    fn lines(&self) -> impl Iterator<Item = (std::ops::Range<usize>, std::ops::Range<usize>)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let rest = self.block.get(at..)?;
            let end = at + rest.iter().position(|b| *b == b'\n')?;
            let colon = at + self.block[at..end].iter().position(|b| *b == b':')?;
            let line = (at..colon, colon + 1..end);
            at = end + 1;
            Some(line)
        })
    }
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
        let text: usize = sample().iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum();
        assert_eq!(stored.text_len(), text);
    }
}
