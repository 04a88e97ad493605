//! The doctor for cache hit ratio: probe interpretation, lint rules, log analysis and replay.
//!
//! **Owns**
//! - [`cause`]: the cause catalogue (the diagnostic guide's five plus Cachalot's), stable ids;
//! - [`infer`]: what logs tell about keys, lifetimes and shared tiers, and why each request missed;
//! - [`input`]: reading a Cachalot config file or the AWS CLI's JSON outputs, located;
//! - [`iac`]: CloudFormation templates (JSON, YAML, `cdk synth`), `terraform show -json` and `.tf`
//!   files read into the AWS CLI's shapes, with lines and notes for what cannot be resolved;
//! - [`lint`]: the rules, one file each, and their text / JSON / SARIF output;
//! - [`probe`]: the requests `cachalot probe` sends and what their responses mean
//!   (the HTTP client itself lives in the binary, so this is testable on recorded responses);
//! - [`formats`]: telling log formats apart (legacy, v2 w3c / json / plain / parquet, real-time)
//!   and rewriting each record into the standard layout; [`parquet_logs`]: reading Parquet;
//! - [`logs`]: streaming, multi-threaded reading of access logs on top of the telemetry parser;
//! - [`analyze`]: hit ratio by CacheHitRate's definition and the reason for every miss;
//! - [`replay`]: logged requests re-keyed under a candidate config with `cachalot-policy` and
//!   run through a virtual-time model of every tier;
//! - [`scenario`]: deterministic traffic with a known answer for each cause (fixtures, benchmarks).
//!
//! **Must not**: depend on the proxy, or decide keys and TTLs any other way than through
//! `cachalot-policy` (a prediction must not disagree with the edge), or panic on any input.

pub mod analyze;
pub mod cause;
pub mod formats;
pub mod iac;
pub mod infer;
pub mod input;
pub mod lint;
pub mod logs;
pub mod parquet_logs;
pub mod probe;
pub mod replay;
pub mod scenario;

pub use cause::Cause;
