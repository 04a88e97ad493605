//! Distributions, their invalidations, monitoring subscriptions and tags.

use super::{ListEcho, Request, Response, check_quantities, defaults, errors_of, list_response, required_str, typed};
use crate::control::Inner;
use crate::error::ApiError;
use crate::state::Subject;
use crate::state::{ACCOUNT_ID, DistributionRecord, InvalidationRecord, PolicyKind, State};
use crate::util;
use cachalot_config::{Diagnostics, managed, validate, wire};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Individual (non-wildcard) paths allowed in progress per distribution.
const MAX_PATHS_IN_PROGRESS: usize = 3000;
/// Wildcard paths allowed in progress per distribution.
const MAX_WILDCARDS_IN_PROGRESS: usize = 15;
/// Longest invalidation path.
const MAX_PATH_LEN: usize = 4000;
/// Distributions per account and tags per resource: CloudFront's default quotas
/// (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html>).
const MAX_DISTRIBUTIONS: usize = 500;
const MAX_TAGS: usize = 50;

fn no_such(id: &str) -> ApiError {
    ApiError::new("NoSuchDistribution", format!("The specified distribution does not exist: {id}"))
}

/// The config as CloudFront returns it: every member the request left out at its default.
fn with_defaults(config: &Value) -> Value {
    let mut config = config.clone();
    defaults::distribution_config(&mut config);
    config
}

/// Reads a `DistributionConfig` document (and tags, for `?WithTags`).
fn config_from(req: &Request, with_tags: bool) -> Result<(Value, Vec<(String, String)>), ApiError> {
    let (mut config, tags) = if with_tags {
        let doc = req.xml_body("DistributionConfigWithTags", "DistributionConfigWithTags")?;
        let config = doc
            .get("DistributionConfig")
            .cloned()
            .ok_or_else(|| ApiError::malformed("DistributionConfigWithTags.DistributionConfig is required"))?;
        (config, tags_of(doc.get("Tags"))?)
    } else {
        (req.xml_body("DistributionConfig", "DistributionConfig")?, Vec::new())
    };
    check_quantities(&config, "DistributionConfig")?;
    let typed_config: wire::DistributionConfig = typed(&config, "DistributionConfig")?;
    if typed_config.caller_reference.is_empty() {
        return Err(ApiError::invalid("DistributionConfig.CallerReference must not be empty"));
    }
    let mut diags = Diagnostics::new();
    validate::distribution_request(&typed_config, "DistributionConfig", &mut diags);
    if let Some(e) = errors_of(&diags) {
        return Err(e);
    }
    defaults::distribution_config(&mut config);
    Ok((config, tags))
}

fn tags_of(v: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for t in v.and_then(|t| t.get("Items")).and_then(Value::as_array).into_iter().flatten() {
        let key = required_str(t, "Key", "Tags.Items[]")?;
        let value = t.get("Value").and_then(Value::as_str).unwrap_or_default();
        check_tag(key, value)?;
        out.push((key.to_owned(), value.to_owned()));
    }
    check_tag_count(out.len())?;
    Ok(out)
}

/// CloudFront's tag restrictions
/// (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/tagging.html>): a key of
/// 1 to 128 characters, a value of at most 256, both of letters, digits, spaces and `_ . : / = + - @`,
/// and no key starting with the reserved `aws:`.
fn check_tag(key: &str, value: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c);
    let invalid = |what: String| {
        ApiError::new("InvalidTagging", format!("{what}; tags are letters, digits, spaces and _ . : / = + - @"))
    };
    if key.is_empty() || key.chars().count() > 128 {
        return Err(invalid(format!("tag key \"{key}\" must be 1 to 128 characters")));
    }
    if value.chars().count() > 256 {
        return Err(invalid(format!("the value of tag {key} is longer than 256 characters")));
    }
    if let Some(bad) = key.chars().chain(value.chars()).find(|c| !allowed(*c)) {
        return Err(invalid(format!("tag {key} contains {bad:?}")));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ApiError::new("InvalidTagging", format!("tag key {key} uses the prefix aws:, reserved for AWS")));
    }
    Ok(())
}

fn check_tag_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_TAGS {
        return Err(ApiError::new("InvalidTagging", format!("{n} tags; a resource can have at most {MAX_TAGS}")));
    }
    Ok(())
}

