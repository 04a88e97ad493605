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
    /// Folder of the embedded state store [default: ./.cachalot].
    #[arg(long, value_name = "DIR", conflicts_with = "store")]
    state: Option<PathBuf>,
    /// External state store URL (postgres://…).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
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
    let location = match (&args.store, &args.state, &setup.file.state) {
        (Some(url), _, _) => cachalot_control::StoreLocation::Url(url.clone()),
        (None, Some(dir), _) => cachalot_control::StoreLocation::Dir(dir.clone()),
        (None, None, Some(dir)) => cachalot_control::StoreLocation::Dir(setup.base.join(dir)),
        (None, None, None) => cachalot_control::StoreLocation::Dir(PathBuf::from(file::DEFAULT_STATE)),
    };
    let pops = pops(&setup, args.listen.as_deref());
    let admin =
        args.admin.clone().or_else(|| setup.file.admin.clone()).unwrap_or_else(|| file::DEFAULT_ADMIN.to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(setup, pops, admin, location))
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
    if pops.is_empty() {
        pops.push(PopConfig {
            id: file::DEFAULT_POP_ID.to_owned(),
            listen: Some(file::DEFAULT_LISTEN.to_owned()),
            region: file::region_for_pop(file::DEFAULT_POP_ID).to_owned(),
            cache_bytes: file::DEFAULT_CACHE_BYTES,
            tls: None,
        });
    }
    if let Some(addr) = listen {
        pops[0].listen = Some(addr.to_owned());
    }
    pops
}

async fn serve(
    setup: Setup,
    pops: Vec<PopConfig>,
    admin: String,
    location: cachalot_control::StoreLocation,
) -> anyhow::Result<ExitCode> {
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
            .map(|p| PopSettings { id: p.id.clone(), region: p.region.clone(), cache_bytes: p.cache_bytes })
            .collect(),
        buckets,
        origin_addresses: setup.file.origin_addresses.clone().into_iter().collect(),
        ..EdgeSettings::default()
    };
    let telemetry = Arc::new(
        cachalot_telemetry::Telemetry::new(cachalot_telemetry::TelemetryConfig::default())
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
    let spool = match &location {
        cachalot_control::StoreLocation::Dir(dir) => dir.join("log-spool"),
        cachalot_control::StoreLocation::Url(_) => PathBuf::from(file::DEFAULT_STATE).join("log-spool"),
    };
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
    tracing::info!("admin listening on http://{admin_addr} (API, CloudWatch, /metrics, /dashboard)");
    if control.is_open() {
        tracing::warn!("the admin API accepts ANY credentials: no AccessKeys are configured");
    }
    if let cachalot_control::StoreLocation::Dir(dir) = &location {
        tracing::info!("state in {}", dir.display());
    }
    let router = control
        .router()
        .merge(control.cloudwatch_router(telemetry.clone()))
        .merge(crate::dashboard::router(telemetry.clone(), misses));
    let admin_services =
        move |_conn: cachalot_proxy::ConnInfo| hyper_util::service::TowerToHyperService::new(router.clone());
    let admin_task = tokio::spawn(cachalot_proxy::serve_http(
        admin_listener,
        None,
        cachalot_proxy::ListenerLimits::default(),
        stop_rx.clone(),
        Duration::from_secs(10),
        admin_services,
    ));

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
