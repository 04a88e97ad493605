//! Key value stores: the CloudFront control plane (`/2020-05-31/key-value-store`)
//! and the `cloudfront-keyvaluestore` data API (`/key-value-stores/{KvsARN}/…`, rest-json).
//!
//! **API boundary.** The data API lives on the admin listener beside the
//! CloudFront API and answers for any `Host`: the AWS SDKs send it to
//! `<account-id>.<endpoint host>` (the account id of the store's ARN,
//! `123456789012`), so that name must resolve to the admin listener (see the
//! crate documentation). Every change to the items republishes the snapshot,
//! so functions at the edge read the new values at once.

use super::{ListEcho, Request, Response, list_response, page, required_str};
use crate::control::Inner;
use crate::error::ApiError;
use crate::state::KvsRecord;
use crate::state::Subject;
use crate::util;
use serde_json::{Value, json};

/// Longest key (from the data API's model).
const MAX_KEY_BYTES: usize = 1024;
/// Largest value.
const MAX_VALUE_BYTES: usize = 1024;
/// Largest store (keys plus values).
const MAX_STORE_BYTES: usize = 5 * 1024 * 1024;

fn no_such(name: &str) -> ApiError {
    ApiError::new("EntityNotFound", format!("The key value store {name} does not exist."))
}

fn store_json(k: &KvsRecord) -> Value {
    json!({
        "Name": k.name,
        "Id": k.id,
        "Comment": k.comment,
        "ARN": k.arn(),
        "Status": "READY",
        "LastModifiedTime": util::iso8601(k.last_modified),
    })
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn create(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let doc = req.xml_body("CreateKeyValueStoreRequest", "CreateKeyValueStoreRequest")?;
    let name = required_str(&doc, "Name", "CreateKeyValueStoreRequest")?.to_owned();
    if !valid_name(&name) {
        return Err(ApiError::invalid(format!(
            "key value store name \"{name}\" must be 1 to 64 letters, digits, - or _"
        )));
    }
    if doc.get("ImportSource").is_some() {
        return Err(ApiError::invalid("ImportSource (an S3 object) is not supported; add keys with the data API"));
    }
    let comment = doc.get("Comment").and_then(Value::as_str).unwrap_or_default().to_owned();
    let now = util::now_ms();
    let rec = KvsRecord {
        name: name.clone(),
        id: util::uuid(),
        comment,
        etag: util::etag(),
        created: now,
        last_modified: now,
        items: Default::default(),
        data_etag: util::etag(),
        data_last_modified: now,
    };
    let out = rec.clone();
    cp.mutate(Subject::None, |txn| {
        if txn.state.kvs.contains_key(&name) {
            return Err(ApiError::new(
                "EntityAlreadyExists",
                format!("A key value store named {name} already exists."),
            ));
        }
        txn.put_kvs(rec);
        Ok(())
    })?;
    Ok(Response::xml(201, "KeyValueStore", "KeyValueStore", &store_json(&out))
        .etag(&out.etag)
        .header("location", format!("{}/2020-05-31/key-value-store/{}", req.base_url(), out.arn())))
}

pub(super) fn describe(cp: &Inner, name: &str) -> Result<Response, ApiError> {
    cp.read(|s| {
        let k = s.kvs.get(name).ok_or_else(|| no_such(name))?;
        Ok(Response::xml(200, "KeyValueStore", "KeyValueStore", &store_json(k)).etag(&k.etag))
    })
}

pub(super) fn update(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    let doc = req.xml_body("UpdateKeyValueStoreRequest", "UpdateKeyValueStoreRequest")?;
    let comment = required_str(&doc, "Comment", "UpdateKeyValueStoreRequest")?.to_owned();
    let rec = cp.mutate(Subject::None, |txn| {
        let k = txn.state.kvs.get(name).cloned().ok_or_else(|| no_such(name))?;
        req.check_if_match(&k.etag)?;
        let rec = KvsRecord { comment, etag: util::etag(), last_modified: util::now_ms(), ..(*k).clone() };
        txn.put_kvs(rec.clone());
        Ok(rec)
    })?;
    Ok(Response::xml(200, "KeyValueStore", "KeyValueStore", &store_json(&rec)).etag(&rec.etag))
}

pub(super) fn delete(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    cp.mutate(Subject::None, |txn| {
        let k = txn.state.kvs.get(name).cloned().ok_or_else(|| no_such(name))?;
        req.check_if_match(&k.etag)?;
        let users: Vec<String> = txn
            .state
            .functions
            .values()
            .filter(|f| {
                std::iter::once(&f.development)
                    .chain(f.live.as_ref())
                    .any(|st| txn.state.kvs_names_of(&st.config).contains(&k.name))
            })
            .map(|f| f.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(ApiError::new(
                "CannotDeleteEntityWhileInUse",
                format!("The key value store {name} is associated with function(s) {}.", users.join(", ")),
            ));
        }
        txn.delete_kvs(name);
        Ok(())
    })?;
    Ok(Response::empty(204))
}

pub(super) fn list(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let items: Vec<(String, Value)> = cp.read(|s| s.kvs.values().map(|k| (k.name.clone(), store_json(k))).collect());
    Ok(list_response(req, "KeyValueStoreList", &items, max, ListEcho::Nothing))
}

// ---------------------------------------------------------------------------
// Data API (cloudfront-keyvaluestore 2022-07-26, rest-json)
// ---------------------------------------------------------------------------

fn data_error(code: &str, status: u16, message: impl Into<String>) -> ApiError {
    ApiError::with_status(code, status, message)
}

fn not_found(what: impl Into<String>) -> ApiError {
    data_error("ResourceNotFoundException", 404, what)
}

fn validation(what: impl Into<String>) -> ApiError {
    data_error("ValidationException", 400, what)
}

fn total_size(k: &KvsRecord) -> usize {
    k.items.iter().map(|(a, b)| a.len() + b.len()).sum()
}

fn json_response(status: u16, v: &Value) -> Response {
    Response { status, headers: Vec::new(), content_type: "application/json", body: v.to_string().into_bytes() }
}

fn counts(k: &KvsRecord) -> Value {
    json!({"ItemCount": k.items.len(), "TotalSizeInBytes": total_size(k)})
}

fn find<'a>(s: &'a crate::state::State, arn: &str) -> Result<&'a std::sync::Arc<KvsRecord>, ApiError> {
    s.kvs.values().find(|k| k.arn() == arn || k.id == arn).ok_or_else(|| not_found(format!("no key value store {arn}")))
}