fn status(cp: &Inner, d: &DistributionRecord) -> &'static str {
    if util::now_ms() - d.last_modified < cp.deploy_delay_ms() { "InProgress" } else { "Deployed" }
}

fn in_progress_batches(s: &State, id: &str) -> usize {
    s.invalidations.values().filter(|i| i.distribution_id == id && i.status != "Completed").count()
}

/// A create or update answers `InProgress`, as CloudFront does, whatever the deploy delay.
fn changed_json(cp: &Inner, s: &State, d: &DistributionRecord) -> Value {
    let mut body = distribution_json(cp, s, d);
    body["Status"] = Value::from("InProgress");
    body
}

fn distribution_json(cp: &Inner, s: &State, d: &DistributionRecord) -> Value {
    json!({
        "Id": d.id,
        "ARN": d.arn(),
        "Status": status(cp, d),
        "LastModifiedTime": util::iso8601(d.last_modified),
        "InProgressInvalidationBatches": in_progress_batches(s, &d.id),
        "DomainName": d.domain_name,
        "ActiveTrustedSigners": {"Enabled": false, "Quantity": 0},
        "ActiveTrustedKeyGroups": active_trusted_key_groups(s, d),
        "DistributionConfig": with_defaults(&d.config),
    })
}

/// The key groups the distribution's behaviors trust, each with its public key ids.
fn active_trusted_key_groups(s: &State, d: &DistributionRecord) -> Value {
    let mut groups: Vec<String> = Vec::new();
    for b in d.behaviors() {
        let enabled =
            b.trusted_key_groups.as_ref().and_then(|t| t.get("Enabled")).and_then(Value::as_bool) == Some(true);
        let items = b.trusted_key_groups.as_ref().and_then(|t| t.get("Items")).and_then(Value::as_array);
        for id in items.into_iter().flatten().filter(|_| enabled).filter_map(Value::as_str) {
            if !groups.iter().any(|g| g == id) {
                groups.push(id.to_owned());
            }
        }
    }
    if groups.is_empty() {
        return json!({"Enabled": false, "Quantity": 0});
    }
    let items: Vec<Value> = groups
        .iter()
        .map(|g| {
            let keys: Vec<Value> = s
                .private(crate::state::PrivateKind::KeyGroup)
                .get(g)
                .and_then(|r| r.config.get("Items").and_then(Value::as_array).cloned())
                .unwrap_or_default();
            json!({"KeyGroupId": g, "KeyPairIds": {"Quantity": keys.len(), "Items": keys}})
        })
        .collect();
    json!({"Enabled": true, "Quantity": items.len(), "Items": items})
}

fn summary_json(cp: &Inner, d: &DistributionRecord) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(d.id));
    out.insert("ARN".into(), json!(d.arn()));
    out.insert("ETag".into(), json!(d.etag));
    out.insert("Status".into(), json!(status(cp, d)));
    out.insert("LastModifiedTime".into(), json!(util::iso8601(d.last_modified)));
    out.insert("DomainName".into(), json!(d.domain_name));
    if let Value::Object(c) = with_defaults(&d.config) {
        for (k, v) in c {
            if !matches!(
                k.as_str(),
                "CallerReference" | "DefaultRootObject" | "Logging" | "ContinuousDeploymentPolicyId"
            ) {
                out.insert(k, v);
            }
        }
    }
    out.entry("Staging").or_insert(json!(false));
    Value::Object(out)
}

