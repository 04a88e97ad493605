//! Loading what `serve` runs: the config file (with the function code and key
//! value store files it names), or a single origin URL, turned into node
//! settings and CloudFront resources. All file I/O of configuration is here.

use crate::cli_error::hinted;
use anyhow::Context as _;
use cachalot_config::file::{self, ConfigFile};
use cachalot_config::model::{FunctionCode, KeyValueStore};
use cachalot_config::validate::{DistributionResource, Resources};
use cachalot_config::{Diagnostic, Severity, wire};
use std::path::{Path, PathBuf};

/// Everything `serve` needs before it binds a socket.
#[derive(Debug, Default)]
pub(crate) struct Setup {
    pub(crate) file: ConfigFile,
    pub(crate) resources: Resources,
    /// Folder of the config file (relative paths resolve against it).
    pub(crate) base: PathBuf,
}

/// Prints diagnostics to stderr, errors last; returns how many errors there were.
pub(crate) fn print_diagnostics(source: &str, diags: &[Diagnostic]) -> usize {
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| d.severity);
    for d in &sorted {
        eprintln!("{}: {source}: {} [{}]: {}", d.severity.as_str(), d.path, d.code, d.message);
        if let Some(h) = &d.hint {
            eprintln!("  hint: {h}");
        }
    }
    diags.iter().filter(|d| d.severity == Severity::Error).count()
}

/// Reads and validates a config file (every problem reported at once).
pub(crate) fn load_config(path: &Path) -> anyhow::Result<Setup> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        hinted(format!("cannot read the config file {}: {e}", path.display()), "check the path given to --config")
    })?;
    let (file, diags) = file::parse(&text);
    let source = path.display().to_string();
    let mut problems: Vec<Diagnostic> = diags.into_vec();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut functions = Vec::new();
    for (i, f) in file.functions.iter().enumerate() {
        let code = match (&f.code, &f.code_file) {
            (Some(code), _) => code.clone(),
            (None, Some(rel)) => match std::fs::read_to_string(base.join(rel)) {
                Ok(code) => code,
                Err(e) => {
                    problems.push(Diagnostic {
                        severity: Severity::Error,
                        code: "unreadable-file".into(),
                        path: format!("$.Functions[{i}].CodeFile"),
                        message: format!("cannot read {}: {e}", base.join(rel).display()),
                        hint: Some("CodeFile is relative to the config file's folder".into()),
                    });
                    continue;
                }
            },
            (None, None) => continue,
        };
        // Code the edge could not run would answer 503 on every request of its behaviors.
        if let Ok(runtime) = f.runtime.parse::<cachalot_functions::Runtime>()
            && let Err(problem) = cachalot_functions::check(runtime, &code)
        {
            let field = if f.code.is_some() { "Code" } else { "CodeFile" };
            problems.push(Diagnostic {
                severity: Severity::Error,
                code: "InvalidArgument".into(),
                path: format!("$.Functions[{i}].{field}"),
                message: format!("function {} cannot run under {runtime}: {problem}", f.name),
                hint: Some(
                    "function.js:LINE:COLUMN is a position in the function's code; `cachalot function test` runs it on an event"
                        .into(),
                ),
            });
        }
        functions.push(FunctionCode {
            name: f.name.clone(),
            runtime: f.runtime.clone(),
            code,
            key_value_stores: f.key_value_stores.clone(),
        });
    }
    let mut stores = Vec::new();
    for (i, k) in file.key_value_stores.iter().enumerate() {
        let mut items = k.items.clone();
        if let Some(rel) = &k.data_file {
            let at = format!("$.KeyValueStores[{i}].DataFile");
            match std::fs::read_to_string(base.join(rel)) {
                Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v) => {
                        let mut d = cachalot_config::Diagnostics::new();
                        items.extend(file::parse_kvs_data(&v, &at, &mut d));
                        problems.extend(d.into_vec());
                    }
                    Err(e) => problems.push(Diagnostic {
                        severity: Severity::Error,
                        code: "invalid-json".into(),
                        path: at,
                        message: format!("{}: {e}", base.join(rel).display()),
                        hint: Some("key value store data is {\"data\": [{\"key\": \"…\", \"value\": \"…\"}]}".into()),
                    }),
                },
                Err(e) => problems.push(Diagnostic {
                    severity: Severity::Error,
                    code: "unreadable-file".into(),
                    path: at,
                    message: format!("cannot read {}: {e}", base.join(rel).display()),
                    hint: Some("DataFile is relative to the config file's folder".into()),
                }),
            }
        }
        stores.push(KeyValueStore {
            name: k.name.clone(),
            id: file::uuid_from(&format!("kvs:{}", k.name)),
            items: items.into_iter().collect(),
        });
    }
    let resources = Resources {
        distributions: file.distributions.clone(),
        cache_policies: file.cache_policies.clone(),
        origin_request_policies: file.origin_request_policies.clone(),
        response_headers_policies: file.response_headers_policies.clone(),
        functions,
        key_value_stores: stores,
        log_deliveries: file.log_deliveries.clone(),
        public_keys: file.public_keys.clone(),
        key_groups: file.key_groups.clone(),
        origin_access_controls: file.origin_access_controls.clone(),
    };
    let (snapshot, diags) =
        cachalot_config::validate::build_snapshot(&resources, &cachalot_config::validate::Paths::config_file());
    problems.extend(diags.into_vec());
    if file.unenforced_protections == file::UnenforcedProtections::Refuse {
        for (dist, where_, u) in unenforced_protections(&snapshot) {
            problems.push(Diagnostic {
                severity: Severity::Error,
                code: "unenforced-protection".into(),
                path: format!("distribution {dist}{where_}: {}", u.field),
                message: format!("the edge does not enforce {}, so it will not serve this as if it were public", u.what),
                hint: Some("remove the protection, or set \"UnenforcedProtections\": \"serve\" in the config to serve it unprotected".into()),
            });
        }
    }
    let errors = print_diagnostics(&source, &problems);
    if errors > 0 {
        return Err(hinted(
            format!("{source} has {errors} error{}", if errors == 1 { "" } else { "s" }),
            "fix the problems listed above (each names its JSON path); `cachalot lint` explains hit-ratio issues too",
        ));
    }
    Ok(Setup { file, resources, base })
}

