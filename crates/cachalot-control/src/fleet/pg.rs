//! PostgreSQL connections of a fleet node: a write session (one transaction at a time,
//! under the local state lock), a read session, and a listening session for the change
//! feed — all on a runtime of their own, so that the control plane's synchronous code
//! can wait on them from any thread, with a deadline, and never hang.
//!
//! A supervisor reconnects (with back-off) whatever broke, creates or migrates the
//! schema on first use, and reports every (re)connection and every notification, so
//! the node catches up by sequence after an outage.

use super::schema;
use crate::store::StoreError;
use parking_lot::Mutex;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_postgres::{AsyncMessage, Client};

/// Longest wait for one statement before the store counts as unavailable.
pub(crate) const STATEMENT_TIMEOUT: Duration = Duration::from_millis(1500);

/// Which session a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Session {
    Write,
    Read,
}

/// What the supervisor reports to the node.
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

struct Sessions {
    write: Option<Arc<Client>>,
    read: Option<Arc<Client>>,
    listen: Option<Arc<Client>>,
}

impl Sessions {
    /// Forgets `client` wherever it is held.
    fn forget(&mut self, client: &Arc<Client>) {
        for slot in [&mut self.write, &mut self.read, &mut self.listen] {
            if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
                *slot = None;
            }
        }
    }
}

/// The node's connections to the store.
pub(crate) struct Pg {
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Dropped from the binary's own runtime at exit: its connections just close.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

struct Shared {
    url: String,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    sessions: Mutex<Sessions>,
    up: AtomicBool,
    wake: tokio::sync::Notify,
    notify: Notify,
}

impl Pg {
    /// Starts the supervisor; `notify` is called after every (re)connection and every
    /// change notification. Returns at once: the first connection is made in the background.
    pub(crate) fn start(url: &str, notify: Notify) -> Result<Pg, StoreError> {
        let tls = tls_for(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cachalot-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("cannot start the store's runtime: {e}")))?;
        let shared = Arc::new(Shared {
            url: url.to_owned(),
            tls,
            sessions: Mutex::new(Sessions { write: None, read: None, listen: None }),
            up: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            notify,
        });
        runtime.spawn(supervise(shared.clone()));
        Ok(Pg { runtime: Some(runtime), shared })
    }

