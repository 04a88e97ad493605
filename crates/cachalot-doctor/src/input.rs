//! Reading what `lint` and `replay` are given: a Cachalot config file or the AWS CLI's
//! JSON outputs (`get-distribution-config`, `get-distribution`, `get-cache-policy`,
//! `get-origin-request-policy`, `list-distributions`, `list-cache-policies`,
//! `list-origin-request-policies`, `list-invalidations`, `get-invalidation`), alone or in a
//! folder. Every resource remembers the file and JSON path it came from, so findings and
//! errors name them.

use crate::iac;
use cachalot_config::file::{self, PopConfig};
use cachalot_config::model::{FunctionCode, Snapshot};
use cachalot_config::validate::{DistributionResource, Paths, Resources};
use cachalot_config::{Diagnostics, Severity, wire};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a resource was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file, as given (or found in a folder).
    pub file: String,
    /// JSON path of the resource's configuration inside the file (for a template, the
    /// resource's logical id or address and the property).
    pub path: String,
    /// 1-based line of the resource, for templates and Terraform files.
    pub line: Option<usize>,
}

/// An input that cannot be used: exit 2, naming the file and the JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file.
    pub file: String,
    /// Where in it (a JSON path, or `line L, column C` for syntax errors).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

/// One invalidation seen in the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationSeen {
    /// Invalidation id.
    pub id: String,
    /// `CreateTime` as printed (RFC 3339).
    pub create_time: Option<String>,
    /// Paths, when the output carries them (`get-invalidation`).
    pub paths: Vec<String>,
    /// Where it was read.
    pub source: Source,
}

/// Everything read from the inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The CloudFront resources, in wire form.
    pub resources: Resources,
    /// Source of each distribution's `DistributionConfig` (parallel to `resources.distributions`).
    pub distribution_sources: Vec<Source>,
    /// Source of each cache policy's `CachePolicyConfig`.
    pub cache_policy_sources: Vec<Source>,
    /// Source of each origin request policy's config.
    pub origin_request_policy_sources: Vec<Source>,
    /// POPs of a Cachalot config file (empty for AWS CLI outputs).
    pub pops: Vec<PopConfig>,
    /// Invalidations listed in the inputs.
    pub invalidations: Vec<InvalidationSeen>,
    /// Function name → code, when the code is known (Cachalot config files).
    pub function_code: HashMap<String, String>,
    /// Function name → where its code is given (`$.Functions[i].Code` or `.CodeFile`).
    pub function_sources: HashMap<String, Source>,
    /// Files read, in order.
    pub files: Vec<String>,
    /// Things worth telling the user that are not errors (unknown fields, skipped files).
    pub notes: Vec<String>,
    /// Behaviors whose cache policy is not among the inputs, as (distribution id, index in
    /// `CacheBehaviors.Items`, `None` for the default behavior): kept so the distribution
    /// validates, but nothing can be said about their cache key.
    pub unresolved_behaviors: Vec<(String, Option<usize>)>,
}

/// The resource kinds recognised in a JSON document.
const AWS_SHAPES: &str = "a Cachalot config file, or the output of aws cloudfront get-distribution-config, \
get-distribution, get-cache-policy, get-origin-request-policy, list-distributions, list-cache-policies, \
list-origin-request-policies, list-invalidations or get-invalidation";

