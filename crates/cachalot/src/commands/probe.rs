//! `cachalot probe URL`: the diagnostic guide's procedure against any http(s) URL.
//!
//! The requests are sent here (through [`super::probe_http`]); what they mean is decided by
//! `cachalot_doctor::probe`. Exit codes: 0 healthy (a cold POP alone is not a fault), 1 a
//! fault was found, 2 the target could not be diagnosed (timeout, TLS, redirect, error
//! status, not a CDN) or the arguments are wrong.

use super::probe_http::{self, Target};
use crate::cli_error::hinted;
use cachalot_doctor::probe::{self, Observed};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `cachalot probe`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The URL of one object (http or https), e.g. https://d111111abcdef8.cloudfront.net/images/hero.jpg
    url: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// A request header sent with every request, e.g. -H 'Accept: image/webp' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// How many times the same request is repeated (at least 2).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=50))]
    count: u32,
    /// Seconds to wait for each response.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Accept any TLS certificate (a local edge with a self-signed certificate).
    #[arg(short = 'k', long)]
    insecure: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut target = Target::parse(&args.url)?;
    target.insecure = args.insecure;
    let mut headers = Vec::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(hinted(format!("-H {h}: expected 'Name: value'"), "for example -H 'Accept: image/webp'"));
        };
        let name = name.trim();
        if name.is_empty() || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(hinted(format!("-H {h}: invalid header name"), "for example -H 'Accept: image/webp'"));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let nonce = nonce();
    let plan = probe::plan(args.count as usize, &headers, &nonce);
    let timeout = Duration::from_secs(args.timeout.max(1));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let responses: Vec<Observed> = runtime.block_on(async {
        let mut out = Vec::with_capacity(plan.len());
        for (i, request) in plan.iter().enumerate() {
            let observed = probe_http::send(&target, request.extra_query.as_deref(), &request.headers, timeout).await?;
            let redirect = (300..400).contains(&observed.status);
            out.push(observed);
            // Nothing more to learn once the first answer is a redirect or an error.
            if i == 0 && (redirect || out[0].status >= 400) {
                break;
            }
        }
        Ok::<_, anyhow::Error>(out)
    })?;
    let report = probe::interpret(&args.url, &plan, &responses).map_err(|p| hinted(p.message, p.hint))?;
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&report)?;
        s.push('\n');
        s
    } else {
        probe::text(&report)
    };
    super::analyze_io::write_stdout(&out)?;
    Ok(if report.healthy { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A value unique to this run, so junk query strings and cookies start cold.
fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}{:x}", t.as_nanos() & 0xffff_ffff_ffff, std::process::id())
}
