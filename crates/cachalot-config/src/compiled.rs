//! Hot-path tables: path-pattern matchers and the Host → distribution map.

use std::collections::HashMap;

/// A CloudFront `PathPattern`: `*` matches any run of characters (including `/`),
/// `?` exactly one character, everything else itself, case-sensitively,
/// anchored to the whole path. A missing leading `/` is implied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    tokens: Vec<Token>,
    /// Fast paths for the common shapes.
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(Vec<u8>),
    One,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// `*`: everything.
    All,
    /// `/prefix*`.
    Prefix(Vec<u8>),
    /// `*suffix` (e.g. `*.jpg`).
    Suffix(Vec<u8>),
    /// `/exact`.
    Exact(Vec<u8>),
    /// Anything else.
    General,
}

impl PathPattern {
    /// Compiles a pattern. Never fails: validation of the allowed characters is
    /// done by config validation so that the matcher itself is total.
    pub fn new(pattern: &str) -> Self {
        let source = pattern.to_owned();
        let normalized = if pattern == "*" || pattern.starts_with('/') || pattern.starts_with('*') {
            pattern.to_owned()
        } else {
            format!("/{pattern}")
        };
        let mut tokens: Vec<Token> = Vec::new();
        for b in normalized.bytes() {
            match b {
                b'*' => {
                    if tokens.last() != Some(&Token::Any) {
                        tokens.push(Token::Any);
                    }
                }
                b'?' => tokens.push(Token::One),
                _ => match tokens.last_mut() {
                    Some(Token::Literal(lit)) => lit.push(b),
                    _ => tokens.push(Token::Literal(vec![b])),
                },
            }
        }
        let shape = match tokens.as_slice() {
            [Token::Any] => Shape::All,
            [Token::Literal(l), Token::Any] => Shape::Prefix(l.clone()),
            [Token::Any, Token::Literal(l)] => Shape::Suffix(l.clone()),
            [Token::Literal(l)] => Shape::Exact(l.clone()),
            _ => Shape::General,
        };
        Self { source, tokens, shape }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `path` (no query string) matches.
    pub fn matches(&self, path: &str) -> bool {
        let p = path.as_bytes();
        match &self.shape {
            Shape::All => true,
            Shape::Prefix(l) => p.starts_with(l),
            Shape::Suffix(l) => p.ends_with(l),
            Shape::Exact(l) => p == l.as_slice(),
            Shape::General => glob_match(&self.tokens, p),
        }
    }
}

/// Iterative wildcard matching with single-star backtracking (linear in practice).
fn glob_match(tokens: &[Token], text: &[u8]) -> bool {
    let (mut ti, mut pos) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if ti < tokens.len() {
            match &tokens[ti] {
                Token::Any => {
                    backtrack = Some((ti, pos));
                    ti += 1;
                    continue;
                }
                Token::One if pos < text.len() => {
                    // `?` is one character; step over a whole UTF-8 sequence.
                    pos += utf8_len(text[pos]);
                    ti += 1;
                    continue;
                }
                Token::Literal(l) if text[pos..].starts_with(l) => {
                    pos += l.len();
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        } else if pos == text.len() {
            return true;
        }
        match backtrack {
            Some((star, start)) if start < text.len() => {
                let next = start + utf8_len(text[start]);
                backtrack = Some((star, next));
                ti = star + 1;
                pos = next;
            }
            _ => return false,
        }
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Maps a viewer `Host` to a distribution index.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    by_host: HashMap<String, usize>,
    count: usize,
}

impl HostTable {
    /// Builds the table from `(index, names)` pairs; names are matched case-insensitively
    /// and `*.example.com` aliases match one label.
    pub fn new<'a>(entries: impl IntoIterator<Item = (usize, Vec<&'a str>)>) -> Self {
        let mut by_host = HashMap::new();
        let mut count = 0;
        for (index, names) in entries {
            count += 1;
            for name in names {
                by_host.entry(name.to_ascii_lowercase()).or_insert(index);
            }
        }
        Self { by_host, count }
    }

    /// The distribution for `host` (port and trailing dot ignored). When exactly one
    /// distribution exists, any host reaches it.
    pub fn lookup(&self, host: &str) -> Option<usize> {
        let host = strip_port(host).trim_end_matches('.');
        let lower;
        let key = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = host.to_ascii_lowercase();
            lower.as_str()
        } else {
            host
        };
        if let Some(i) = self.by_host.get(key) {
            return Some(*i);
        }
        if let Some(dot) = key.find('.') {
            let wildcard = format!("*{}", &key[dot..]);
            if let Some(i) = self.by_host.get(&wildcard) {
                return Some(*i);
            }
        }
        if self.count == 1 { self.by_host.values().next().copied().or(Some(0)) } else { None }
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: keep through the closing bracket.
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_cloudfront_rules() {
        let cases = [
            ("*", "/anything/at/all", true),
            ("/images/*", "/images/a/b.jpg", true),
            ("images/*", "/images/a.jpg", true),
            ("/images/*", "/Images/a.jpg", false),
            ("*.jpg", "/a/b/c.jpg", true),
            ("*.jpg", "/LOGO.JPG", false),
            ("/images/*.jpg", "/images/sub/dir/x.jpg", true),
            ("/images/*.jpg", "/images/x.png", false),
            ("*.doc*", "/a.docx", true),
            ("/a??.jpg", "/abc.jpg", true),
            ("/a??.jpg", "/ab.jpg", false),
            ("/exact.html", "/exact.html", true),
            ("/exact.html", "/exact.html/x", false),
            ("/a*b*c", "/aXbYc", true),
            ("/a*b*c", "/aXbY", false),
            ("/*/*.css", "/x/y.css", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(PathPattern::new(pattern).matches(path), expected, "{pattern} vs {path}");
        }
    }

    #[test]
    fn general_matcher_agrees_with_fast_paths() {
        let general = [Token::Literal(b"/img/".to_vec()), Token::Any];
        assert!(glob_match(&general, b"/img/x"));
        assert!(!glob_match(&general, b"/im"));
    }

    #[test]
    fn host_table_routes_by_name_alias_and_single_default() {
        let table = HostTable::new([(0, vec!["d1.cloudfront.net", "www.example.com"]), (1, vec!["*.example.org"])]);
        assert_eq!(table.lookup("WWW.example.com:8080"), Some(0));
        assert_eq!(table.lookup("cdn.example.org"), Some(1));
        assert_eq!(table.lookup("other"), None);
        let single = HostTable::new([(0, vec!["d1.cloudfront.net"])]);
        assert_eq!(single.lookup("127.0.0.1:8080"), Some(0));
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