pub(super) fn create(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let with_tags = req.has_param("WithTags");
    let (config, tags) = config_from(req, with_tags)?;
    let caller = config.get("CallerReference").and_then(Value::as_str).unwrap_or_default().to_owned();
    let id = util::distribution_id();
    let now = util::now_ms();
    let rec = DistributionRecord {
        id: id.clone(),
        domain_name: util::domain_name(),
        config,
        etag: util::etag(),
        created: now,
        last_modified: now,
        typed: None,
    };
    let body = cp.mutate(Subject::Distribution(id.clone()), |txn| {
        if txn.state.distributions.len() >= MAX_DISTRIBUTIONS {
            return Err(ApiError::new(
                "TooManyDistributions",
                format!("an account can have at most {MAX_DISTRIBUTIONS} distributions; delete one first"),
            ));
        }
        if let Some(other) = txn.state.distributions.values().find(|d| d.caller_reference() == caller) {
            return Err(ApiError::new(
                "DistributionAlreadyExists",
                format!("The caller reference {caller} is already used by distribution {}.", other.id),
            ));
        }
        let arn = rec.arn();
        txn.put_distribution(rec);
        if !tags.is_empty() {
            txn.put_tags(&arn, tags);
        }
        let d = txn.state.distributions.get(&id).cloned().ok_or_else(|| no_such(&id))?;
        Ok((changed_json(cp, &txn.state, &d), d.etag.clone()))
    })?;
    Ok(Response::xml(201, "Distribution", "Distribution", &body.0)
        .etag(&body.1)
        .header("location", format!("{}/2020-05-31/distribution/{id}", req.base_url())))
}

pub(super) fn get(cp: &Inner, id: &str, config_only: bool) -> Result<Response, ApiError> {
    cp.read(|s| {
        let d = s.distributions.get(id).ok_or_else(|| no_such(id))?;
        let resp = if config_only {
            Response::xml(200, "DistributionConfig", "DistributionConfig", &with_defaults(&d.config))
        } else {
            Response::xml(200, "Distribution", "Distribution", &distribution_json(cp, s, d))
        };
        Ok(resp.etag(&d.etag))
    })
}

pub(super) fn update(cp: &Inner, req: &Request, id: &str) -> Result<Response, ApiError> {
    let current = cp.read(|s| s.distributions.get(id).cloned()).ok_or_else(|| no_such(id))?;
    req.check_if_match(&current.etag)?;
    let (config, _) = config_from(req, false)?;
    let caller = config.get("CallerReference").and_then(Value::as_str).unwrap_or_default();
    if caller != current.caller_reference() {
        return Err(ApiError::new(
            "IllegalUpdate",
            format!("CallerReference cannot be changed (it is {})", current.caller_reference()),
        ));
    }
    let rec = DistributionRecord {
        config,
        etag: util::etag(),
        last_modified: util::now_ms(),
        typed: None,
        ..(*current).clone()
    };
    let body = cp.mutate(Subject::Distribution(id.to_owned()), |txn| {
        match txn.state.distributions.get(id) {
            Some(d) if d.etag == current.etag => {}
            Some(_) => return Err(ApiError::new("PreconditionFailed", "The distribution was modified concurrently.")),
            None => return Err(no_such(id)),
        }
        txn.put_distribution(rec);
        let d = txn.state.distributions.get(id).cloned().ok_or_else(|| no_such(id))?;
        Ok((changed_json(cp, &txn.state, &d), d.etag.clone()))
    })?;
    Ok(Response::xml(200, "Distribution", "Distribution", &body.0).etag(&body.1))
}

pub(super) fn delete(cp: &Inner, req: &Request, id: &str) -> Result<Response, ApiError> {
    cp.mutate(Subject::None, |txn| {
        let d = txn.state.distributions.get(id).cloned().ok_or_else(|| no_such(id))?;
        req.check_if_match(&d.etag)?;
        if d.enabled() {
            return Err(ApiError::new(
                "DistributionNotDisabled",
                format!("The distribution {id} is enabled; disable it (Enabled: false) before deleting it."),
            ));
        }
        txn.delete_distribution(id);
        Ok(())
    })?;
    Ok(Response::empty(204))
}

pub(super) fn list(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let items: Vec<(String, Value)> =
        cp.read(|s| s.distributions.values().map(|d| (d.id.clone(), summary_json(cp, d))).collect());
    Ok(list_response(req, "DistributionList", &items, max, ListEcho::MarkerAndTruncation))
}

