//! The fleet store's schema and its versioned migrations, run once per database under
//! an advisory lock (nodes starting together migrate once).
//!
//! - `cachalot_records`: every CloudFront resource as the embedded store keeps it
//!   (`<kind>/<id>` → JSON), with the sequence number of the write that last set it;
//!   a deleted record stays as a tombstone (`value` NULL) so nodes catch up on deletions.
//! - `cachalot_seq`: one number per committed write; writes are serialised fleet-wide
//!   by an advisory lock, so commit order is sequence order and "every change after N"
//!   is one query.
//! - `cachalot_nodes`: the node registry (heartbeats, what each hosts, what it applied).
//! - `cachalot_acks`: which node purged which invalidation.
//! - `cachalot_metrics`: each node's per-minute CloudWatch numbers, for fleet-wide sums.
//! - `cachalot_meta`: the schema version and the fleet's tier secret.

use tokio_postgres::Client;

/// Channel of the change feed (`NOTIFY` payload: the new sequence number).
pub(crate) const CHANGES_CHANNEL: &str = "cachalot_changes";

/// Advisory lock serialising writes across the fleet.
pub(crate) const WRITE_LOCK: i64 = 0x6361_6368_616c_6f74;
/// Advisory lock serialising migrations.
const MIGRATION_LOCK: i64 = 0x6361_6368_616c_6f75;

/// Migrations, in order; the schema version is how many have run.
const MIGRATIONS: &[&str] = &[
    "CREATE SEQUENCE cachalot_seq;
     CREATE TABLE cachalot_records (key text PRIMARY KEY, value bytea, seq bigint NOT NULL);
     CREATE INDEX cachalot_records_seq ON cachalot_records (seq);
     CREATE TABLE cachalot_nodes (
         id text PRIMARY KEY, info text NOT NULL, started timestamptz NOT NULL,
         heartbeat timestamptz NOT NULL, applied_seq bigint NOT NULL);
     CREATE TABLE cachalot_acks (
         distribution_id text NOT NULL, invalidation_id text NOT NULL, node_id text NOT NULL,
         at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (distribution_id, invalidation_id, node_id));
     CREATE TABLE cachalot_metrics (
         node_id text NOT NULL, distribution_id text NOT NULL, minute bigint NOT NULL, data text NOT NULL,
         PRIMARY KEY (node_id, distribution_id, minute));
     INSERT INTO cachalot_meta (name, value) VALUES ('tier_secret', md5(random()::text || clock_timestamp()::text) || md5(random()::text));",
];

/// Creates or migrates the schema.
pub(crate) async fn migrate(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "SELECT pg_advisory_lock({MIGRATION_LOCK});
             CREATE TABLE IF NOT EXISTS cachalot_meta (name text PRIMARY KEY, value text NOT NULL);
             INSERT INTO cachalot_meta (name, value) VALUES ('schema_version', '0') ON CONFLICT (name) DO NOTHING;"
        ))
        .await?;
    let result = run_migrations(client).await;
    let unlocked = client.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).await;
    result.and(unlocked)
}

async fn run_migrations(client: &Client) -> Result<(), tokio_postgres::Error> {
    let row = client.query_one("SELECT value FROM cachalot_meta WHERE name = 'schema_version'", &[]).await?;
    let version: usize = row.get::<_, String>(0).parse().unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        client
            .batch_execute(&format!(
                "BEGIN; {sql}; UPDATE cachalot_meta SET value = '{}' WHERE name = 'schema_version'; COMMIT;",
                i + 1
            ))
            .await?;
    }
    Ok(())
}

/// Accepts any server certificate while still checking handshake signatures: what
/// `sslmode=require` means (encryption, no identity check), and what `probe --insecure` uses.
#[derive(Debug)]
pub struct AcceptAnyServer(rustls::crypto::CryptoProvider);

impl Default for AcceptAnyServer {
    fn default() -> Self {
        Self::new()
    }
}

impl AcceptAnyServer {
    /// A verifier with the ring provider's signature algorithms.
    pub fn new() -> Self {
        AcceptAnyServer(rustls::crypto::ring::default_provider())
    }
}

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
