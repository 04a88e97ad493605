//! Cache policies, origin request policies and response headers policies.
//!
//! The three share one lifecycle. Managed policies are listed and readable by
//! their real ids but immutable: updating one answers `IllegalUpdate`,
//! deleting one `IllegalDelete` (both 400), since CloudFront's own error for
//! this is not documented.

use super::{ListEcho, Request, Response, check_quantities, defaults, errors_of, list_response, typed};
use crate::control::Inner;
use crate::error::ApiError;
use crate::state::Subject;
use crate::state::{PolicyKind, PolicyRecord};
use crate::util;
use cachalot_config::{managed, wire};
use serde_json::{Value, json};

/// When managed policies claim to have been last modified.
const MANAGED_MODIFIED_MS: i64 = 1_577_836_800_000; // 2020-01-01

fn config_root(kind: PolicyKind) -> String {
    format!("{}Config", kind.name())
}

fn no_such(kind: PolicyKind, id: &str) -> ApiError {
    ApiError::new(&format!("NoSuch{}", kind.name()), format!("The {} {id} does not exist.", kind.words()))
}

/// Managed policies of `kind` as (id, config JSON).
fn managed_of(kind: PolicyKind) -> Vec<(String, Value)> {
    match kind {
        PolicyKind::Cache => {
            managed::cache_policies().into_iter().map(|p| (p.id, to(&p.cache_policy_config))).collect()
        }
        PolicyKind::OriginRequest => managed::origin_request_policies()
            .into_iter()
            .map(|p| (p.id, to(&p.origin_request_policy_config)))
            .collect(),
        PolicyKind::ResponseHeaders => managed::response_headers_policies()
            .into_iter()
            .map(|p| (p.id, to(&p.response_headers_policy_config)))
            .collect(),
    }
}

fn to<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// A managed policy's stable ETag.
fn managed_etag(id: &str) -> String {
    cachalot_config::file::distribution_id_from(&format!("managed:{id}"))
}

fn envelope(kind: PolicyKind, id: &str, last_modified: i64, config: &Value) -> Value {
    json!({"Id": id, "LastModifiedTime": util::iso8601(last_modified), config_root(kind): with_defaults(kind, config)})
}

/// The config as CloudFront returns it: a cache policy's TTLs filled in when the request left them out.
fn with_defaults(kind: PolicyKind, config: &Value) -> Value {
    let mut config = config.clone();
    if kind == PolicyKind::Cache {
        defaults::cache_policy_config(&mut config);
    }
    config
}

/// Parses and validates a policy config from the request body.
fn config_from(req: &Request, kind: PolicyKind) -> Result<Value, ApiError> {
    let root = config_root(kind);
    let config = req.xml_body(&root, &root)?;
    check_quantities(&config, &root)?;
    let mut diags = cachalot_config::Diagnostics::new();
    let ok = match kind {
        PolicyKind::Cache => {
            let c: wire::CachePolicyConfig = typed(&config, &root)?;
            cachalot_config::validate::cache_policy(&c, &root, &mut diags).is_some()
        }
        PolicyKind::OriginRequest => {
            let c: wire::OriginRequestPolicyConfig = typed(&config, &root)?;
            cachalot_config::validate::origin_request_policy(&c, &root, &mut diags).is_some()
        }
        PolicyKind::ResponseHeaders => {
            let c: wire::ResponseHeadersPolicyConfig = typed(&config, &root)?;
            cachalot_config::validate::response_headers_policy("new", &c, &root, &mut diags).is_some()
        }
    };
    if let Some(e) = errors_of(&diags) {
        return Err(e);
    }
    if !ok {
        return Err(ApiError::invalid(format!("the {} is not valid", kind.words())));
    }
    Ok(config)
}

fn check_name_free(
    cp_state: &crate::state::State,
    kind: PolicyKind,
    name: &str,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let taken = cp_state.policies(kind).values().any(|p| p.name() == name && Some(p.id.as_str()) != except);
    if taken {
        return Err(ApiError::new(
            &format!("{}AlreadyExists", kind.name()),
            format!("A {} with the name {name} already exists.", kind.words()),
        ));
    }
    Ok(())
}

pub(super) fn create(cp: &Inner, req: &Request, kind: PolicyKind) -> Result<Response, ApiError> {
    let config = config_from(req, kind)?;
    let id = util::uuid();
    let now = util::now_ms();
    let rec = PolicyRecord { id: id.clone(), config, etag: util::etag(), last_modified: now };
    let out = rec.clone();
    cp.mutate(Subject::Policy(kind, id.clone()), |txn| {
        check_name_free(&txn.state, kind, out.name(), None)?;
        txn.put_policy(kind, rec);
        Ok(())
    })?;
    Ok(Response::xml(201, kind.name(), kind.name(), &envelope(kind, &id, now, &out.config))
        .etag(&out.etag)
        .header("location", format!("{}/2020-05-31/{}/{id}", req.base_url(), kind.segment())))
}