    /// Whether every session is connected.
    pub(crate) fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }

    /// Waits up to `wait` for the store to be connected.
    pub(crate) fn wait_up(&self, wait: Duration) -> bool {
        let deadline = std::time::Instant::now() + wait;
        while !self.is_up() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Runs `f` on `session`, waiting at most `timeout`. A session that fails or times
    /// out is dropped (aborting any transaction it held) and reconnected in the background.
    pub(crate) fn call<T, F, Fut>(&self, session: Session, timeout: Duration, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        let client = {
            let s = self.shared.sessions.lock();
            match session {
                Session::Write => s.write.clone(),
                Session::Read => s.read.clone(),
            }
        };
        let Some(client) = client else {
            return Err(StoreError::unavailable("the fleet store is not connected"));
        };
        let Some(runtime) = &self.runtime else {
            return Err(StoreError::unavailable("the fleet store connection is closed"));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let task = runtime.spawn(async move {
            let _ = tx.send(f(client).await);
        });
        let received = rx.recv_timeout(timeout);
        // A statement still waiting holds its session: stop it, so the connection can close.
        task.abort();
        let outcome = match received {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if e.as_db_error().is_some() => return Err(StoreError(format!("the fleet store refused: {e}"))),
            Ok(Err(e)) => format!("the fleet store failed: {e}"),
            Err(_) => "the fleet store did not answer in time".to_owned(),
        };
        self.drop_session(session);
        Err(StoreError::unavailable(outcome))
    }

    /// Forgets `session` (its connection closes, a transaction on it aborts) and reconnects.
    pub(crate) fn drop_session(&self, session: Session) {
        {
            let mut s = self.shared.sessions.lock();
            match session {
                Session::Write => s.write = None,
                Session::Read => s.read = None,
            }
        }
        self.shared.up.store(false, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// TLS per the URL's `sslmode`: `disable`/`prefer`/absent → none; `require` → encrypted
/// without checking the certificate (as libpq does); `verify-ca`/`verify-full` →
/// checked against `sslrootcert` (a PEM file) or the web PKI roots.
fn tls_for(url: &str) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_owned()))
    };
    let mode = param("sslmode").unwrap_or_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError(format!("TLS: {e}")))?;
    let config = match mode.as_str() {
        "" | "disable" | "allow" | "prefer" => return Ok(None),
        "require" => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(schema::AcceptAnyServer::new()))
            .with_no_client_auth(),
        "verify-ca" | "verify-full" => {
            let mut roots = rustls::RootCertStore::empty();
            match param("sslrootcert") {
                Some(file) => {
                    let pem =
                        std::fs::read(&file).map_err(|e| StoreError(format!("cannot read sslrootcert {file}: {e}")))?;
                    for cert in rustls_pemfile_certs(&pem) {
                        roots.add(cert).map_err(|e| StoreError(format!("sslrootcert {file}: {e}")))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        other => {
            return Err(StoreError(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect()
}

/// The URL as tokio-postgres reads it: without `sslrootcert`, and with `verify-ca` /
/// `verify-full` as `require` (the certificate is checked by the TLS connector, [`tls_for`]).
fn connect_url(url: &str) -> String {
    match url.split_once('?') {
        None => url.to_owned(),
        Some((base, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.starts_with("sslrootcert="))
                .map(
                    |kv| if matches!(kv, "sslmode=verify-ca" | "sslmode=verify-full") { "sslmode=require" } else { kv },
                )
                .collect();
            if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
        }
    }
}

/// Opens one session; `listen` also subscribes to the change feed.
async fn open(shared: &Arc<Shared>, listen: bool) -> Result<Arc<Client>, tokio_postgres::Error> {
    let url = connect_url(&shared.url);
    let (client, mut connection) = match &shared.tls {
        Some(tls) => {
            let (c, conn) = tokio_postgres::connect(&url, tls.clone()).await?;
            (c, Box::pin(conn) as std::pin::Pin<Box<dyn ConnectionFuture>>)
        }
        None => {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            (c, Box::pin(conn) as std::pin::Pin<Box<dyn ConnectionFuture>>)
        }
    };
    let client = Arc::new(client);
    let owner = shared.clone();
    let mine = Arc::downgrade(&client);
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.as_mut().poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => (owner.notify)(),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
        // This connection ended: its session is reconnected.
        if let Some(client) = mine.upgrade() {
            owner.sessions.lock().forget(&client);
        }
        owner.up.store(false, Ordering::Release);
        owner.wake.notify_one();
    });
    if listen {
        client.batch_execute(&format!("LISTEN {}", schema::CHANGES_CHANNEL)).await?;
    }
    Ok(client)
}

/// A connection's driving future, whatever its TLS.
trait ConnectionFuture: Send {
    fn poll_message(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<AsyncMessage, tokio_postgres::Error>>>;
}

impl<S, T> ConnectionFuture for tokio_postgres::Connection<S, T>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    fn poll_message(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<AsyncMessage, tokio_postgres::Error>>> {
        tokio_postgres::Connection::poll_message(self.get_mut(), cx)
    }
}

/// Keeps the three sessions connected, with back-off.
async fn supervise(shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(100);
    let mut warned = false;
    loop {
        let complete = {
            let s = shared.sessions.lock();
            s.write.is_some() && s.read.is_some() && s.listen.is_some()
        };
        if !complete {
            match tokio::time::timeout(Duration::from_secs(3), connect_all(&shared)).await {
                Ok(Ok(())) => {
                    if warned {
                        tracing::info!("the fleet store is reachable again");
                    }
                    warned = false;
                    backoff = Duration::from_millis(100);
                    shared.up.store(true, Ordering::Release);
                    // Whatever was missed while away is caught up by sequence.
                    (shared.notify)();
                }
                outcome => {
                    let why = match outcome {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_owned(),
                    };
                    if !warned {
                        tracing::warn!(
                            "the fleet store is unreachable ({why}); serving the last configuration, retrying"
                        );
                        warned = true;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        let wait = if shared.up.load(Ordering::Acquire) { Duration::from_secs(5) } else { backoff };
        let _ = tokio::time::timeout(wait, shared.wake.notified()).await;
    }
}

async fn connect_all(shared: &Arc<Shared>) -> Result<(), tokio_postgres::Error> {
    let (need_write, need_read, need_listen) = {
        let s = shared.sessions.lock();
        (s.write.is_none(), s.read.is_none(), s.listen.is_none())
    };
    if need_read {
        let read = open(shared, false).await?;
        schema::migrate(&read).await?;
        shared.sessions.lock().read = Some(read);
    }
    if need_write {
        let write = open(shared, false).await?;
        shared.sessions.lock().write = Some(write);
    }
    if need_listen {
        let listen = open(shared, true).await?;
        shared.sessions.lock().listen = Some(listen);
    }
    Ok(())
}
