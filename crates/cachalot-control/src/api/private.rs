//! Private content resources: public keys, key groups, origin access controls and
//! (legacy) CloudFront origin access identities.
//!
//! The four share one lifecycle (create 201 with `ETag` and `Location`, get, get-config,
//! update and delete with `If-Match`, list). Each answers with CloudFront's own errors:
//! a missing resource is `NoSuchPublicKey`, `NoSuchResource` (key groups),
//! `NoSuchOriginAccessControl` or `NoSuchCloudFrontOriginAccessIdentity`; deleting one
//! still in use is `PublicKeyInUse` (a key group holds the key), `ResourceInUse` (a
//! behavior trusts the key group), `OriginAccessControlInUse` or
//! `CloudFrontOriginAccessIdentityInUse` (an origin names it); a public key's
//! `EncodedKey` cannot change (`CannotChangeImmutablePublicKeyFields`). Key groups,
//! keys and controls reach the edge in the snapshot, so a key removed from a group is
//! refused from the next request on.

use super::{ListEcho, Request, Response, check_quantities, list_response, typed};
use crate::control::Inner;
use crate::error::ApiError;
use crate::state::{PrivateKind, PrivateRecord, State, Subject};
use crate::util;
use cachalot_config::{Diagnostics, Severity, wire};
use serde_json::{Value, json};

/// The URI segments after the prefix that name `kind`'s collection.
pub(super) fn route_of(segs: &[&str]) -> Option<(PrivateKind, usize)> {
    match segs {
        ["public-key", ..] => Some((PrivateKind::PublicKey, 1)),
        ["key-group", ..] => Some((PrivateKind::KeyGroup, 1)),
        ["origin-access-control", ..] => Some((PrivateKind::OriginAccessControl, 1)),
        ["origin-access-identity", "cloudfront", ..] => Some((PrivateKind::OriginAccessIdentity, 2)),
        _ => None,
    }
}

/// Routes one request about `kind`; `rest` are the segments after the collection.
pub(super) fn route(cp: &Inner, req: &Request, kind: PrivateKind, rest: &[&str]) -> Option<Result<Response, ApiError>> {
    // Key groups update at `/{Id}`; the other three at `/{Id}/config`.
    let update_at_config = kind != PrivateKind::KeyGroup;
    Some(match (req.method.as_str(), rest) {
        ("POST", []) => create(cp, req, kind),
        ("GET", []) => list(cp, req, kind),
        ("GET", [id]) => get(cp, kind, id, false),
        ("GET", [id, "config"]) => get(cp, kind, id, true),
        ("PUT", [id]) if !update_at_config => update(cp, req, kind, id),
        ("PUT", [id, "config"]) if update_at_config => update(cp, req, kind, id),
        ("DELETE", [id]) => delete(cp, req, kind, id),
        _ => return None,
    })
}

fn config_root(kind: PrivateKind) -> String {
    format!("{}Config", kind.name())
}

fn no_such(kind: PrivateKind, id: &str) -> ApiError {
    let code = match kind {
        PrivateKind::PublicKey => "NoSuchPublicKey",
        PrivateKind::KeyGroup => "NoSuchResource",
        PrivateKind::OriginAccessControl => "NoSuchOriginAccessControl",
        PrivateKind::OriginAccessIdentity => "NoSuchCloudFrontOriginAccessIdentity",
    };
    ApiError::new(code, format!("The specified {} {id} does not exist.", kind.words()))
}

/// The canonical user id S3 grants an origin access identity (96 hex characters, derived from its id).
fn s3_canonical_user_id(id: &str) -> String {
    let seed = cachalot_config::file::fnv1a(id.as_bytes());
    (0..8u64).map(|i| format!("{:016x}", cachalot_config::file::fnv1a(&(seed ^ i).to_be_bytes()))).collect::<String>()
        [..96]
        .to_owned()
}

/// The resource as `Get*` answers it.
fn envelope(kind: PrivateKind, rec: &PrivateRecord) -> Value {
    match kind {
        PrivateKind::PublicKey => json!({
            "Id": rec.id, "CreatedTime": util::iso8601(rec.created), "PublicKeyConfig": rec.config
        }),
        PrivateKind::KeyGroup => json!({
            "Id": rec.id, "LastModifiedTime": util::iso8601(rec.last_modified), "KeyGroupConfig": rec.config
        }),
        PrivateKind::OriginAccessControl => json!({"Id": rec.id, "OriginAccessControlConfig": rec.config}),
        PrivateKind::OriginAccessIdentity => json!({
            "Id": rec.id, "S3CanonicalUserId": s3_canonical_user_id(&rec.id),
            "CloudFrontOriginAccessIdentityConfig": rec.config
        }),
    }
}