pub(super) fn get(cp: &Inner, kind: PolicyKind, id: &str, config_only: bool) -> Result<Response, ApiError> {
    let (config, etag, modified) = match cp.read(|s| s.policies(kind).get(id).cloned()) {
        Some(p) => (p.config.clone(), p.etag.clone(), p.last_modified),
        None => match managed_of(kind).into_iter().find(|(mid, _)| mid == id) {
            Some((_, config)) => (config, managed_etag(id), MANAGED_MODIFIED_MS),
            None => return Err(no_such(kind, id)),
        },
    };
    let resp = if config_only {
        let root = config_root(kind);
        Response::xml(200, &root, &root, &with_defaults(kind, &config))
    } else {
        Response::xml(200, kind.name(), kind.name(), &envelope(kind, id, modified, &config))
    };
    Ok(resp.etag(&etag))
}

pub(super) fn update(cp: &Inner, req: &Request, kind: PolicyKind, id: &str) -> Result<Response, ApiError> {
    if managed_of(kind).iter().any(|(mid, _)| mid == id) {
        return Err(ApiError::new("IllegalUpdate", format!("the managed {} {id} cannot be modified", kind.words())));
    }
    let current = cp.read(|s| s.policies(kind).get(id).cloned()).ok_or_else(|| no_such(kind, id))?;
    req.check_if_match(&current.etag)?;
    let config = config_from(req, kind)?;
    let now = util::now_ms();
    let rec = PolicyRecord { id: id.to_owned(), config, etag: util::etag(), last_modified: now };
    let out = rec.clone();
    cp.mutate(Subject::Policy(kind, id.to_owned()), |txn| {
        // Re-check under the lock: another update may have won the race.
        match txn.state.policies(kind).get(id) {
            Some(p) if p.etag == current.etag => {}
            Some(_) => return Err(ApiError::new("PreconditionFailed", "The resource was modified concurrently.")),
            None => return Err(no_such(kind, id)),
        }
        check_name_free(&txn.state, kind, out.name(), Some(id))?;
        txn.put_policy(kind, rec);
        Ok(())
    })?;
    Ok(Response::xml(200, kind.name(), kind.name(), &envelope(kind, id, now, &out.config)).etag(&out.etag))
}

pub(super) fn delete(cp: &Inner, req: &Request, kind: PolicyKind, id: &str) -> Result<Response, ApiError> {
    if managed_of(kind).iter().any(|(mid, _)| mid == id) {
        return Err(ApiError::new("IllegalDelete", format!("the managed {} {id} cannot be deleted", kind.words())));
    }
    cp.mutate(Subject::None, |txn| {
        let current = txn.state.policies(kind).get(id).cloned().ok_or_else(|| no_such(kind, id))?;
        req.check_if_match(&current.etag)?;
        let users = txn.state.distributions_using(|b| {
            let used = match kind {
                PolicyKind::Cache => &b.cache_policy_id,
                PolicyKind::OriginRequest => &b.origin_request_policy_id,
                PolicyKind::ResponseHeaders => &b.response_headers_policy_id,
            };
            used.as_deref() == Some(id)
        });
        if !users.is_empty() {
            let ids: Vec<&str> = users.iter().map(|d| d.id.as_str()).collect();
            return Err(ApiError::new(
                &format!("{}InUse", kind.name()),
                format!("The {} {id} is attached to distribution(s) {}.", kind.words(), ids.join(", ")),
            ));
        }
        txn.delete_policy(kind, id);
        Ok(())
    })?;
    Ok(Response::empty(204))
}

pub(super) fn list(cp: &Inner, req: &Request, kind: PolicyKind) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let filter = req.param("Type").unwrap_or("");
    if !matches!(filter, "" | "managed" | "custom") {
        return Err(ApiError::invalid(format!("Type must be managed or custom, not \"{filter}\"")));
    }
    let mut items: Vec<(String, Value)> = Vec::new();
    if filter != "custom" {
        for (id, config) in managed_of(kind) {
            let summary = json!({"Type": "managed", kind.name(): envelope(kind, &id, MANAGED_MODIFIED_MS, &config)});
            items.push((id, summary));
        }
    }
    if filter != "managed" {
        cp.read(|s| {
            for p in s.policies(kind).values() {
                let summary = json!({"Type": "custom", kind.name(): envelope(kind, &p.id, p.last_modified, &p.config)});
                items.push((p.id.clone(), summary));
            }
        });
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(list_response(req, &format!("{}List", kind.name()), &items, max, ListEcho::Nothing))
}