/// The data API's `If-Match`: missing is a validation error, stale a conflict.
fn check_data_etag(req: &Request, k: &KvsRecord) -> Result<(), ApiError> {
    match req.header("if-match").map(str::trim) {
        None | Some("") => Err(validation("If-Match (the store's ETag) is required")),
        Some(v) if v.trim_matches('"') == k.data_etag => Ok(()),
        Some(_) => {
            Err(data_error("ConflictException", 409, "the store was modified; describe it for the current ETag"))
        }
    }
}

fn check_item(key: &str, value: Option<&str>) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(validation(format!("a key must be 1 to {MAX_KEY_BYTES} bytes")));
    }
    if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
        return Err(validation(format!("the value of {key} is larger than {MAX_VALUE_BYTES} bytes")));
    }
    Ok(())
}

/// Applies puts and deletes to a store; returns the new counts and ETag.
fn change_items(
    cp: &Inner,
    req: &Request,
    arn: &str,
    puts: Vec<(String, String)>,
    deletes: Vec<String>,
) -> Result<Response, ApiError> {
    for (k, v) in &puts {
        check_item(k, Some(v))?;
    }
    for k in &deletes {
        check_item(k, None)?;
    }
    let rec = cp.mutate(Subject::None, |txn| {
        let k = find(&txn.state, arn)?.clone();
        check_data_etag(req, &k)?;
        let mut items = k.items.clone();
        for key in &deletes {
            items.remove(key);
        }
        items.extend(puts.iter().cloned());
        let rec = KvsRecord { items, data_etag: util::etag(), data_last_modified: util::now_ms(), ..(*k).clone() };
        if total_size(&rec) > MAX_STORE_BYTES {
            return Err(data_error(
                "ServiceQuotaExceededException",
                402,
                format!("a key value store holds at most {MAX_STORE_BYTES} bytes"),
            ));
        }
        txn.put_kvs(rec.clone());
        Ok(rec)
    })?;
    Ok(json_response(200, &counts(&rec)).etag(&rec.data_etag))
}