/// A list item.
fn summary(kind: PrivateKind, rec: &PrivateRecord) -> Value {
    let field = |name: &str| rec.config.get(name).cloned().unwrap_or(Value::Null);
    match kind {
        PrivateKind::PublicKey => json!({
            "Id": rec.id, "Name": field("Name"), "CreatedTime": util::iso8601(rec.created),
            "EncodedKey": field("EncodedKey"), "Comment": field("Comment")
        }),
        PrivateKind::KeyGroup => json!({"KeyGroup": envelope(kind, rec)}),
        PrivateKind::OriginAccessControl => json!({
            "Id": rec.id, "Description": rec.config.get("Description").cloned().unwrap_or(json!("")),
            "Name": field("Name"), "SigningProtocol": field("SigningProtocol"),
            "SigningBehavior": field("SigningBehavior"),
            "OriginAccessControlOriginType": field("OriginAccessControlOriginType")
        }),
        PrivateKind::OriginAccessIdentity => json!({
            "Id": rec.id, "S3CanonicalUserId": s3_canonical_user_id(&rec.id), "Comment": field("Comment")
        }),
    }
}

fn first_error(diags: &Diagnostics) -> Result<(), ApiError> {
    let errors: Vec<_> = diags.items().iter().filter(|d| d.severity == Severity::Error).collect();
    match errors.first() {
        None => Ok(()),
        Some(first) => {
            let message = errors.iter().map(|d| format!("{}: {}", d.path, d.message)).collect::<Vec<_>>().join("; ");
            let code = if first.code.contains('-') { "InvalidArgument" } else { first.code.as_str() };
            Err(ApiError::new(code, message))
        }
    }
}

/// Parses and checks the body's configuration (references to other resources are
/// checked when the snapshot is built).
fn config_from(req: &Request, kind: PrivateKind) -> Result<Value, ApiError> {
    let root = config_root(kind);
    let config = req.xml_body(&root, &root)?;
    check_quantities(&config, &root)?;
    let mut diags = Diagnostics::new();
    match kind {
        PrivateKind::PublicKey => {
            let c: wire::PublicKeyConfig = typed(&config, &root)?;
            let probe = wire::PublicKey { id: "new".into(), public_key_config: c };
            cachalot_config::validate::public_key(&probe, &root, &mut diags);
        }
        PrivateKind::KeyGroup => {
            let c: wire::KeyGroupConfig = typed(&config, &root)?;
            if c.items.len() > cachalot_config::validate::MAX_KEYS_PER_KEY_GROUP {
                return Err(ApiError::new(
                    "TooManyPublicKeysInKeyGroup",
                    format!("{} public keys; a key group holds at most 5", c.items.len()),
                ));
            }
            if c.name.is_empty() || c.items.is_empty() {
                return Err(ApiError::invalid("a key group needs a Name and at least one public key id in Items"));
            }
        }
        PrivateKind::OriginAccessControl => {
            let c: wire::OriginAccessControlConfig = typed(&config, &root)?;
            cachalot_config::validate::origin_access_control(&c, &root, &mut diags);
        }
        PrivateKind::OriginAccessIdentity => {
            super::required_str(&config, "CallerReference", &root)?;
            if config.get("Comment").and_then(Value::as_str).is_none() {
                return Err(ApiError::malformed(format!("{root}.Comment is required")));
            }
        }
    }
    first_error(&diags)?;
    Ok(config)
}

fn text<'a>(config: &'a Value, member: &str) -> &'a str {
    config.get(member).and_then(Value::as_str).unwrap_or_default()
}