impl Inputs {
    /// Reads files and folders (every `*.json`, `*.yaml`, `*.yml`, `*.template` below a folder,
    /// in name order; a file there that is no document lint reads is skipped with a note).
    pub fn load(paths: &[PathBuf]) -> Result<Inputs, Vec<InputError>> {
        let mut inputs = Inputs::default();
        let mut errors = Vec::new();
        // Terraform reads the `.tf` files of a folder as one module.
        let mut modules: std::collections::BTreeMap<PathBuf, Vec<PathBuf>> = std::collections::BTreeMap::new();
        for path in paths {
            let mut files = Vec::new();
            let in_folder = path.is_dir();
            if path.is_dir() {
                collect_json(path, &mut files);
                if files.is_empty() {
                    errors.push(InputError {
                        file: path.display().to_string(),
                        path: String::new(),
                        message: "the folder holds no .json, .yaml or .yml file".into(),
                        hint: Some(format!("put {AWS_SHAPES} in it")),
                    });
                }
            } else {
                files.push(path.clone());
            }
            for f in files {
                if f.extension().is_some_and(|e| e == "tf") {
                    modules.entry(f.parent().map(Path::to_path_buf).unwrap_or_default()).or_default().push(f);
                    continue;
                }
                let name = f.display().to_string();
                match std::fs::read_to_string(&f) {
                    Ok(text) => {
                        let base = f.parent().map(Path::to_path_buf).unwrap_or_default();
                        match inputs.add_text(&name, &text, Some(&base)) {
                            // A folder may hold other JSON (a `cdk.out` manifest, a tree): skipped.
                            Err(e) if in_folder && e.iter().all(|e| e.path == "$") => {
                                inputs.notes.push(format!("{name}: skipped: {}", e[0].message));
                            }
                            Err(e) => errors.extend(e),
                            Ok(()) => {}
                        }
                    }
                    Err(e) => errors.push(InputError {
                        file: name,
                        path: String::new(),
                        message: format!("cannot read: {e}"),
                        hint: Some("check the path".into()),
                    }),
                }
            }
        }
        for files in modules.values() {
            let mut texts = Vec::new();
            for f in files {
                match std::fs::read_to_string(f) {
                    Ok(t) => texts.push((f.display().to_string(), t)),
                    Err(e) => errors.push(InputError {
                        file: f.display().to_string(),
                        path: String::new(),
                        message: format!("cannot read: {e}"),
                        hint: Some("check the path".into()),
                    }),
                }
            }
            inputs.files.extend(texts.iter().map(|(n, _)| n.clone()));
            match iac::hcl::read_module(&texts) {
                Ok(mut found) => {
                    // These notes name their own file and line already.
                    inputs.notes.append(&mut found.notes);
                    let first = texts.first().map(|(n, _)| n.clone()).unwrap_or_default();
                    let mut diags = Diagnostics::new();
                    inputs.add_found(&first, found, &mut diags);
                    if let Err(e) = inputs.settle_diagnostics(&first, diags) {
                        errors.extend(e);
                    }
                }
                Err(e) => errors.extend(e.into_iter().map(|e| InputError {
                    file: e.file,
                    path: String::new(),
                    message: format!("not valid HCL: {}", e.message),
                    hint: Some("check the syntax near that position (terraform validate)".into()),
                })),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        inputs.settle_references();
        Ok(inputs)
    }

    /// Settles references to resources the inputs do not hold, which CloudFront resolves in the
    /// account: a live distribution's outputs name policies, functions, origin access controls
    /// and key groups by id. Those that do not change the cache key (origin request and response
    /// headers policies, origin access controls, trusted key groups) are left out; an unknown
    /// function is kept with unknown code (a viewer-request function is then taken as
    /// normalising what the key holds); a behavior with an unknown cache policy is listed in
    /// [`Inputs::unresolved_behaviors`]. Each becomes a note naming the output to pass.
    pub fn settle_references(&mut self) {
        use std::collections::HashSet;
        let managed = |id: &str| cachalot_config::managed::is_managed(id);
        let cache: HashSet<String> = self.resources.cache_policies.iter().map(|p| p.id.clone()).collect();
        let orp: HashSet<String> = self.resources.origin_request_policies.iter().map(|p| p.id.clone()).collect();
        let rhp: HashSet<String> = self.resources.response_headers_policies.iter().map(|p| p.id.clone()).collect();
        let oac: HashSet<String> = self.resources.origin_access_controls.iter().map(|p| p.id.clone()).collect();
        let groups: HashSet<String> = self.resources.key_groups.iter().map(|p| p.id.clone()).collect();
        let mut functions: HashSet<String> = self.resources.functions.iter().map(|f| f.name.clone()).collect();
        let mut notes = Vec::new();
        let mut new_functions = Vec::new();
        for (di, d) in self.resources.distributions.iter_mut().enumerate() {
            let Some(src) = self.distribution_sources.get(di) else { continue };
            let at = |rel: &str| format!("{}: {}.{rel}", src.file, src.path);
            for (oi, o) in d.config.origins.items.iter_mut().enumerate() {
                if let Some(id) =
                    o.origin_access_control_id.as_deref().filter(|id| !id.is_empty() && !oac.contains(*id))
                {
                    notes.push(format!(
                        "{}: origin access control {id} is not among the inputs; it signs origin requests and does not \
                         change the cache key, so it is left out (pass `aws cloudfront get-origin-access-control --id {id}` \
                         to include it)",
                        at(&format!("Origins.Items[{oi}].OriginAccessControlId"))
                    ));
                    o.origin_access_control_id = None;
                }
            }
            let n = d.config.cache_behaviors.as_ref().map_or(0, |l| l.items.len());
            for index in (0..n).map(Some).chain([None]) {
                let (rel, b) = match index {
                    Some(i) => match d.config.cache_behaviors.as_mut().and_then(|l| l.items.get_mut(i)) {
                        Some(b) => (format!("CacheBehaviors.Items[{i}]"), b),
                        None => continue,
                    },
                    None => ("DefaultCacheBehavior".to_owned(), &mut d.config.default_cache_behavior),
                };
                if let Some(id) = b.cache_policy_id.clone().filter(|id| !managed(id) && !cache.contains(id)) {
                    notes.push(format!(
                        "{}: cache policy {id} is not among the inputs, so this behavior's cache key is not checked \
                         (pass the output of `aws cloudfront get-cache-policy --id {id}`)",
                        at(&format!("{rel}.CachePolicyId"))
                    ));
                    b.cache_policy_id = Some(cachalot_config::managed::CACHING_OPTIMIZED.to_owned());
                    self.unresolved_behaviors.push((d.id.clone(), index));
                }
                if let Some(id) =
                    b.origin_request_policy_id.clone().filter(|id| !id.is_empty() && !managed(id) && !orp.contains(id))
                {
                    notes.push(format!(
                        "{}: origin request policy {id} is not among the inputs; it chooses what reaches the origin, \
                         not the cache key, so it is left out (pass `aws cloudfront get-origin-request-policy --id {id}` \
                         to include it)",
                        at(&format!("{rel}.OriginRequestPolicyId"))
                    ));
                    b.origin_request_policy_id = None;
                }
                if let Some(id) = b
                    .response_headers_policy_id
                    .clone()
                    .filter(|id| !id.is_empty() && !managed(id) && !rhp.contains(id))
                {
                    notes.push(format!(
                        "{}: response headers policy {id} is not among the inputs; it changes responses, not the cache \
                         key, so it is left out (pass `aws cloudfront get-response-headers-policy --id {id}` to include it)",
                        at(&format!("{rel}.ResponseHeadersPolicyId"))
                    ));
                    b.response_headers_policy_id = None;
                }
                if let Some(list) = &b.function_associations {
                    for (fi, f) in list.items.iter().enumerate() {
                        let Some(name) = cachalot_config::validate::function_name_from_arn(&f.function_arn) else {
                            continue;
                        };
                        if functions.insert(name.to_owned()) {
                            notes.push(format!(
                                "{}: function {name} is not among the inputs; its code is not examined, and a \
                                 viewer-request function is taken as normalising the headers the key holds (pass a \
                                 Cachalot config file with its code, or `aws cloudfront describe-function --name {name}` \
                                 and the code `get-function` saves)",
                                at(&format!("{rel}.FunctionAssociations.Items[{fi}].FunctionARN"))
                            ));
                            new_functions.push(FunctionCode {
                                name: name.to_owned(),
                                runtime: "cloudfront-js-2.0".to_owned(),
                                code: String::new(),
                                key_value_stores: Vec::new(),
                            });
                        }
                    }
                }
                if let Some(tkg) = &b.trusted_key_groups {
                    let ids: Vec<String> = tkg
                        .get("Items")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                        .unwrap_or_default();
                    let unknown: Vec<&String> = ids.iter().filter(|id| !groups.contains(*id)).collect();
                    if !unknown.is_empty() {
                        notes.push(format!(
                            "{}: key group{} {} not among the inputs; the behavior is linted as if its content were \
                             public (pass `aws cloudfront get-key-group --id <id>` to include them)",
                            at(&format!("{rel}.TrustedKeyGroups")),
                            if unknown.len() == 1 { "" } else { "s" },
                            unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                                + if unknown.len() == 1 { " is" } else { " are" },
                        ));
                        b.trusted_key_groups = None;
                    }
                }
            }
        }
        self.resources.functions.extend(new_functions);
        self.notes.extend(notes);
    }

    /// Adds one document. `base` resolves a config file's `CodeFile` paths (no file is
    /// read when it is `None`).
    pub fn add_text(&mut self, file: &str, text: &str, base: Option<&Path>) -> Result<(), Vec<InputError>> {
        self.files.push(file.to_owned());
        let err = |path: &str, message: String, hint: &str| InputError {
            file: file.to_owned(),
            path: path.to_owned(),
            message,
            hint: Some(hint.to_owned()),
        };
        let mut diags = Diagnostics::new();
        let lower = file.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            let doc = match iac::yaml::parse(text) {
                Ok(d) => d,
                Err(e) => {
                    return Err(vec![err(
                        &format!("line {}, column {}", e.line, e.column),
                        format!("not valid YAML: {}", e.message),
                        "check the indentation and quoting near that position",
                    )]);
                }
            };
            if !iac::cloudformation::is_template(&doc.value) {
                return Err(vec![err(
                    "$",
                    "a YAML file that is not a CloudFormation template".into(),
                    "give a template with AWS::CloudFront::* resources under Resources",
                )]);
            }
            let found = iac::cloudformation::read(&doc.value, &|id| {
                doc.lines.get(&format!("/Resources/{}", id.replace('~', "~0").replace('/', "~1"))).copied()
            });
            self.add_found(file, found, &mut diags);
            return self.settle_diagnostics(file, diags);
        }
        let root: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return Err(vec![err(
                    &format!("line {}, column {}", e.line(), e.column()),
                    format!("not valid JSON: {e}"),
                    "check for a missing comma, quote or brace near that position",
                )]);
            }
        };
        if iac::terraform::is_show_json(&root) {
            let found = iac::terraform::read_show_json(&root, text);
            self.add_found(file, found, &mut diags);
            return self.settle_diagnostics(file, diags);
        }
        if iac::cloudformation::is_template(&root) {
            let found = iac::cloudformation::read(&root, &|id| json_key_line(text, "Resources", id));
            self.add_found(file, found, &mut diags);
            return self.settle_diagnostics(file, diags);
        }
        let map = match &root {
            Value::Object(map) => map,
            Value::Array(list) => {
                // A bare list, as `--query DistributionList.Items` or a hand-kept file prints it.
                let before = self.resources.distributions.len()
                    + self.resources.cache_policies.len()
                    + self.resources.origin_request_policies.len();
                for (i, item) in list.iter().enumerate() {
                    self.add_list_item(file, item, &format!("$[{i}]"), &mut diags);
                }
                let after = self.resources.distributions.len()
                    + self.resources.cache_policies.len()
                    + self.resources.origin_request_policies.len();
                if after == before && !diags.items().iter().any(|d| d.severity == Severity::Error) {
                    return Err(vec![err(
                        "$",
                        "a list holding no distribution or policy".into(),
                        &format!("give {AWS_SHAPES}, or a list of their items"),
                    )]);
                }
                return self.settle_diagnostics(file, diags);
            }
            _ => {
                return Err(vec![err("$", "expected a JSON object or list".into(), &format!("give {AWS_SHAPES}"))]);
            }
        };
        if let Some(d) = map.get("Distribution").filter(|v| v.is_object()) {
            self.add_distribution(file, d, "$.Distribution", &mut diags);
        } else if map.contains_key("DistributionConfig") {
            self.add_distribution(file, &root, "$", &mut diags);
        } else if let Some(d) = map.get("DistributionConfigWithTags").filter(|v| v.is_object()) {
            self.add_distribution(file, d, "$.DistributionConfigWithTags", &mut diags);
        } else if is_distribution_config(map) {
            self.add_list_item(file, &root, "$", &mut diags);
        } else if let Some(p) = map.get("CachePolicy").filter(|v| v.is_object()) {
            self.add_cache_policy(file, p, "$.CachePolicy", &mut diags);
        } else if map.contains_key("CachePolicyConfig") {
            self.add_cache_policy(file, &root, "$", &mut diags);
        } else if let Some(p) = map.get("OriginRequestPolicy").filter(|v| v.is_object()) {
            self.add_origin_request_policy(file, p, "$.OriginRequestPolicy", &mut diags);
        } else if map.contains_key("OriginRequestPolicyConfig") {
            self.add_origin_request_policy(file, &root, "$", &mut diags);
        } else if let Some(list) = map.get("DistributionList") {
            for (i, item) in items(list).iter().enumerate() {
                self.add_distribution_summary(file, item, &format!("$.DistributionList.Items[{i}]"), &mut diags);
            }
        } else if let Some(list) = map.get("CachePolicyList") {
            for (i, item) in items(list).iter().enumerate() {
                if item.get("Type").and_then(Value::as_str) == Some("managed") {
                    continue; // Built in.
                }
                let inner = item.get("CachePolicy").unwrap_or(item);
                self.add_cache_policy(file, inner, &format!("$.CachePolicyList.Items[{i}].CachePolicy"), &mut diags);
            }
        } else if let Some(list) = map.get("OriginRequestPolicyList") {
            for (i, item) in items(list).iter().enumerate() {
                if item.get("Type").and_then(Value::as_str) == Some("managed") {
                    continue;
                }
                let inner = item.get("OriginRequestPolicy").unwrap_or(item);
                let at = format!("$.OriginRequestPolicyList.Items[{i}].OriginRequestPolicy");
                self.add_origin_request_policy(file, inner, &at, &mut diags);
            }
        } else if let Some(list) = map.get("InvalidationList") {
            for (i, item) in items(list).iter().enumerate() {
                self.add_invalidation(file, item, &format!("$.InvalidationList.Items[{i}]"));
            }
        } else if let Some(inv) = map.get("Invalidation").filter(|v| v.is_object()) {
            self.add_invalidation(file, inv, "$.Invalidation");
        } else if file::parse(text).0.distributions.is_empty()
            && !map
                .keys()
                .any(|k| ["Distributions", "CachePolicies", "OriginRequestPolicies", "Pops"].contains(&k.as_str()))
        {
            return Err(vec![err("$", "not a document this command reads".into(), &format!("give {AWS_SHAPES}"))]);
        } else {
            self.add_config_file(file, text, base, &mut diags);
        }
        self.settle_diagnostics(file, diags)
    }

    /// Errors among `diags` fail the document; the rest become notes.
    fn settle_diagnostics(&mut self, file: &str, diags: Diagnostics) -> Result<(), Vec<InputError>> {
        let mut errors = Vec::new();
        for d in diags.into_vec() {
            match d.severity {
                Severity::Error => errors.push(InputError {
                    file: file.to_owned(),
                    path: d.path,
                    message: format!("{} [{}]", d.message, d.code),
                    hint: d.hint,
                }),
                _ => self.notes.push(format!("{file}: {}: {}", d.path, d.message)),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn add_config_file(&mut self, file: &str, text: &str, base: Option<&Path>, diags: &mut Diagnostics) {
        let (cfg, d) = file::parse(text);
        diags.extend(d.into_vec());
        for (i, dist) in cfg.distributions.into_iter().enumerate() {
            self.resources.distributions.push(dist);
            self.distribution_sources.push(Source {
                file: file.to_owned(),
                path: format!("$.Distributions[{i}].DistributionConfig"),
                line: None,
            });
        }
        for (i, p) in cfg.cache_policies.into_iter().enumerate() {
            self.resources.cache_policies.push(p);
            self.cache_policy_sources.push(Source {
                file: file.to_owned(),
                path: format!("$.CachePolicies[{i}].CachePolicyConfig"),
                line: None,
            });
        }
        for (i, p) in cfg.origin_request_policies.into_iter().enumerate() {
            self.resources.origin_request_policies.push(p);
            self.origin_request_policy_sources.push(Source {
                file: file.to_owned(),
                path: format!("$.OriginRequestPolicies[{i}].OriginRequestPolicyConfig"),
                line: None,
            });
        }
        self.resources.response_headers_policies.extend(cfg.response_headers_policies);
        for (i, f) in cfg.functions.iter().enumerate() {
            let code = match (&f.code, &f.code_file, base) {
                (Some(code), _, _) => Some(code.clone()),
                (None, Some(rel), Some(base)) => match std::fs::read_to_string(base.join(rel)) {
                    Ok(code) => Some(code),
                    Err(e) => {
                        self.notes.push(format!(
                            "{file}: $.Functions[{i}].CodeFile: cannot read {}: {e}; the function is taken as not normalising anything",
                            base.join(rel).display()
                        ));
                        None
                    }
                },
                _ => None,
            };
            self.resources.functions.push(FunctionCode {
                name: f.name.clone(),
                runtime: f.runtime.clone(),
                code: code.clone().unwrap_or_default(),
                key_value_stores: f.key_value_stores.clone(),
            });
            if let Some(code) = code {
                let field = if f.code.is_some() { "Code" } else { "CodeFile" };
                let path = format!("$.Functions[{i}].{field}");
                self.function_sources.insert(f.name.clone(), Source { file: file.to_owned(), path, line: None });
                self.function_code.insert(f.name.clone(), code);
            }
        }
        if self.pops.is_empty() {
            self.pops = cfg.pops;
        }
    }

    /// One item of a bare list (or a bare document): a distribution in any of the shapes the
    /// AWS CLI prints or takes, a cache policy or an origin request policy.
    fn add_list_item(&mut self, file: &str, item: &Value, at: &str, diags: &mut Diagnostics) {
        let Value::Object(map) = item else {
            self.notes.push(format!("{file}: {at}: not an object; skipped"));
            return;
        };
        if let Some(d) = map.get("Distribution").filter(|v| v.is_object()) {
            self.add_distribution(file, d, &format!("{at}.Distribution"), diags);
        } else if map.contains_key("DistributionConfig") {
            self.add_distribution(file, item, at, diags);
        } else if is_distribution_config(map) {
            if map.contains_key("ARN") || map.contains_key("Status") {
                // A DistributionSummary (list-distributions).
                self.add_distribution_summary(file, item, at, diags);
            } else {
                self.add_bare_distribution(file, map, at, diags);
            }
        } else if let Some(p) = map.get("CachePolicy").filter(|v| v.is_object()) {
            self.add_cache_policy(file, p, &format!("{at}.CachePolicy"), diags);
        } else if map.contains_key("CachePolicyConfig") {
            self.add_cache_policy(file, item, at, diags);
        } else if let Some(p) = map.get("OriginRequestPolicy").filter(|v| v.is_object()) {
            self.add_origin_request_policy(file, p, &format!("{at}.OriginRequestPolicy"), diags);
        } else if map.contains_key("OriginRequestPolicyConfig") {
            self.add_origin_request_policy(file, item, at, diags);
        } else {
            self.notes.push(format!("{file}: {at}: neither a distribution nor a policy; skipped"));
        }
    }

    /// A bare `DistributionConfig` (the document `create-distribution --distribution-config`
    /// takes, or `get-distribution-config --query DistributionConfig` prints).
    fn add_bare_distribution(
        &mut self,
        file: &str,
        map: &serde_json::Map<String, Value>,
        at: &str,
        diags: &mut Diagnostics,
    ) {
        let mut cfg = map.clone();
        let id = cfg.remove("Id").and_then(|v| v.as_str().map(str::to_owned));
        let domain = cfg.remove("DomainName").and_then(|v| v.as_str().map(str::to_owned));
        let seed = format!("{file}{at}");
        cfg.entry("CallerReference").or_insert_with(|| Value::from(seed.clone()));
        cfg.entry("Comment").or_insert_with(|| Value::from(""));
        let Some(config) = file::typed::<wire::DistributionConfig>(Some(&Value::Object(cfg)), at, diags) else {
            return;
        };
        let id = id.unwrap_or_else(|| file::distribution_id_from(&seed));
        let domain_name = domain.unwrap_or_else(|| file::domain_name_from(&seed));
        self.push_distribution(DistributionResource { id, domain_name, config }, file, at.to_owned());
    }

    fn add_distribution(&mut self, file: &str, item: &Value, at: &str, diags: &mut Diagnostics) {
        let cfg_path = format!("{at}.DistributionConfig");
        let Some(config) = file::typed::<wire::DistributionConfig>(item.get("DistributionConfig"), &cfg_path, diags)
        else {
            return;
        };
        let seed = if config.caller_reference.is_empty() { file.to_owned() } else { config.caller_reference.clone() };
        let id = item
            .get("Id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| file::distribution_id_from(&seed));
        let domain_name = item
            .get("DomainName")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| file::domain_name_from(&seed));
        self.push_distribution(DistributionResource { id, domain_name, config }, file, cfg_path);
    }

    fn push_distribution(&mut self, d: DistributionResource, file: &str, path: String) {
        self.push_distribution_at(d, Source { file: file.to_owned(), path, line: None });
    }

    fn push_distribution_at(&mut self, d: DistributionResource, source: Source) {
        // The same distribution given twice (get-distribution and list-distributions): keep the last.
        if let Some(i) = self.resources.distributions.iter().position(|x| x.id == d.id) {
            self.resources.distributions[i] = d;
            self.distribution_sources[i] = source;
        } else {
            self.resources.distributions.push(d);
            self.distribution_sources.push(source);
        }
    }

    /// Adds what a template or Terraform reader found.
    fn add_found(&mut self, file: &str, found: iac::Found, diags: &mut Diagnostics) {
        for n in found.notes {
            self.notes.push(format!("{file}: {n}"));
        }
        for r in found.resources {
            let source =
                Source { file: r.file.clone().unwrap_or_else(|| file.to_owned()), path: r.path.clone(), line: r.line };
            match r.kind {
                iac::Kind::Distribution => {
                    let Some(config) = file::typed::<wire::DistributionConfig>(Some(&r.config), &r.path, diags) else {
                        continue;
                    };
                    let domain_name = file::domain_name_from(&format!("{file}:{}", r.path));
                    self.push_distribution_at(DistributionResource { id: r.id, domain_name, config }, source);
                }
                iac::Kind::CachePolicy => {
                    let Some(cfg) = file::typed::<wire::CachePolicyConfig>(Some(&r.config), &r.path, diags) else {
                        continue;
                    };
                    self.resources.cache_policies.push(wire::CachePolicy { id: r.id, cache_policy_config: cfg });
                    self.cache_policy_sources.push(source);
                }
                iac::Kind::OriginRequestPolicy => {
                    let Some(cfg) = file::typed::<wire::OriginRequestPolicyConfig>(Some(&r.config), &r.path, diags)
                    else {
                        continue;
                    };
                    self.resources
                        .origin_request_policies
                        .push(wire::OriginRequestPolicy { id: r.id, origin_request_policy_config: cfg });
                    self.origin_request_policy_sources.push(source);
                }
                iac::Kind::ResponseHeadersPolicy => {
                    // It does not change the cache key: when its config does not read, keep the name.
                    let mut quiet = Diagnostics::new();
                    let cfg = file::typed::<wire::ResponseHeadersPolicyConfig>(Some(&r.config), &r.path, &mut quiet)
                        .or_else(|| {
                            let name = r.config.get("Name").and_then(Value::as_str).unwrap_or("policy");
                            self.notes.push(format!(
                                "{file}: {}: the response headers policy is read by its name only",
                                r.path
                            ));
                            serde_json::from_value(serde_json::json!({"Name": name})).ok()
                        });
                    if let Some(cfg) = cfg {
                        self.resources
                            .response_headers_policies
                            .push(wire::ResponseHeadersPolicy { id: r.id, response_headers_policy_config: cfg });
                    }
                }
                iac::Kind::OriginAccessControl => {
                    let mut quiet = Diagnostics::new();
                    if let Some(cfg) =
                        file::typed::<wire::OriginAccessControlConfig>(Some(&r.config), &r.path, &mut quiet)
                    {
                        self.resources
                            .origin_access_controls
                            .push(wire::OriginAccessControl { id: r.id, origin_access_control_config: cfg });
                    }
                }
                iac::Kind::Function => {
                    let name = r.config.get("Name").and_then(Value::as_str).unwrap_or(&r.id).to_owned();
                    let runtime =
                        r.config.get("Runtime").and_then(Value::as_str).unwrap_or("cloudfront-js-1.0").to_owned();
                    let code = r.config.get("Code").and_then(Value::as_str).map(str::to_owned);
                    self.resources.functions.push(FunctionCode {
                        name: name.clone(),
                        runtime,
                        code: code.clone().unwrap_or_default(),
                        key_value_stores: Vec::new(),
                    });
                    if let Some(code) = code {
                        self.function_sources.insert(name.clone(), source);
                        self.function_code.insert(name, code);
                    }
                }
            }
        }
    }

    fn add_distribution_summary(&mut self, file: &str, item: &Value, at: &str, diags: &mut Diagnostics) {
        let Value::Object(map) = item else { return };
        let mut cfg = map.clone();
        // Summary-only fields that a DistributionConfig does not have.
        for k in ["Id", "ARN", "ETag", "Status", "LastModifiedTime", "DomainName", "AliasICPRecordals", "Type"] {
            cfg.remove(k);
        }
        let id = map.get("Id").and_then(Value::as_str).unwrap_or("").to_owned();
        cfg.entry("CallerReference").or_insert_with(|| Value::from(id.clone()));
        let mut quiet = Diagnostics::new();
        let Some(config) = file::typed::<wire::DistributionConfig>(Some(&Value::Object(cfg)), at, &mut quiet) else {
            diags.extend(quiet.into_vec().into_iter().filter(|d| d.severity == Severity::Error));
            return;
        };
        let domain_name = map
            .get("DomainName")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| file::domain_name_from(&id));
        let id = if id.is_empty() { file::distribution_id_from(at) } else { id };
        self.push_distribution(DistributionResource { id, domain_name, config }, file, at.to_owned());
    }

    fn add_cache_policy(&mut self, file: &str, item: &Value, at: &str, diags: &mut Diagnostics) {
        let cfg_path = format!("{at}.CachePolicyConfig");
        let Some(cfg) = file::typed::<wire::CachePolicyConfig>(item.get("CachePolicyConfig"), &cfg_path, diags) else {
            return;
        };
        let id = match item.get("Id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => {
                self.notes.push(format!(
                    "{file}: {at}: the output has no Id (get-cache-policy-config); behaviors cannot refer to it — use get-cache-policy"
                ));
                file::uuid_from(&cfg.name)
            }
        };
        let policy = wire::CachePolicy { id, cache_policy_config: cfg };
        let source = Source { file: file.to_owned(), path: cfg_path, line: None };
        if let Some(i) = self.resources.cache_policies.iter().position(|p| p.id == policy.id) {
            self.resources.cache_policies[i] = policy;
            self.cache_policy_sources[i] = source;
        } else {
            self.resources.cache_policies.push(policy);
            self.cache_policy_sources.push(source);
        }
    }

    fn add_origin_request_policy(&mut self, file: &str, item: &Value, at: &str, diags: &mut Diagnostics) {
        let cfg_path = format!("{at}.OriginRequestPolicyConfig");
        let Some(cfg) =
            file::typed::<wire::OriginRequestPolicyConfig>(item.get("OriginRequestPolicyConfig"), &cfg_path, diags)
        else {
            return;
        };
        let id =
            item.get("Id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| file::uuid_from(&cfg.name));
        self.resources
            .origin_request_policies
            .push(wire::OriginRequestPolicy { id, origin_request_policy_config: cfg });
        self.origin_request_policy_sources.push(Source { file: file.to_owned(), path: cfg_path, line: None });
    }

    fn add_invalidation(&mut self, file: &str, item: &Value, at: &str) {
        let paths = item
            .pointer("/InvalidationBatch/Paths/Items")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        self.invalidations.push(InvalidationSeen {
            id: item.get("Id").and_then(Value::as_str).unwrap_or("").to_owned(),
            create_time: item.get("CreateTime").and_then(Value::as_str).map(str::to_owned),
            paths,
            source: Source { file: file.to_owned(), path: at.to_owned(), line: None },
        });
    }

    /// Validates the resources into the model the edge serves. Errors name the file and path.
    pub fn snapshot(&self) -> Result<Snapshot, Vec<InputError>> {
        let paths = Paths {
            distribution: |i| format!("\u{1}D{i}\u{1}"),
            cache_policy: |i| format!("\u{1}C{i}\u{1}"),
            origin_request_policy: |i| format!("\u{1}O{i}\u{1}"),
            response_headers_policy: |i| format!("\u{1}R{i}\u{1}"),
        };
        let (snapshot, diags) = cachalot_config::validate::build_snapshot(&self.resources, &paths);
        let errors: Vec<InputError> = diags
            .into_vec()
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let (file, path) = self.relocate(&d.path);
                InputError { file, path, message: format!("{} [{}]", d.message, d.code), hint: d.hint }
            })
            .collect();
        if errors.is_empty() { Ok(snapshot) } else { Err(errors) }
    }

    /// Maps a marker path from [`Inputs::snapshot`] back to a file and JSON path.
    fn relocate(&self, path: &str) -> (String, String) {
        let mut parts = path.splitn(3, '\u{1}');
        let (Some(before), Some(marker), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return (self.files.first().cloned().unwrap_or_default(), path.to_owned());
        };
        let index: usize = marker.get(1..).and_then(|n| n.parse().ok()).unwrap_or(0);
        let source = match marker.chars().next() {
            Some('D') => self.distribution_sources.get(index),
            Some('C') => self.cache_policy_sources.get(index),
            Some('O') => self.origin_request_policy_sources.get(index),
            _ => None,
        };
        match source {
            Some(s) => (s.file.clone(), format!("{before}{}{rest}", s.path)),
            None => (self.files.first().cloned().unwrap_or_default(), format!("{before}{rest}")),
        }
    }

    /// Whether the behavior's cache policy is not among the inputs (`index` in
    /// `CacheBehaviors.Items`, `None` for the default behavior).
    pub fn is_unresolved(&self, distribution: &str, index: Option<usize>) -> bool {
        self.unresolved_behaviors.iter().any(|(d, i)| d == distribution && *i == index)
    }

    /// The index of the distribution with this id.
    pub fn distribution_index(&self, id: &str) -> Option<usize> {
        self.resources.distributions.iter().position(|d| d.id == id)
    }

    /// A custom cache policy by id, with where it was read.
    pub fn cache_policy(&self, id: &str) -> Option<(&wire::CachePolicy, &Source)> {
        let i = self.resources.cache_policies.iter().position(|p| p.id == id)?;
        Some((&self.resources.cache_policies[i], self.cache_policy_sources.get(i)?))
    }
}

