//! The lint rules, one file each. [`ALL`] is the order they run in; ids never change.

use super::{Context, Finding, RuleMeta};

mod accept_encoding_header;
mod caching_disabled_static;
mod compression_off;
mod cookies_static;
mod function_cannot_run;
mod invalidation_churn;
mod legacy_forward_all;
mod query_strings_static;
mod raw_header_in_key;
mod shadowed_behavior;
mod short_ttl_static;
mod unvaried_key_parameter;

/// A rule: its description and its check.
pub struct Rule {
    /// Id, title, why, cause.
    pub meta: RuleMeta,
    /// Appends the rule's findings.
    pub check: fn(&Context<'_>, &mut Vec<Finding>),
}

/// Every rule.
pub const ALL: &[Rule] = &[
    query_strings_static::RULE,
    cookies_static::RULE,
    raw_header_in_key::RULE,
    accept_encoding_header::RULE,
    legacy_forward_all::RULE,
    short_ttl_static::RULE,
    caching_disabled_static::RULE,
    compression_off::RULE,
    shadowed_behavior::RULE,
    unvaried_key_parameter::RULE,
    invalidation_churn::RULE,
    function_cannot_run::RULE,
];

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.meta.id == id)
}

/// Query string, cookie and header lists of a cache policy as JSON pointers, for fixes.
pub(crate) const QUERY_PTR: &str = "/ParametersInCacheKeyAndForwardedToOrigin/QueryStringsConfig";
pub(crate) const COOKIE_PTR: &str = "/ParametersInCacheKeyAndForwardedToOrigin/CookiesConfig";
pub(crate) const HEADER_PTR: &str = "/ParametersInCacheKeyAndForwardedToOrigin/HeadersConfig";

/// A `{"Quantity", "Items"}` list.
pub(crate) fn listed(names: &[String]) -> serde_json::Value {
    if names.is_empty() {
        serde_json::json!({"Quantity": 0})
    } else {
        serde_json::json!({"Quantity": names.len(), "Items": names})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_described() {
        let mut seen = std::collections::HashSet::new();
        for r in ALL {
            assert!(seen.insert(r.meta.id), "duplicate {}", r.meta.id);
            assert!(r.meta.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert!(!r.meta.title.is_empty() && !r.meta.why.is_empty());
        }
        assert!(by_id("shadowed-behavior").is_some());
    }
}