/// The uniqueness CloudFront enforces: a caller reference (public keys, identities) or a name.
fn check_unique(state: &State, kind: PrivateKind, config: &Value, except: Option<&str>) -> Result<(), ApiError> {
    let (member, code) = match kind {
        PrivateKind::PublicKey => ("CallerReference", "PublicKeyAlreadyExists"),
        PrivateKind::KeyGroup => ("Name", "KeyGroupAlreadyExists"),
        PrivateKind::OriginAccessControl => ("Name", "OriginAccessControlAlreadyExists"),
        PrivateKind::OriginAccessIdentity => ("CallerReference", "CloudFrontOriginAccessIdentityAlreadyExists"),
    };
    let wanted = text(config, member);
    let taken =
        state.private(kind).values().any(|r| text(&r.config, member) == wanted && Some(r.id.as_str()) != except);
    if taken {
        return Err(ApiError::new(code, format!("A {} with the {member} {wanted} already exists.", kind.words())));
    }
    if kind == PrivateKind::PublicKey {
        let name = text(config, "Name");
        let named =
            state.private(kind).values().any(|r| text(&r.config, "Name") == name && Some(r.id.as_str()) != except);
        if named {
            return Err(ApiError::new(code, format!("A public key named {name} already exists.")));
        }
    }
    Ok(())
}

fn new_id(kind: PrivateKind) -> String {
    match kind {
        PrivateKind::PublicKey => format!("K{}", util::random_upper(13)),
        PrivateKind::KeyGroup => util::uuid(),
        PrivateKind::OriginAccessControl | PrivateKind::OriginAccessIdentity => format!("E{}", util::random_upper(13)),
    }
}

fn location(req: &Request, kind: PrivateKind, id: &str) -> String {
    let collection = match kind {
        PrivateKind::PublicKey => "public-key",
        PrivateKind::KeyGroup => "key-group",
        PrivateKind::OriginAccessControl => "origin-access-control",
        PrivateKind::OriginAccessIdentity => "origin-access-identity/cloudfront",
    };
    format!("{}/2020-05-31/{collection}/{id}", req.base_url())
}

fn create(cp: &Inner, req: &Request, kind: PrivateKind) -> Result<Response, ApiError> {
    let config = config_from(req, kind)?;
    let id = new_id(kind);
    let now = util::now_ms();
    let rec = PrivateRecord { id: id.clone(), config, etag: util::etag(), created: now, last_modified: now };
    let out = rec.clone();
    cp.mutate(Subject::Private(kind.words(), id.clone()), |txn| {
        check_unique(&txn.state, kind, &rec.config, None)?;
        txn.put_private(kind, rec);
        Ok(())
    })?;
    Ok(Response::xml(201, kind.name(), kind.name(), &envelope(kind, &out))
        .etag(&out.etag)
        .header("location", location(req, kind, &id)))
}

fn get(cp: &Inner, kind: PrivateKind, id: &str, config_only: bool) -> Result<Response, ApiError> {
    let rec = cp.read(|s| s.private(kind).get(id).cloned()).ok_or_else(|| no_such(kind, id))?;
    let resp = if config_only {
        let root = config_root(kind);
        Response::xml(200, &root, &root, &rec.config)
    } else {
        Response::xml(200, kind.name(), kind.name(), &envelope(kind, &rec))
    };
    Ok(resp.etag(&rec.etag))
}

fn update(cp: &Inner, req: &Request, kind: PrivateKind, id: &str) -> Result<Response, ApiError> {
    let current = cp.read(|s| s.private(kind).get(id).cloned()).ok_or_else(|| no_such(kind, id))?;
    req.check_if_match(&current.etag)?;
    let config = config_from(req, kind)?;
    match kind {
        PrivateKind::PublicKey
            if text(&config, "EncodedKey").trim() != text(&current.config, "EncodedKey").trim()
                || text(&config, "CallerReference") != text(&current.config, "CallerReference") =>
        {
            return Err(ApiError::new(
                "CannotChangeImmutablePublicKeyFields",
                "You can't change the value of a public key (EncodedKey or CallerReference); create a new public key instead.",
            ));
        }
        PrivateKind::OriginAccessIdentity
            if text(&config, "CallerReference") != text(&current.config, "CallerReference") =>
        {
            return Err(ApiError::new(
                "IllegalUpdate",
                "The CallerReference of an origin access identity cannot change.",
            ));
        }
        _ => {}
    }
    let rec = PrivateRecord { config, etag: util::etag(), last_modified: util::now_ms(), ..(*current).clone() };
    let out = rec.clone();
    cp.mutate(Subject::Private(kind.words(), id.to_owned()), |txn| {
        match txn.state.private(kind).get(id) {
            Some(r) if r.etag == current.etag => {}
            Some(_) => return Err(ApiError::new("PreconditionFailed", "The resource was modified concurrently.")),
            None => return Err(no_such(kind, id)),
        }
        check_unique(&txn.state, kind, &rec.config, Some(id))?;
        txn.put_private(kind, rec);
        Ok(())
    })?;
    Ok(Response::xml(200, kind.name(), kind.name(), &envelope(kind, &out)).etag(&out.etag))
}