/// Routes one data API request (`segments` follow `/key-value-stores/`).
pub(crate) fn data_api(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    cp.authenticate(&req.signed())
        .map_err(|e| data_error("AccessDeniedException", 403, format!("{}: {}", e.code, e.message)))?;
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", [arn]) => cp.read(|s| {
            let k = find(s, arn)?;
            let mut body = counts(k);
            body["KvsARN"] = json!(k.arn());
            body["Created"] = json!(k.created as f64 / 1000.0);
            body["LastModified"] = json!(k.data_last_modified as f64 / 1000.0);
            body["Status"] = json!("READY");
            Ok(json_response(200, &body).etag(&k.data_etag))
        }),
        ("GET", [arn, "keys"]) => cp.read(|s| {
            let k = find(s, arn)?;
            let max = match req.param("MaxResults") {
                None | Some("") => 50,
                Some(m) => m
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=50).contains(n))
                    .ok_or_else(|| validation("MaxResults must be 1 to 50"))?,
            };
            let items: Vec<(String, Value)> =
                k.items.iter().map(|(a, b)| (a.clone(), json!({"Key": a, "Value": b}))).collect();
            let (page_items, next) = page(&items, req.param("NextToken"), max);
            let mut body = json!({"Items": page_items});
            if let Some(n) = next {
                body["NextToken"] = json!(n);
            }
            Ok(json_response(200, &body))
        }),
        ("POST", [arn, "keys"]) => {
            let doc: Value =
                serde_json::from_slice(&req.body).map_err(|e| validation(format!("the body is not JSON: {e}")))?;
            let mut puts = Vec::new();
            for p in doc.get("Puts").and_then(Value::as_array).into_iter().flatten() {
                let key = p.get("Key").and_then(Value::as_str).ok_or_else(|| validation("each put needs a Key"))?;
                let value =
                    p.get("Value").and_then(Value::as_str).ok_or_else(|| validation("each put needs a Value"))?;
                puts.push((key.to_owned(), value.to_owned()));
            }
            let mut deletes = Vec::new();
            for d in doc.get("Deletes").and_then(Value::as_array).into_iter().flatten() {
                let key = d.get("Key").and_then(Value::as_str).ok_or_else(|| validation("each delete needs a Key"))?;
                deletes.push(key.to_owned());
            }
            change_items(cp, req, arn, puts, deletes)
        }
        ("GET", [arn, "keys", key]) => cp.read(|s| {
            let k = find(s, arn)?;
            let value = k.items.get(*key).ok_or_else(|| not_found(format!("no key {key}")))?;
            let mut body = counts(k);
            body["Key"] = json!(key);
            body["Value"] = json!(value);
            Ok(json_response(200, &body))
        }),
        ("PUT", [arn, "keys", key]) => {
            let doc: Value =
                serde_json::from_slice(&req.body).map_err(|e| validation(format!("the body is not JSON: {e}")))?;
            let value = doc.get("Value").and_then(Value::as_str).ok_or_else(|| validation("Value is required"))?;
            change_items(cp, req, arn, vec![((*key).to_owned(), value.to_owned())], Vec::new())
        }
        ("DELETE", [arn, "keys", key]) => {
            let exists = cp.read(|s| find(s, arn).map(|k| k.items.contains_key(*key)))?;
            if !exists {
                return Err(not_found(format!("no key {key}")));
            }
            change_items(cp, req, arn, Vec::new(), vec![(*key).to_owned()])
        }
        _ => Err(data_error(
            "ValidationException",
            404,
            format!("no key value store operation matches {} {}", req.method, req.raw_path),
        )),
    }
}

/// Renders an error of the data API (rest-json).
pub(crate) fn data_error_response(e: &ApiError) -> Response {
    json_response(e.status, &json!({"Message": e.message, "message": e.message}))
        .header("x-amzn-errortype", e.code.clone())
}