/// The line of `"key":` inside the object that `"parent":` opens (the first of each, which is
/// what a template's `Resources` section holds).
fn json_key_line(text: &str, parent: &str, key: &str) -> Option<usize> {
    let start = text.find(&format!("\"{parent}\""))?;
    let quoted = format!("\"{key}\"");
    let mut from = start;
    while let Some(i) = text[from..].find(&quoted) {
        let at = from + i;
        let rest = text[at + quoted.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(text[..at].matches('\n').count() + 1);
        }
        from = at + quoted.len();
    }
    None
}

/// Whether an object is a `DistributionConfig` itself (or a `DistributionSummary`).
fn is_distribution_config(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("Origins") && map.contains_key("DefaultCacheBehavior")
}

fn items(list: &Value) -> Vec<Value> {
    list.get("Items").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_json(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| ["json", "yaml", "yml", "template", "tf"].contains(&e.to_str().unwrap_or("")))
        {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIST: &str = r#"{"ETag": "E1", "DistributionConfig": {
        "CallerReference": "ref", "Comment": "", "Enabled": true,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "11111111-2222-3333-4444-555555555555"}}}"#;

    const POLICY: &str = r#"{"ETag": "E2", "CachePolicy": {"Id": "11111111-2222-3333-4444-555555555555",
        "LastModifiedTime": "2024-01-01T00:00:00Z",
        "CachePolicyConfig": {"Name": "p", "MinTTL": 1, "DefaultTTL": 60, "MaxTTL": 600,
        "ParametersInCacheKeyAndForwardedToOrigin": {"EnableAcceptEncodingGzip": true,
        "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "all"}}}}}"#;

    #[test]
    fn aws_cli_outputs_link_across_files() {
        let mut inputs = Inputs::default();
        inputs.add_text("dist.json", DIST, None).unwrap();
        inputs.add_text("policy.json", POLICY, None).unwrap();
        let snap = inputs.snapshot().unwrap();
        assert_eq!(snap.distributions.len(), 1);
        assert_eq!(snap.distributions[0].behaviors[0].cache.default_ttl, 60);
    }

    #[test]
    fn a_missing_policy_names_the_file_and_path() {
        let mut inputs = Inputs::default();
        inputs.add_text("dist.json", DIST, None).unwrap();
        let errors = inputs.snapshot().unwrap_err();
        assert_eq!(errors[0].file, "dist.json");
        assert!(errors[0].path.starts_with("$.DistributionConfig.DefaultCacheBehavior"), "{errors:?}");
    }

    #[test]
    fn bad_json_and_foreign_documents_are_errors() {
        let mut inputs = Inputs::default();
        let e = inputs.add_text("x.json", "{\n\"a\": ", None).unwrap_err();
        assert!(e[0].path.starts_with("line 2"));
        let e = inputs.add_text("y.json", r#"{"Hello": 1}"#, None).unwrap_err();
        assert_eq!(e[0].path, "$");
    }
}
