//! `cachalot serve`: the POP listeners (data plane) and the admin listener.

use crate::cli_error::hinted;
use crate::dashboard::TopMisses;
use crate::setup::{self, Setup};
use crate::wiring::{EdgeBridge, TelemetryObserver};
use anyhow::Context as _;
use cachalot_config::file::{self, PopConfig};
use cachalot_proxy::{Edge, EdgeSettings, PopSettings};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `cachalot serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file: JSON with CloudFront resources in the AWS CLI's shapes (see README).
    #[arg(long, value_name = "FILE", conflicts_with = "origin")]
    config: Option<PathBuf>,
    /// Put one distribution with Managed-CachingOptimized in front of this origin URL.
    #[arg(long, value_name = "URL")]
    origin: Option<String>,
    /// Address of the (first) POP listener [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Address of the admin listener (API, metrics, dashboard) [default: 127.0.0.1:9400].
    #[arg(long, value_name = "ADDR")]
    admin: Option<String>,
    /// Serve /metrics, /dashboard and /healthz on this address of their own instead of the admin
    /// listener (no credentials asked there: bind it where only your monitoring reaches).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// State folder [default: ./.cachalot]: the embedded store, or with --store this node's own files.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Fleet store: postgres://USER@HOST:PORT/DB (every node naming it is one fleet).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Seconds between access log file deliveries (each flush publishes the files of the
    /// requests so far; CloudFront delivers several times an hour).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    log_flush: u64,
    /// Log filter (error, warn, info, debug, trace or a tracing filter).
    #[arg(long, value_name = "FILTER", default_value = "info", env = "CACHALOT_LOG")]
    log: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(&args.log);
    let setup = match (&args.config, &args.origin) {
        (Some(path), _) => setup::load_config(path)?,
        (None, Some(url)) => setup::from_origin(url)?,
        (None, None) => Setup::default(),
    };
    if args.store.is_none() && !setup.file.regional_caches.is_empty() {
        return Err(hinted(
            "RegionalCaches serve the other nodes of a fleet, and this node is not in one",
            "start every node with --store postgres://USER@HOST:PORT/DB, or remove RegionalCaches",
        ));
    }
    let state_dir = match (&args.state, &setup.file.state) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => setup.base.join(dir),
        (None, None) => PathBuf::from(file::DEFAULT_STATE),
    };
    let pops = pops(&setup, args.listen.as_deref());
    let admin =
        args.admin.clone().or_else(|| setup.file.admin.clone()).unwrap_or_else(|| file::DEFAULT_ADMIN.to_owned());
    let metrics = args.metrics.clone().or_else(|| setup.file.metrics.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let store = match args.store {
        None => Store::Embedded(state_dir),
        Some(url) => {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                return Err(hinted(
                    format!("--store {url}: not a PostgreSQL URL"),
                    "use postgres://USER@HOST:PORT/DB (add ?sslmode=require for TLS)",
                ));
            }
            let node_id = setup.file.node_id.clone().unwrap_or_else(host_name);
            Store::Fleet { url, node_id, state_dir }
        }
    };
    runtime.block_on(serve(setup, pops, Listeners { admin, metrics }, store, args.log_flush))
}

/// Where the control plane's state lives.
enum Store {
    Embedded(PathBuf),
    Fleet { url: String, node_id: String, state_dir: PathBuf },
}

/// This machine's host name (the default node id).
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String =
        name.trim().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    if name.is_empty() { "node".to_owned() } else { name }
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal as _;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

fn pops(setup: &Setup, listen: Option<&str>) -> Vec<PopConfig> {
    let mut pops = setup.file.pops.clone();
    // A node that only hosts regional caches for its fleet needs no POP.
    if pops.is_empty() && !setup.file.regional_caches.is_empty() && listen.is_none() {
        return pops;
    }
    if pops.is_empty() {
        pops.push(PopConfig {
            id: file::DEFAULT_POP_ID.to_owned(),
            listen: Some(file::DEFAULT_LISTEN.to_owned()),
            region: file::region_for_pop(file::DEFAULT_POP_ID).to_owned(),
            cache_bytes: file::DEFAULT_CACHE_BYTES,
            disk: None,
            tls: None,
        });
    }
    if let Some(addr) = listen {
        pops[0].listen = Some(addr.to_owned());
    }
    pops
}

/// Where the admin listener and, when separate, the monitoring pages listen.
struct Listeners {
    admin: String,
    metrics: Option<String>,
}

async fn serve(
    setup: Setup,
    pops: Vec<PopConfig>,
    listeners: Listeners,
    store: Store,
    log_flush: u64,
) -> anyhow::Result<ExitCode> {
    // This node's own files (disk caches, the log spool) live in the state folder, with or without a store.
    let state = match &store {
        Store::Embedded(dir) | Store::Fleet { state_dir: dir, .. } => dir.clone(),
    };
    let admin = listeners.admin;
    // `DiskCachePath` (relative to the config file), else `<state>/cache/<id>/`.
    let disk = |d: &Option<file::DiskCache>, id: &str| {
        d.as_ref().map(|d| cachalot_proxy::DiskConfig {
            path: d.path.as_ref().map_or_else(|| state.join("cache").join(id), |p| setup.base.join(p)),
            capacity_bytes: d.bytes,
        })
    };
    let buckets: HashMap<String, PathBuf> =
        setup.file.buckets.iter().map(|(b, dir)| (b.clone(), setup.base.join(dir))).collect();
    let geo = match &setup.file.geo_ip_database {
        Some(rel) => {
            let path = setup.base.join(rel);
            let db = cachalot_proxy::GeoDatabase::open(&path).map_err(|e| {
                hinted(
                    format!("GeoIpDatabase: {e}"),
                    "name a MaxMind-format (.mmdb) file such as GeoLite2-Country.mmdb",
                )
            })?;
            tracing::info!("viewer locations from {}", path.display());
            Some(Arc::new(db))
        }
        None => None,
    };
    let serve_unenforced = setup.file.unenforced_protections == file::UnenforcedProtections::Serve;
    let geo_missing = geo.is_none();
    let settings = EdgeSettings {
        geo,
        serve_unenforced,
        private_buckets: setup.file.private_buckets.iter().cloned().collect(),
        origin_credentials: node_credentials(),
        pops: pops
            .iter()
            .map(|p| PopSettings {
                id: p.id.clone(),
                region: p.region.clone(),
                cache_bytes: p.cache_bytes,
                disk: disk(&p.disk, &p.id),
            })
            .collect(),
        buckets,
        origin_addresses: setup.file.origin_addresses.clone().into_iter().collect(),
        regional_caches: setup
            .file
            .regional_caches
            .iter()
            .map(|r| cachalot_proxy::RegionalCacheSettings {
                region: r.region.clone(),
                cache_bytes: r.cache_bytes,
                disk: disk(&r.disk, &format!("REC-{}", r.region)),
            })
            .collect(),
        ..EdgeSettings::default()
    };
    let telemetry = Arc::new(
        cachalot_telemetry::Telemetry::new(cachalot_telemetry::TelemetryConfig {
            sink: cachalot_telemetry::SinkConfig {
                flush_interval: Duration::from_secs(log_flush),
                ..cachalot_telemetry::SinkConfig::default()
            },
            ..cachalot_telemetry::TelemetryConfig::default()
        })
        .context("starting the access log writer")?,
    );
    let misses = Arc::new(TopMisses::default());
    let log_buckets: BTreeMap<String, String> = setup
        .file
        .buckets
        .iter()
        .map(|(b, dir)| (b.clone(), setup.base.join(dir).to_string_lossy().into_owned()))
        .collect();
    let log_uploader = Arc::new(crate::wiring::LogUploader::default());
    // Access logs bound for S3 wait here until delivered: beside this node's state.
    let spool = state.join("log-spool");
    let observer = Arc::new(
        TelemetryObserver::new(telemetry.clone(), log_buckets, misses.clone())
            .with_s3_logs(spool, log_uploader.clone()),
    );
    let edge = Edge::with(
        settings,
        Arc::new(cachalot_config::Snapshot::default()),
        Arc::new(cachalot_proxy::SystemClock),
        observer.clone(),
    );
    let location = match store {
        Store::Embedded(dir) => cachalot_control::StoreLocation::Dir(dir),
        Store::Fleet { url, node_id, state_dir } => {
            let node = cachalot_control::NodeInfo {
                id: node_id,
                pops: pops
                    .iter()
                    .map(|p| cachalot_control::NodePop { id: p.id.clone(), region: p.region.clone() })
                    .collect(),
                regional_caches: setup
                    .file
                    .regional_caches
                    .iter()
                    .map(|r| cachalot_control::NodeRegionalCache {
                        region: r.region.clone(),
                        address: r.listen.clone(),
                    })
                    .collect(),
                admin: admin.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            tracing::info!("node {} joining the fleet at {}", node.id, redact(&url));
            cachalot_control::StoreLocation::Fleet(cachalot_control::FleetSettings { url, node, state_dir })
        }
    };
    // The control plane loads the store, merges the config file's resources and publishes the first snapshot.
    let control = cachalot_control::ControlPlane::open(
        location.clone(),
        setup.resources.clone(),
        setup.file.access_keys.clone(),
        Arc::new(EdgeBridge { edge: edge.clone(), observer }),
        Some(Arc::new(crate::wiring::FunctionRunner)),
    )
    .map_err(|e| {
        hinted(format!("cannot open the state store: {e}"), "check --state / --store (the folder must be writable)")
    })?;
    let snapshot = edge.snapshot();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (i, pop) in pops.iter().enumerate() {
        if let Some(addr) = &pop.listen {
            let listener = bind(addr, &format!("POP {}", pop.id)).await?;
            tracing::info!("POP {} ({}) listening on http://{}", pop.id, pop.region, listener.local_addr()?);
            tasks.push(tokio::spawn(cachalot_proxy::serve_pop(
                edge.clone(),
                i,
                listener,
                None,
                stop_rx.clone(),
                Duration::from_secs(10),
            )));
        }
        if let Some(tls) = &pop.tls {
            let cert = std::fs::read(setup.base.join(&tls.certificate_file))
                .with_context(|| format!("reading the certificate of POP {}", pop.id))?;
            let key = std::fs::read(setup.base.join(&tls.private_key_file))
                .with_context(|| format!("reading the key of POP {}", pop.id))?;
            let acceptor = cachalot_proxy::tls_acceptor(&cert, &key)
                .map_err(|e| hinted(format!("POP {}: {e}", pop.id), "give PEM files for Certificate and PrivateKey"))?;
            let listener = bind(&tls.listen, &format!("POP {} (TLS)", pop.id)).await?;
            tracing::info!("POP {} ({}) listening on https://{}", pop.id, pop.region, listener.local_addr()?);
            tasks.push(tokio::spawn(cachalot_proxy::serve_pop(
                edge.clone(),
                i,
                listener,
                Some(acceptor),
                stop_rx.clone(),
                Duration::from_secs(10),
            )));
        }
    }
    for rec in &setup.file.regional_caches {
        let listener = bind(&rec.listen, &format!("the regional cache of {}", rec.region)).await?;
        tracing::info!(
            "regional edge cache of {} listening on http://{} (fleet tiers only)",
            rec.region,
            listener.local_addr()?
        );
        tasks.push(tokio::spawn(cachalot_proxy::serve_regional(
            edge.clone(),
            rec.region.clone(),
            listener,
            stop_rx.clone(),
            Duration::from_secs(10),
        )));
    }
    for d in &snapshot.distributions {
        tracing::info!("distribution {} serving {}{}", d.id, d.domain_name, aliases(&d.aliases));
        if let Some(logging) = &d.logging
            && let Some(dir) = setup.file.buckets.get(&logging.bucket)
        {
            tracing::info!("distribution {} logs to {}", d.id, setup.base.join(dir).join(&logging.prefix).display());
        }
    }
    for (dist, behavior, u) in setup::unenforced_protections(&snapshot) {
        if serve_unenforced {
            tracing::warn!(
                "distribution {dist}{behavior}: {} is NOT enforced ({}); served anyway (UnenforcedProtections: serve)",
                u.what,
                u.field
            );
        } else {
            tracing::warn!(
                "distribution {dist}{behavior}: {} is not enforced ({}); its requests are refused",
                u.what,
                u.field
            );
        }
    }
    for d in snapshot.distributions.iter().filter(|d| d.geo_restriction.is_some()) {
        if geo_missing {
            tracing::warn!(
                "distribution {}: geo restriction without GeoIpDatabase: every viewer's country is unknown",
                d.id
            );
        }
    }
    if snapshot.distributions.is_empty() {
        tracing::info!("no distributions yet: create one through the API at http://{admin}/2020-05-31/distribution");
    }

    let admin_listener = bind(&admin, "the admin listener").await?;
    let admin_addr = admin_listener.local_addr()?;
    let apis = control.router().merge(control.cloudwatch_router(telemetry.clone()));
    let reporting = edge.clone();
    let tiers: crate::dashboard::Tiers = Arc::new(move || (reporting.tier_reports(), reporting.in_flight_bytes()));
    let fleet_control = control.clone();
    let fleet_status: crate::dashboard::FleetStatus = Arc::new(move || fleet_control.fleet_status());
    let pages = crate::dashboard::router(telemetry.clone(), misses, tiers, fleet_status).merge(control.fleet_router());
    let admin_router = match &listeners.metrics {
        Some(addr) => {
            let listener = bind(addr, "the metrics listener").await?;
            tracing::info!("admin listening on http://{admin_addr} (API, CloudWatch)");
            tracing::info!(
                "metrics listening on http://{} (/metrics, /dashboard, /healthz; no credentials asked)",
                listener.local_addr()?
            );
            tasks.push(tokio::spawn(serve_http(listener, crate::dashboard::health().merge(pages), stop_rx.clone())));
            apis
        }
        None => {
            tracing::info!("admin listening on http://{admin_addr} (API, CloudWatch, /metrics, /dashboard)");
            if !control.is_open() {
                tracing::info!(
                    "/metrics and /dashboard ask for an access key: HTTP Basic (access key id, secret) or SigV4; \
                     --metrics ADDR serves them on a listener of their own instead"
                );
            }
            apis.merge(crate::dashboard::health()).merge(control.guard(pages))
        }
    };
    if control.is_open() {
        tracing::warn!("the admin API accepts ANY credentials: no AccessKeys are configured");
    }
    if let cachalot_control::StoreLocation::Dir(dir) = &location {
        tracing::info!("state in {}", dir.display());
    }
    let admin_task = tokio::spawn(serve_http(admin_listener, admin_router, stop_rx.clone()));

    let uploads = {
        let (edge, uploader, mut stopped) = (edge.clone(), log_uploader.clone(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stopped.changed() => return,
                }
                uploader.deliver(&edge).await;
            }
        })
    };
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let _ = admin_task.await;
    // Every request has finished: its log line is queued; publish them all before exiting.
    let logs = telemetry.clone();
    let _ = tokio::task::spawn_blocking(move || logs.shutdown()).await;
    let _ = uploads.await;
    let delivered = log_uploader.deliver(&edge).await;
    if delivered > 0 {
        tracing::info!("{delivered} access log files put to S3");
    }
    tracing::info!("access logs flushed; stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serves `router` on `listener` until `stop` turns true, with the listener limits
/// (idle and header timeouts, connection cap, descriptor back-off) the POPs have.
async fn serve_http(listener: tokio::net::TcpListener, router: axum::Router, stop: tokio::sync::watch::Receiver<bool>) {
    let services = move |_: cachalot_proxy::ConnInfo| hyper_util::service::TowerToHyperService::new(router.clone());
    cachalot_proxy::serve_http(
        listener,
        None,
        cachalot_proxy::ListenerLimits::default(),
        stop,
        Duration::from_secs(10),
        services,
    )
    .await;
}

/// The URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The node's AWS credentials, which origin access controls sign origin requests with:
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` from the environment,
/// as the AWS CLI reads them. Without them the edge makes up credentials of its own, which
/// private folder-backed buckets trust; real S3 then sees requests it cannot verify.
fn node_credentials() -> Option<cachalot_proxy::origin::sigv4::Credentials> {
    let id = std::env::var("AWS_ACCESS_KEY_ID").ok().filter(|s| !s.is_empty())?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").ok().filter(|s| !s.is_empty())?;
    let token = std::env::var("AWS_SESSION_TOKEN").ok().filter(|s| !s.is_empty());
    tracing::info!("origin access controls sign with access key {id}");
    Some(cachalot_proxy::origin::sigv4::Credentials {
        access_key_id: id,
        secret_access_key: secret,
        session_token: token,
    })
}

fn aliases(a: &[String]) -> String {
    if a.is_empty() { String::new() } else { format!(" (aliases: {})", a.join(", ")) }
}

async fn bind(addr: &str, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        hinted(
            format!("cannot listen on {addr} for {what}: {e}"),
            "pick another address (--listen / --admin, or Pops[].Listen / Admin in the config)",
        )
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
