//! Route (§1 step 3, §5.1): the path a behavior is chosen by.
//!
//! CloudFront "normalizes URI paths consistent with RFC 3986 and then matches the
//! path with the correct cache behavior. Once the cache behavior is matched,
//! CloudFront sends the raw URI path to the origin", removing "multiple slashes
//! (//) or periods (..)" (Developer Guide, cache behavior settings, path
//! normalization:
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#path-normalization>).
//!
//! So the normalised path is used for one thing only — choosing the behavior —
//! and everything else (the cache key, the function's `uri`, the origin request
//! and the log) keeps the raw path. The steps, in RFC 3986 §6.2.2 order:
//!
//! 1. percent-escapes of unreserved characters (`A–Z a–z 0–9 - . _ ~`) are decoded
//!    (§6.2.2.2), so `/%61dmin` is `/admin` and `%2e%2e` is `..`; other escapes keep
//!    their bytes with upper-case hex (§6.2.2.1), so `%2f` never becomes a separator;
//! 2. runs of `/` become one (CloudFront goes beyond RFC 3986 here, as documented);
//! 3. dot segments are removed (RFC 3986 §5.2.4 `remove_dot_segments`), a `..`
//!    above the root being dropped.
//!
//! `\` and `;` are ordinary characters (RFC 3986 gives them no meaning in paths).

use std::borrow::Cow;

/// The path CloudFront matches path patterns against: `raw` normalised as the module
/// documentation describes. Borrows `raw` when it is already normal (the common case).
pub fn behavior_path(raw: &str) -> Cow<'_, str> {
    if is_normal(raw) {
        return Cow::Borrowed(raw);
    }
    let decoded = decode_unreserved(raw);
    let merged = merge_slashes(&decoded);
    Cow::Owned(remove_dot_segments(&merged))
}

/// True when normalisation would not change `path`: no `%`, no `//`, no dot segment.
fn is_normal(path: &str) -> bool {
    let b = path.as_bytes();
    if b.contains(&b'%') {
        return false;
    }
    // A dot segment is `.` or `..` between slashes (or at the end).
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' {
            let rest = &b[i + 1..];
            let seg_end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
            let seg = &rest[..seg_end];
            if seg == b"." || seg == b".." || (seg.is_empty() && seg_end < rest.len()) {
                return false;
            }
            i += 1 + seg_end;
        } else {
            i += 1;
        }
    }
    !(b == b"." || b == b"..")
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters; upper-cases the hex of the others.
fn decode_unreserved(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex))
        {
            let c = h * 16 + l;
            if unreserved(c) {
                out.push(c);
            } else {
                out.push(b'%');
                out.push(b[i + 1].to_ascii_uppercase());
                out.push(b[i + 2].to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    // Only ASCII bytes were decoded, so the text stays valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut previous_slash = false;
    for c in path.chars() {
        if c == '/' {
            if previous_slash {
                continue;
            }
            previous_slash = true;
        } else {
            previous_slash = false;
        }
        out.push(c);
    }
    out
}

/// RFC 3986 §5.2.4, on a path that starts with `/` (or is relative: then it is made absolute).
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let body = path.strip_prefix('/').unwrap_or(path);
    let parts: Vec<&str> = body.split('/').collect();
    let last = parts.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                segments.pop();
                trailing_slash = i == last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths_are_borrowed() {
        for p in ["/", "/a/b.jpg", "/images/hero.jpg", "/a.b/c..d/...", "/a/"] {
            assert!(matches!(behavior_path(p), Cow::Borrowed(_)), "{p}");
        }
    }

    #[test]
    fn normalises_as_rfc_3986_plus_merged_slashes() {
        let cases = [
            ("/public/../admin/secret.txt", "/admin/secret.txt"),
            ("/./admin/secret.txt", "/admin/secret.txt"),
            ("/public/%2e%2e/admin/secret.txt", "/admin/secret.txt"),
            ("/public/%2E%2E/admin/secret.txt", "/admin/secret.txt"),
            ("//admin/secret.txt", "/admin/secret.txt"),
            ("/%61dmin/secret.txt", "/admin/secret.txt"),
            ("/admin%2fsecret.txt", "/admin%2Fsecret.txt"),
            ("/admin/./x", "/admin/x"),
            ("/a/b/..", "/a/"),
            ("/admin/..", "/"),
            ("/../admin/x", "/admin/x"),
            ("/../../..", "/"),
            ("/a//b///c", "/a/b/c"),
            ("/a/b/.", "/a/b/"),
            ("/public\\..\\admin\\x", "/public\\..\\admin\\x"),
            ("/public/..;/admin/x", "/public/..;/admin/x"),
            ("/%7euser/%5c", "/~user/%5C"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/100%", "/100%"),
            ("/bad%zz/../x", "/x"),
            ("/café/../x", "/x"),
        ];
        for (raw, want) in cases {
            assert_eq!(behavior_path(raw), want, "{raw}");
        }
    }
}