pub(super) fn list_by_policy(cp: &Inner, req: &Request, by: &str, id: &str) -> Result<Response, ApiError> {
    let kind = match by {
        "distributionsByCachePolicyId" => PolicyKind::Cache,
        "distributionsByOriginRequestPolicyId" => PolicyKind::OriginRequest,
        "distributionsByResponseHeadersPolicyId" => PolicyKind::ResponseHeaders,
        // The other ListDistributionsBy* operations (web ACL, key group, VPC origin, …).
        _ => return Err(super::unsupported(req)),
    };
    let max = req.max_items()?;
    let managed = match kind {
        PolicyKind::Cache => managed::cache_policies().iter().any(|p| p.id == id),
        PolicyKind::OriginRequest => managed::origin_request_policies().iter().any(|p| p.id == id),
        PolicyKind::ResponseHeaders => managed::response_headers_policies().iter().any(|p| p.id == id),
    };
    let items: Vec<(String, Value)> = cp.read(|s| {
        if !managed && !s.policies(kind).contains_key(id) {
            return Err(ApiError::new(
                &format!("NoSuch{}", kind.name()),
                format!("The {} {id} does not exist.", kind.words()),
            ));
        }
        let users = s.distributions_using(|b| {
            let used = match kind {
                PolicyKind::Cache => &b.cache_policy_id,
                PolicyKind::OriginRequest => &b.origin_request_policy_id,
                PolicyKind::ResponseHeaders => &b.response_headers_policy_id,
            };
            used.as_deref() == Some(id)
        });
        Ok(users.iter().map(|d| (d.id.clone(), json!(d.id))).collect())
    })?;
    Ok(list_response(req, "DistributionIdList", &items, max, ListEcho::MarkerAndTruncation))
}

// ---------------------------------------------------------------------------
// Invalidations
// ---------------------------------------------------------------------------

fn invalidation_json(i: &InvalidationRecord, status: &str) -> Value {
    json!({
        "Id": i.id,
        "Status": status,
        "CreateTime": util::iso8601(i.create_time),
        "InvalidationBatch": {
            "Paths": {"Quantity": i.paths.len(), "Items": i.paths},
            "CallerReference": i.caller_reference,
        },
    })
}

fn check_path(p: &str) -> Result<(), ApiError> {
    if p.starts_with('#') {
        // A cache tag: no wildcard.
        if p.len() < 2 || p.contains('*') {
            return Err(ApiError::invalid(format!("invalid cache tag item \"{p}\"")));
        }
        return Ok(());
    }
    if !p.starts_with('/') {
        return Err(ApiError::invalid(format!("invalidation path \"{p}\" must start with /")));
    }
    if p.len() > MAX_PATH_LEN {
        return Err(ApiError::invalid(format!("invalidation path is longer than {MAX_PATH_LEN} characters")));
    }
    if p.find('*').is_some_and(|i| i != p.len() - 1) {
        return Err(ApiError::invalid(format!("in \"{p}\", * is allowed only as the last character")));
    }
    Ok(())
}

fn is_wildcard(p: &str) -> bool {
    p.ends_with('*')
}