/// Who still uses resource `id`, worded for the `…InUse` error.
fn users(state: &State, kind: PrivateKind, id: &str) -> Vec<String> {
    match kind {
        PrivateKind::PublicKey => state
            .private(PrivateKind::KeyGroup)
            .values()
            .filter(|g| g.config.get("Items").and_then(Value::as_array).is_some_and(|i| i.iter().any(|k| k == id)))
            .map(|g| format!("key group {}", g.id))
            .collect(),
        PrivateKind::KeyGroup => state
            .distributions_using(|b| {
                b.trusted_key_groups
                    .as_ref()
                    .and_then(|t| t.get("Items"))
                    .and_then(Value::as_array)
                    .is_some_and(|i| i.iter().any(|g| g == id))
            })
            .iter()
            .map(|d| format!("distribution {}", d.id))
            .collect(),
        PrivateKind::OriginAccessControl | PrivateKind::OriginAccessIdentity => state
            .distributions
            .values()
            .filter(|d| {
                d.typed.as_ref().is_some_and(|c| {
                    c.origins.items.iter().any(|o| match kind {
                        PrivateKind::OriginAccessControl => o.origin_access_control_id.as_deref() == Some(id),
                        _ => o
                            .s3_origin_config
                            .as_ref()
                            .is_some_and(|s| s.origin_access_identity.rsplit('/').next() == Some(id)),
                    })
                })
            })
            .map(|d| format!("distribution {}", d.id))
            .collect(),
    }
}

fn delete(cp: &Inner, req: &Request, kind: PrivateKind, id: &str) -> Result<Response, ApiError> {
    cp.mutate(Subject::None, |txn| {
        let current = txn.state.private(kind).get(id).cloned().ok_or_else(|| no_such(kind, id))?;
        req.check_if_match(&current.etag)?;
        let users = users(&txn.state, kind, id);
        if !users.is_empty() {
            let code = match kind {
                PrivateKind::PublicKey => "PublicKeyInUse",
                PrivateKind::KeyGroup => "ResourceInUse",
                PrivateKind::OriginAccessControl => "OriginAccessControlInUse",
                PrivateKind::OriginAccessIdentity => "CloudFrontOriginAccessIdentityInUse",
            };
            return Err(ApiError::new(code, format!("The {} {id} is in use by {}.", kind.words(), users.join(", "))));
        }
        txn.delete_private(kind, id);
        Ok(())
    })?;
    Ok(Response::empty(204))
}

fn list(cp: &Inner, req: &Request, kind: PrivateKind) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let items: Vec<(String, Value)> =
        cp.read(|s| s.private(kind).values().map(|r| (r.id.clone(), summary(kind, r))).collect());
    let echo = match kind {
        PrivateKind::OriginAccessControl | PrivateKind::OriginAccessIdentity => ListEcho::MarkerAndTruncation,
        PrivateKind::PublicKey | PrivateKind::KeyGroup => ListEcho::Nothing,
    };
    Ok(list_response(req, &format!("{}List", kind.name()), &items, max, echo))
}

/// `ListDistributionsByKeyGroup`: the distributions whose behaviors trust key group `id`.
pub(super) fn list_distributions_by_key_group(cp: &Inner, req: &Request, id: &str) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let items: Vec<(String, Value)> = cp.read(|s| {
        if !s.private(PrivateKind::KeyGroup).contains_key(id) {
            return Err(no_such(PrivateKind::KeyGroup, id));
        }
        let users = users(s, PrivateKind::KeyGroup, id);
        Ok(users.iter().filter_map(|u| u.strip_prefix("distribution ")).map(|d| (d.to_owned(), json!(d))).collect())
    })?;
    Ok(list_response(req, "DistributionIdList", &items, max, ListEcho::MarkerAndTruncation))
}
