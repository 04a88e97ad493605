//! CloudFront Functions: DEVELOPMENT and LIVE stages, publishing and TestFunction.
//!
//! Only the LIVE stage reaches the edge (and only LIVE functions may be
//! associated with a behavior); publishing copies DEVELOPMENT to LIVE and
//! republishes the snapshot, so every associated behavior runs the new code.

use super::{ListEcho, Request, Response, check_quantities, list_response, required_str};
use crate::control::Inner;
use crate::edge::{FunctionTestError, FunctionTestRequest};
use crate::error::ApiError;
use crate::state::Subject;
use crate::state::{FunctionRecord, FunctionStage, State, runtime_of};
use crate::util;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cachalot_config::validate::function_name_from_arn;
use serde_json::{Value, json};

/// CloudFront's function size quota.
const MAX_CODE_BYTES: usize = 10 * 1024;

fn no_such(name: &str) -> ApiError {
    ApiError::new("NoSuchFunctionExists", format!("The function {name} does not exist."))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Which stage a request addresses (`DEVELOPMENT` unless told otherwise).
fn stage_param(req: &Request) -> Result<&'static str, ApiError> {
    match req.param("Stage") {
        None | Some("") | Some("DEVELOPMENT") => Ok("DEVELOPMENT"),
        Some("LIVE") => Ok("LIVE"),
        Some(other) => Err(ApiError::invalid(format!("Stage must be DEVELOPMENT or LIVE, not \"{other}\""))),
    }
}

fn associated(s: &State, name: &str) -> Vec<String> {
    s.distributions_using(|b| {
        b.function_associations
            .as_ref()
            .is_some_and(|l| l.items.iter().any(|f| function_name_from_arn(&f.function_arn) == Some(name)))
    })
    .iter()
    .map(|d| d.id.clone())
    .collect()
}

fn stage_of<'a>(f: &'a FunctionRecord, stage: &str) -> Option<&'a FunctionStage> {
    if stage == "LIVE" { f.live.as_ref() } else { Some(&f.development) }
}

fn summary(s: &State, f: &FunctionRecord, stage: &str) -> Value {
    let st = stage_of(f, stage).unwrap_or(&f.development);
    let in_use = !associated(s, &f.name).is_empty();
    let published = f.live.as_ref().is_some_and(|l| l.code == f.development.code && l.config == f.development.config);
    let status =
        if stage == "LIVE" || published { if in_use { "DEPLOYED" } else { "UNASSOCIATED" } } else { "UNPUBLISHED" };
    json!({
        "Name": f.name,
        "Status": status,
        "FunctionConfig": st.config,
        "FunctionMetadata": {
            "FunctionARN": f.arn(),
            "Stage": stage,
            "CreatedTime": util::iso8601(f.created),
            "LastModifiedTime": util::iso8601(st.last_modified),
        },
    })
}