pub(super) fn create_invalidation(cp: &Inner, req: &Request, dist: &str) -> Result<Response, ApiError> {
    let batch = req.xml_body("InvalidationBatch", "InvalidationBatch")?;
    check_quantities(&batch, "InvalidationBatch")?;
    let caller = required_str(&batch, "CallerReference", "InvalidationBatch")?.to_owned();
    let paths: Vec<String> = batch
        .pointer("/Paths/Items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| p.as_str().map(str::to_owned).ok_or_else(|| ApiError::malformed("each Paths item is a string")))
        .collect::<Result<_, _>>()?;
    if paths.is_empty() {
        return Err(ApiError::invalid("InvalidationBatch.Paths needs at least one path"));
    }
    for p in &paths {
        check_path(p)?;
    }
    let wildcards = paths.iter().filter(|p| is_wildcard(p)).count();
    if paths.len() - wildcards > MAX_PATHS_IN_PROGRESS || wildcards > MAX_WILDCARDS_IN_PROGRESS {
        return Err(ApiError::new(
            "BatchTooLarge",
            format!(
                "a batch may hold at most {MAX_PATHS_IN_PROGRESS} paths and {MAX_WILDCARDS_IN_PROGRESS} wildcard paths"
            ),
        ));
    }
    let now = util::now_ms();
    let created = cp.mutate(Subject::None, |txn| {
        if !txn.state.distributions.contains_key(dist) {
            return Err(no_such(dist));
        }
        let same_ref = txn
            .state
            .invalidations
            .values()
            .find(|i| i.distribution_id == dist && i.caller_reference == caller)
            .cloned();
        if let Some(existing) = same_ref {
            if existing.paths == paths {
                return Ok((existing, false));
            }
            return Err(ApiError::new(
                "InvalidationBatchAlreadyExists",
                format!("CallerReference {caller} was already used for invalidation {} with other paths", existing.id),
            ));
        }
        let (mut files, mut stars) = (paths.len() - wildcards, wildcards);
        for i in txn.state.invalidations.values().filter(|i| i.distribution_id == dist && i.status != "Completed") {
            stars += i.paths.iter().filter(|p| is_wildcard(p)).count();
            files += i.paths.iter().filter(|p| !is_wildcard(p)).count();
        }
        if files > MAX_PATHS_IN_PROGRESS || stars > MAX_WILDCARDS_IN_PROGRESS {
            return Err(ApiError::new(
                "TooManyInvalidationsInProgress",
                format!(
                    "at most {MAX_PATHS_IN_PROGRESS} paths and {MAX_WILDCARDS_IN_PROGRESS} wildcard paths may be in \
                     progress per distribution"
                ),
            ));
        }
        let rec = InvalidationRecord {
            distribution_id: dist.to_owned(),
            id: util::invalidation_id(),
            caller_reference: caller.clone(),
            paths: paths.clone(),
            status: "InProgress".into(),
            create_time: now,
        };
        txn.put_invalidation(rec.clone());
        Ok((Arc::new(rec), true))
    })?;
    let (rec, fresh) = created;
    if fresh {
        cp.run_invalidation(&rec);
    }
    let status = if fresh { "InProgress".to_owned() } else { rec.status.clone() };
    Ok(Response::xml(201, "Invalidation", "Invalidation", &invalidation_json(&rec, &status))
        .header("location", format!("{}/2020-05-31/distribution/{dist}/invalidation/{}", req.base_url(), rec.id)))
}

pub(super) fn get_invalidation(cp: &Inner, dist: &str, id: &str) -> Result<Response, ApiError> {
    cp.read(|s| {
        if !s.distributions.contains_key(dist) {
            return Err(no_such(dist));
        }
        let i = s.invalidations.get(&(dist.to_owned(), id.to_owned())).ok_or_else(|| {
            ApiError::new("NoSuchInvalidation", format!("The specified invalidation does not exist: {id}"))
        })?;
        Ok(Response::xml(200, "Invalidation", "Invalidation", &invalidation_json(i, &i.status)))
    })
}

pub(super) fn list_invalidations(cp: &Inner, req: &Request, dist: &str) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let items = cp.read(|s| {
        if !s.distributions.contains_key(dist) {
            return Err(no_such(dist));
        }
        let mut items: Vec<(String, Value)> = s
            .invalidations
            .values()
            .filter(|i| i.distribution_id == dist)
            .map(|i| {
                // Newest first: the key sorts by descending creation time.
                let key = format!("{:020}{}", i64::MAX - i.create_time, i.id);
                (key, json!({"Id": i.id, "CreateTime": util::iso8601(i.create_time), "Status": i.status}))
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(items)
    })?;
    Ok(list_response(req, "InvalidationList", &items, max, ListEcho::MarkerAndTruncation))
}

// ---------------------------------------------------------------------------
// Monitoring subscriptions
// ---------------------------------------------------------------------------

fn no_subscription(id: &str) -> ApiError {
    ApiError::new("NoSuchMonitoringSubscription", format!("The distribution {id} has no monitoring subscription."))
}

pub(super) fn create_monitoring(cp: &Inner, req: &Request, id: &str) -> Result<Response, ApiError> {
    let sub = req.xml_body("MonitoringSubscription", "MonitoringSubscription")?;
    let status = sub
        .pointer("/RealtimeMetricsSubscriptionConfig/RealtimeMetricsSubscriptionStatus")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::malformed(
                "MonitoringSubscription.RealtimeMetricsSubscriptionConfig.RealtimeMetricsSubscriptionStatus is required",
            )
        })?;
    if !matches!(status, "Enabled" | "Disabled") {
        return Err(ApiError::invalid(format!(
            "RealtimeMetricsSubscriptionStatus must be Enabled or Disabled, not {status}"
        )));
    }
    cp.mutate(Subject::None, |txn| {
        if !txn.state.distributions.contains_key(id) {
            return Err(no_such(id));
        }
        if txn.state.monitoring.contains_key(id) {
            return Err(ApiError::new(
                "MonitoringSubscriptionAlreadyExists",
                format!("The distribution {id} already has a monitoring subscription."),
            ));
        }
        txn.put_monitoring(id, Some(sub.clone()));
        Ok(())
    })?;
    Ok(Response::xml(200, "MonitoringSubscription", "MonitoringSubscription", &sub))
}

