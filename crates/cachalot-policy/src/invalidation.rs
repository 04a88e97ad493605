//! Invalidation path matching (§7): case-sensitive, `*` only as the last
//! character, query strings matched literally, `#tag` items matching cache tags.

/// One parsed invalidation path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidationPath {
    /// Exactly this `path[?query]`.
    Exact(String),
    /// Everything starting with this (the path had a trailing `*`).
    Prefix(String),
    /// Objects tagged with this cache tag (case-insensitive).
    Tag(String),
}

impl InvalidationPath {
    /// Parses a path as given in `InvalidationBatch.Paths.Items`.
    pub fn parse(path: &str) -> Result<Self, String> {
        if let Some(tag) = path.strip_prefix('#') {
            if tag.is_empty() || tag.contains('*') || tag.len() > 256 {
                return Err(format!("invalid cache tag \"{path}\""));
            }
            return Ok(InvalidationPath::Tag(tag.to_ascii_lowercase()));
        }
        if !path.starts_with('/') {
            return Err(format!("\"{path}\" must start with /"));
        }
        if path.len() > 4000 {
            return Err("an invalidation path is at most 4,000 characters".to_owned());
        }
        match path.find('*') {
            Some(i) if i + 1 == path.len() => Ok(InvalidationPath::Prefix(path[..i].to_owned())),
            Some(_) => Err(format!("\"{path}\": * is allowed only as the last character")),
            None => Ok(InvalidationPath::Exact(path.to_owned())),
        }
    }

    /// True for wildcard paths (counted against the in-progress wildcard quota).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, InvalidationPath::Prefix(_))
    }

    /// Whether an object whose key target is `target` (`path[?keyed query]`) and
    /// whose cache tags are `tags` (lower-case) is invalidated.
    pub fn matches(&self, target: &str, tags: &[String]) -> bool {
        match self {
            InvalidationPath::Exact(p) => p == target,
            InvalidationPath::Prefix(p) => target.starts_with(p.as_str()),
            InvalidationPath::Tag(t) => tags.iter().any(|x| x == t),
        }
    }
}

/// Most cache tags kept per object.
pub const MAX_TAGS_PER_OBJECT: usize = 50;

/// The cache tags an origin response carries in the distribution's tag header
/// (comma-separated, case-insensitive: kept lower-case, at most
/// [`MAX_TAGS_PER_OBJECT`]), matched later by `#tag` invalidations.
pub fn cache_tags(headers: &http::HeaderMap, tag_header: &str) -> Vec<String> {
    headers
        .get_all(tag_header)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .take(MAX_TAGS_PER_OBJECT)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let p = |s: &str| InvalidationPath::parse(s).unwrap();
        assert!(p("/images/a.jpg").matches("/images/a.jpg", &[]));
        assert!(!p("/images/a.jpg").matches("/images/a.jpg?x=1", &[]), "plain path: query-less variant only");
        assert!(p("/images/a.jpg?x=1").matches("/images/a.jpg?x=1", &[]));
        assert!(p("/images/a.jpg*").matches("/images/a.jpg?x=1", &[]));
        assert!(p("/images/*").matches("/images/sub/b.png", &[]));
        assert!(p("/*").matches("/anything", &[]));
        assert!(!p("/Images/*").matches("/images/a.jpg", &[]), "case-sensitive");
        assert!(p("#Product").matches("/x", &["product".to_owned()]));
        assert!(InvalidationPath::parse("/a*b").is_err());
        assert!(InvalidationPath::parse("images/a.jpg").is_err());
    }
}