/// Every protection a distribution or behavior asks for that the edge does not enforce:
/// (distribution id, ` behavior <pattern>` or empty, the protection).
pub(crate) fn unenforced_protections(
    snapshot: &cachalot_config::Snapshot,
) -> Vec<(String, String, cachalot_config::model::Unenforced)> {
    let mut out = Vec::new();
    for d in &snapshot.distributions {
        for u in &d.unenforced {
            out.push((d.id.clone(), String::new(), u.clone()));
        }
        for b in &d.behaviors {
            for u in &b.unenforced {
                out.push((d.id.clone(), format!(" behavior {}", b.path_pattern.as_str()), u.clone()));
            }
        }
    }
    out
}

/// A one-distribution setup in front of `url` with Managed-CachingOptimized.
pub(crate) fn from_origin(url: &str) -> anyhow::Result<Setup> {
    let parsed: http::Uri = url.parse().with_context(|| format!("--origin {url} is not a URL"))?;
    let scheme = parsed.scheme_str().unwrap_or("http");
    if scheme != "http" && scheme != "https" {
        return Err(hinted(
            format!("--origin {url}: unsupported scheme {scheme}"),
            "use http://host:port or https://host",
        ));
    }
    let Some(host) = parsed.host() else {
        return Err(hinted(format!("--origin {url} has no host"), "for example --origin http://127.0.0.1:3000"));
    };
    let port = parsed.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
    let origin_path = parsed.path().trim_end_matches('/').to_owned();
    let config = serde_json::json!({
        "CallerReference": format!("cachalot-origin-{url}"),
        "Comment": format!("cachalot serve --origin {url}"),
        "Enabled": true,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "origin",
            "DomainName": host.trim_start_matches('[').trim_end_matches(']'),
            "OriginPath": origin_path,
            "CustomOriginConfig": {
                "HTTPPort": if scheme == "http" { port } else { 80 },
                "HTTPSPort": if scheme == "https" { port } else { 443 },
                "OriginProtocolPolicy": if scheme == "https" { "https-only" } else { "http-only" }
            }
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": cachalot_config::managed::CACHING_OPTIMIZED,
            "Compress": true,
            "AllowedMethods": {"Quantity": 7, "Items": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                               "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}
        }
    });
    let config: wire::DistributionConfig =
        serde_json::from_value(config).context("building the origin distribution")?;
    let seed = format!("origin:{url}");
    let distribution = DistributionResource {
        id: file::distribution_id_from(&seed),
        domain_name: file::domain_name_from(&seed),
        config,
    };
    let resources = Resources { distributions: vec![distribution], ..Resources::default() };
    let (_, diags) =
        cachalot_config::validate::build_snapshot(&resources, &cachalot_config::validate::Paths::config_file());
    if print_diagnostics("--origin", diags.items()) > 0 {
        return Err(hinted(
            format!("--origin {url} does not make a valid origin"),
            "use http://host:port/optional/path",
        ));
    }
    Ok(Setup { resources, ..Setup::default() })
}