pub(super) fn get_monitoring(cp: &Inner, id: &str) -> Result<Response, ApiError> {
    cp.read(|s| {
        if !s.distributions.contains_key(id) {
            return Err(no_such(id));
        }
        let sub = s.monitoring.get(id).ok_or_else(|| no_subscription(id))?;
        Ok(Response::xml(200, "MonitoringSubscription", "MonitoringSubscription", sub))
    })
}

pub(super) fn delete_monitoring(cp: &Inner, id: &str) -> Result<Response, ApiError> {
    cp.mutate(Subject::None, |txn| {
        if !txn.state.distributions.contains_key(id) {
            return Err(no_such(id));
        }
        if !txn.state.monitoring.contains_key(id) {
            return Err(no_subscription(id));
        }
        txn.put_monitoring(id, None);
        Ok(())
    })?;
    Ok(Response::empty(200))
}

// ---------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------

fn resource_exists(s: &State, arn: &str) -> bool {
    let prefix = format!("arn:aws:cloudfront::{ACCOUNT_ID}:");
    let Some(rest) = arn.strip_prefix(&prefix) else { return false };
    match rest.split_once('/') {
        Some(("distribution", id)) => s.distributions.contains_key(id),
        Some(("function", name)) => s.functions.contains_key(name),
        Some(("key-value-store", id)) => s.kvs.values().any(|k| k.id == id),
        _ => false,
    }
}

/// The `Resource` parameter: a CloudFront ARN (the model's pattern
/// `arn:aws(-cn)?:cloudfront::[0-9]+:.*`); anything else is `InvalidArgument`, while a
/// well-formed ARN of nothing that exists is `NoSuchResource`.
fn resource_param(req: &Request) -> Result<String, ApiError> {
    let arn = req
        .param("Resource")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid("the Resource query parameter (an ARN) is required"))?;
    let well_formed = ["arn:aws:cloudfront::", "arn:aws-cn:cloudfront::"]
        .iter()
        .find_map(|prefix| arn.strip_prefix(prefix))
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(account, _)| !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(ApiError::invalid(format!(
            "{arn} is not a CloudFront resource ARN (arn:aws:cloudfront::<account>:<type>/<id>)"
        )));
    }
    Ok(arn.to_owned())
}

pub(super) fn list_tags(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let arn = resource_param(req)?;
    cp.read(|s| {
        if !resource_exists(s, &arn) {
            return Err(ApiError::new("NoSuchResource", format!("no resource with ARN {arn}")));
        }
        let items: Vec<Value> =
            s.tags.get(&arn).into_iter().flatten().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        let mut tags = json!({});
        if !items.is_empty() {
            tags["Items"] = Value::Array(items);
        }
        Ok(Response::xml(200, "Tags", "Tags", &tags))
    })
}

pub(super) fn tag(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let arn = resource_param(req)?;
    let operation = req.param("Operation").unwrap_or_default();
    let (add, remove) = match operation {
        "Tag" => (tags_of(Some(&req.xml_body("Tags", "Tags")?))?, Vec::new()),
        "Untag" => {
            let keys = req.xml_body("TagKeys", "TagKeys")?;
            let keys = keys
                .get("Items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            (Vec::new(), keys)
        }
        other => return Err(ApiError::invalid(format!("Operation must be Tag or Untag, not \"{other}\""))),
    };
    cp.mutate(Subject::None, |txn| {
        if !resource_exists(&txn.state, &arn) {
            return Err(ApiError::new("NoSuchResource", format!("no resource with ARN {arn}")));
        }
        let mut tags = txn.state.tags.get(&arn).cloned().unwrap_or_default();
        tags.retain(|(k, _)| !remove.contains(k) && !add.iter().any(|(a, _)| a == k));
        tags.extend(add.iter().cloned());
        check_tag_count(tags.len())?;
        txn.put_tags(&arn, tags);
        Ok(())
    })?;
    Ok(Response::empty(204))
}