/// Validates a `FunctionConfig` and the base64 code; returns (config, code).
fn config_and_code(s: &State, doc: &Value, root: &str) -> Result<(Value, String), ApiError> {
    let config = doc
        .get("FunctionConfig")
        .cloned()
        .ok_or_else(|| ApiError::malformed(format!("{root}.FunctionConfig is required")))?;
    check_quantities(&config, &format!("{root}.FunctionConfig"))?;
    let runtime = required_str(&config, "Runtime", &format!("{root}.FunctionConfig"))?;
    if !matches!(runtime, "cloudfront-js-1.0" | "cloudfront-js-2.0") {
        return Err(ApiError::invalid(format!(
            "Runtime must be cloudfront-js-1.0 or cloudfront-js-2.0, not {runtime}"
        )));
    }
    if config.get("Comment").and_then(Value::as_str).is_none() {
        return Err(ApiError::malformed(format!("{root}.FunctionConfig.Comment is required")));
    }
    let arns: Vec<&str> = config
        .pointer("/KeyValueStoreAssociations/Items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("KeyValueStoreARN").and_then(Value::as_str))
        .collect();
    if arns.len() > 1 {
        return Err(ApiError::invalid("a function can be associated with one key value store"));
    }
    for arn in &arns {
        if s.kvs.values().all(|k| k.arn() != *arn) {
            return Err(ApiError::new("EntityNotFound", format!("no key value store with ARN {arn}")));
        }
    }
    let code_b64 = required_str(doc, "FunctionCode", root)?;
    let code = B64
        .decode(code_b64.trim())
        .map_err(|e| ApiError::malformed(format!("{root}.FunctionCode is not base64: {e}")))?;
    if code.len() > MAX_CODE_BYTES {
        return Err(ApiError::new(
            "FunctionSizeLimitExceeded",
            format!("the function code is {} bytes; the limit is {MAX_CODE_BYTES}", code.len()),
        ));
    }
    let code = String::from_utf8(code).map_err(|_| ApiError::invalid("the function code is not UTF-8 text"))?;
    // Code the edge could not run is refused here rather than answered with 503 on every request.
    let parsed_runtime =
        runtime.parse().map_err(|e: cachalot_functions::CompileError| ApiError::invalid(e.to_string()))?;
    cachalot_functions::check(parsed_runtime, &code)
        .map_err(|e| ApiError::invalid(format!("{root}.FunctionCode cannot run under {runtime}: {e}")))?;
    Ok((config, code))
}

pub(super) fn create(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let doc = req.xml_body("CreateFunctionRequest", "CreateFunctionRequest")?;
    let name = required_str(&doc, "Name", "CreateFunctionRequest")?.to_owned();
    if !valid_name(&name) {
        return Err(ApiError::invalid(format!("function name \"{name}\" must be 1 to 64 letters, digits, - or _")));
    }
    let now = util::now_ms();
    let (body, etag, arn) = cp.mutate(Subject::None, |txn| {
        if txn.state.functions.contains_key(&name) {
            return Err(ApiError::new("FunctionAlreadyExists", format!("A function named {name} already exists.")));
        }
        let (config, code) = config_and_code(&txn.state, &doc, "CreateFunctionRequest")?;
        let rec = FunctionRecord {
            name: name.clone(),
            created: now,
            development: FunctionStage { config, code, etag: util::etag(), last_modified: now },
            live: None,
        };
        let etag = rec.development.etag.clone();
        let body = summary(&txn.state, &rec, "DEVELOPMENT");
        let arn = rec.arn();
        txn.put_function(rec);
        Ok((body, etag, arn))
    })?;
    // CloudFront's Location names the function by its ARN, not its name.
    Ok(Response::xml(201, "FunctionSummary", "FunctionSummary", &body)
        .etag(&etag)
        .header("location", format!("{}/2020-05-31/function/{arn}", req.base_url())))
}

pub(super) fn describe(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    let stage = stage_param(req)?;
    cp.read(|s| {
        let f = s.functions.get(name).ok_or_else(|| no_such(name))?;
        let st = stage_of(f, stage).ok_or_else(|| no_such(name))?;
        Ok(Response::xml(200, "FunctionSummary", "FunctionSummary", &summary(s, f, stage)).etag(&st.etag))
    })
}

pub(super) fn get_code(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    let stage = stage_param(req)?;
    cp.read(|s| {
        let f = s.functions.get(name).ok_or_else(|| no_such(name))?;
        let st = stage_of(f, stage).ok_or_else(|| no_such(name))?;
        let mut resp = Response::empty(200).etag(&st.etag);
        resp.content_type = "application/octet-stream";
        resp.body = st.code.clone().into_bytes();
        Ok(resp)
    })
}

pub(super) fn update(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    let current = cp.read(|s| s.functions.get(name).cloned()).ok_or_else(|| no_such(name))?;
    req.check_if_match(&current.development.etag)?;
    let doc = req.xml_body("UpdateFunctionRequest", "UpdateFunctionRequest")?;
    let now = util::now_ms();
    let (body, etag) = cp.mutate(Subject::None, |txn| {
        let f = txn.state.functions.get(name).cloned().ok_or_else(|| no_such(name))?;
        if f.development.etag != current.development.etag {
            return Err(ApiError::new("PreconditionFailed", "The function was modified concurrently."));
        }
        let (config, code) = config_and_code(&txn.state, &doc, "UpdateFunctionRequest")?;
        let rec = FunctionRecord {
            development: FunctionStage { config, code, etag: util::etag(), last_modified: now },
            ..(*f).clone()
        };
        let etag = rec.development.etag.clone();
        let body = summary(&txn.state, &rec, "DEVELOPMENT");
        txn.put_function(rec);
        Ok((body, etag))
    })?;
    // The service model names this response header `ETtag`; botocore reads only that spelling.
    Ok(Response::xml(200, "FunctionSummary", "FunctionSummary", &body).etag(&etag).header("ettag", etag.clone()))
}

pub(super) fn publish(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    let now = util::now_ms();
    let body = cp.mutate(Subject::None, |txn| {
        let f = txn.state.functions.get(name).cloned().ok_or_else(|| no_such(name))?;
        req.check_if_match(&f.development.etag)?;
        let live = FunctionStage { etag: util::etag(), last_modified: now, ..f.development.clone() };
        let rec = FunctionRecord { live: Some(live), ..(*f).clone() };
        let body = summary(&txn.state, &rec, "LIVE");
        txn.put_function(rec);
        Ok(body)
    })?;
    Ok(Response::xml(200, "FunctionSummary", "FunctionSummary", &body))
}

pub(super) fn delete(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    cp.mutate(Subject::None, |txn| {
        let f = txn.state.functions.get(name).cloned().ok_or_else(|| no_such(name))?;
        req.check_if_match(&f.development.etag)?;
        let users = associated(&txn.state, name);
        if !users.is_empty() {
            return Err(ApiError::new(
                "FunctionInUse",
                format!("The function {name} is associated with distribution(s) {}.", users.join(", ")),
            ));
        }
        txn.delete_function(name);
        Ok(())
    })?;
    Ok(Response::empty(204))
}

pub(super) fn list(cp: &Inner, req: &Request) -> Result<Response, ApiError> {
    let max = req.max_items()?;
    let stage = stage_param(req)?;
    let items: Vec<(String, Value)> = cp.read(|s| {
        s.functions
            .values()
            .filter(|f| stage_of(f, stage).is_some())
            .map(|f| (f.name.clone(), summary(s, f, stage)))
            .collect()
    });
    Ok(list_response(req, "FunctionList", &items, max, ListEcho::Nothing))
}

pub(super) fn test(cp: &Inner, req: &Request, name: &str) -> Result<Response, ApiError> {
    let doc = req.xml_body("TestFunctionRequest", "TestFunctionRequest")?;
    let stage = match doc.get("Stage").and_then(Value::as_str) {
        None | Some("DEVELOPMENT") => "DEVELOPMENT",
        Some("LIVE") => "LIVE",
        Some(other) => return Err(ApiError::invalid(format!("Stage must be DEVELOPMENT or LIVE, not \"{other}\""))),
    };
    let (request, summary_json) = cp.read(|s| {
        let f = s.functions.get(name).ok_or_else(|| no_such(name))?;
        let st = stage_of(f, stage).ok_or_else(|| no_such(name))?;
        req.check_if_match(&st.etag)?;
        let event = required_str(&doc, "EventObject", "TestFunctionRequest")?;
        let event_object = B64
            .decode(event.trim())
            .map_err(|e| ApiError::malformed(format!("TestFunctionRequest.EventObject is not base64: {e}")))?;
        let snapshot_stores = s.kvs_names_of(&st.config);
        let key_value_stores = s
            .kvs
            .values()
            .filter(|k| snapshot_stores.contains(&k.name))
            .map(|k| {
                std::sync::Arc::new(cachalot_config::model::KeyValueStore {
                    name: k.name.clone(),
                    id: k.id.clone(),
                    items: k.items.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
                })
            })
            .collect();
        let request = FunctionTestRequest {
            name: name.to_owned(),
            runtime: runtime_of(&st.config),
            code: st.code.clone(),
            event_object,
            key_value_stores,
        };
        Ok((request, summary(s, f, stage)))
    })?;
    let Some(tester) = &cp.tester else {
        return Err(ApiError::new(
            "UnsupportedOperation",
            "TestFunction is not available: this control plane runs without a functions runtime",
        ));
    };
    let result = tester.test(&request).map_err(|e| match e {
        FunctionTestError::InvalidEvent(m) => ApiError::invalid(format!("EventObject: {m}")),
        FunctionTestError::Failed(m) => ApiError::new("TestFunctionFailed", m),
    })?;
    // Every member is present, FunctionExecutionLogs too when the function logged nothing.
    let out = json!({
        "FunctionSummary": summary_json,
        "ComputeUtilization": result.compute_utilization,
        "FunctionExecutionLogs": result.execution_logs,
        "FunctionErrorMessage": result.error_message,
        "FunctionOutput": result.output,
    });
    Ok(Response::xml(200, "TestResult", "TestResult", &out))
}
