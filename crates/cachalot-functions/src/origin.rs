//! Origin changes requested through `cf.updateRequestOrigin()`, `cf.selectRequestOriginById()`
//! and `cf.createRequestOriginGroup()`, returned to the edge as data.
//!
//! Argument shapes follow AWS's documentation examples (camelCase, as in JavaScript).
//! Calls accumulate: a later `updateRequestOrigin` overrides the fields it names, and
//! applies to whichever origin is selected.

pub use cachalot_config::origin_override::{
    CustomOriginUpdate, OriginAccessControlUpdate, OriginOverride, OriginShieldUpdate, OriginTimeouts, OriginUpdate,
    RequestOriginGroup,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupArgs {
    origin_ids: Vec<OriginIdArg>,
    failover_criteria: FailoverCriteriaArg,
    selection_criteria: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OriginIdArg {
    Id(String),
    Object {
        #[serde(rename = "originId")]
        origin_id: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailoverCriteriaArg {
    status_codes: Vec<u16>,
}

/// Recording helper calls into an [`OriginOverride`].
pub(crate) trait RecordHelperCall {
    /// Records one helper call (`kind` is `update`, `select` or `group`; `json` its argument).
    fn record(&mut self, kind: &str, json: &str) -> Result<(), String>;
}

impl RecordHelperCall for OriginOverride {
    fn record(&mut self, kind: &str, json: &str) -> Result<(), String> {
        match kind {
            "update" => {
                let update: OriginUpdate =
                    serde_json::from_str(json).map_err(|e| format!("updateRequestOrigin: invalid argument: {e}"))?;
                validate_update(&update)?;
                self.update = Some(match self.update.take() {
                    Some(previous) => merge(previous, update),
                    None => update,
                });
            }
            "select" => {
                let id: String = serde_json::from_str(json)
                    .map_err(|_| "selectRequestOriginById: the origin id must be a string".to_owned())?;
                if id.is_empty() {
                    return Err("selectRequestOriginById: the origin id must not be empty".into());
                }
                self.selected_origin_id = Some(id);
            }
            "group" => {
                let args: GroupArgs = serde_json::from_str(json)
                    .map_err(|e| format!("createRequestOriginGroup: invalid argument: {e}"))?;
                let origin_ids: Vec<String> = args
                    .origin_ids
                    .into_iter()
                    .map(|o| match o {
                        OriginIdArg::Id(id) | OriginIdArg::Object { origin_id: id } => id,
                    })
                    .collect();
                if origin_ids.len() != 2 {
                    return Err("createRequestOriginGroup: originIds must name exactly two origins".into());
                }
                if let Some(code) = args.failover_criteria.status_codes.iter().find(|c| !(400..=599).contains(*c)) {
                    return Err(format!("createRequestOriginGroup: {code} is not a 4xx or 5xx status"));
                }
                if let Some(c) =
                    args.selection_criteria.as_deref().filter(|c| !matches!(*c, "default" | "media-quality-score"))
                {
                    return Err(format!("createRequestOriginGroup: unknown selectionCriteria {c:?}"));
                }
                self.origin_group = Some(RequestOriginGroup {
                    origin_ids,
                    failover_status_codes: args.failover_criteria.status_codes,
                    selection_criteria: args.selection_criteria,
                });
            }
            other => return Err(format!("unknown origin helper {other}")),
        }
        Ok(())
    }
}

fn validate_update(u: &OriginUpdate) -> Result<(), String> {
    let fail = |m: String| Err(format!("updateRequestOrigin: {m}"));
    if let Some(d) = &u.domain_name
        && (d.is_empty() || d.contains(['/', ' ', ':']))
    {
        return fail(format!("domainName {d:?} is not a host name"));
    }
    if let Some(p) = &u.origin_path
        && !p.is_empty()
        && (!p.starts_with('/') || p.ends_with('/'))
    {
        return fail(format!("originPath {p:?} must start with '/' and not end with '/'"));
    }
    if let Some(n) = u.connection_attempts
        && !(1..=3).contains(&n)
    {
        return fail(format!("connectionAttempts must be 1–3, got {n}"));
    }
    if let Some(t) = &u.timeouts {
        for (name, value, max) in [
            ("readTimeout", t.read_timeout, 60),
            ("keepAliveTimeout", t.keep_alive_timeout, 60),
            ("connectionTimeout", t.connection_timeout, 10),
        ] {
            if let Some(v) = value
                && !(1..=max).contains(&v)
            {
                return fail(format!("timeouts.{name} must be 1–{max}, got {v}"));
            }
        }
    }
    if let Some(c) = &u.custom_origin_config {
        if let Some(p) = c.protocol.as_deref().filter(|p| !matches!(*p, "http" | "https")) {
            return fail(format!("customOriginConfig.protocol must be \"http\" or \"https\", got {p:?}"));
        }
        if c.port == Some(0) {
            return fail("customOriginConfig.port must be 1–65535".into());
        }
    }
    if let Some(o) = &u.origin_access_control_config
        && let Some(b) = o.signing_behavior.as_deref().filter(|b| !matches!(*b, "always" | "never" | "no-override"))
    {
        return fail(format!("originAccessControlConfig.signingBehavior {b:?} is not always, never or no-override"));
    }
    Ok(())
}

fn merge(a: OriginUpdate, b: OriginUpdate) -> OriginUpdate {
    OriginUpdate {
        domain_name: b.domain_name.or(a.domain_name),
        origin_path: b.origin_path.or(a.origin_path),
        custom_headers: b.custom_headers.or(a.custom_headers),
        connection_attempts: b.connection_attempts.or(a.connection_attempts),
        origin_shield: b.origin_shield.or(a.origin_shield),
        origin_access_control_config: b.origin_access_control_config.or(a.origin_access_control_config),
        timeouts: b.timeouts.or(a.timeouts),
        custom_origin_config: b.custom_origin_config.or(a.custom_origin_config),
        host_header: b.host_header.or(a.host_header),
        sni: b.sni.or(a.sni),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_calls_merge_and_are_validated() {
        let mut o = OriginOverride::default();
        o.record("update", r#"{"domainName":"a.example.com","timeouts":{"readTimeout":30}}"#).unwrap();
        o.record("update", r#"{"originPath":"/v2"}"#).unwrap();
        let u = o.update.clone().unwrap();
        assert_eq!(u.domain_name.as_deref(), Some("a.example.com"));
        assert_eq!(u.origin_path.as_deref(), Some("/v2"));
        assert_eq!(u.timeouts.unwrap().read_timeout, Some(30));
        assert!(o.record("update", r#"{"connectionAttempts":7}"#).is_err());
        assert!(o.record("update", r#"{"domainName":"http://x"}"#).is_err());
    }

    #[test]
    fn groups_accept_ids_as_strings_or_objects() {
        let mut o = OriginOverride::default();
        o.record("group", r#"{"originIds":[{"originId":"a"},"b"],"failoverCriteria":{"statusCodes":[500,503]}}"#)
            .unwrap();
        let g = o.origin_group.unwrap();
        assert_eq!(g.origin_ids, ["a", "b"]);
        assert_eq!(g.failover_status_codes, [500, 503]);
        let mut o = OriginOverride::default();
        assert!(o.record("group", r#"{"originIds":["a"],"failoverCriteria":{"statusCodes":[500]}}"#).is_err());
        assert!(o.record("select", "42").is_err());
        o.record("select", "\"origin-2\"").unwrap();
        assert_eq!(o.selected_origin_id.as_deref(), Some("origin-2"));
    }
}
