//! The fleet store: many nodes, one PostgreSQL (`--store postgres://…`).
//!
//! - **Writes** run in one PostgreSQL transaction under a fleet-wide advisory lock: the
//!   node first folds in every change written since its last (so If-Match, quotas and
//!   CallerReference idempotency are checked against the fleet's latest state), then
//!   writes its records with the next sequence number and notifies the change feed.
//!   Two nodes racing the same update: exactly one wins; the other sees the winner's
//!   ETag and answers `PreconditionFailed`. A store that does not answer within
//!   [`pg::STATEMENT_TIMEOUT`] turns the write into `503 ServiceUnavailable`.
//! - **Propagation**: `LISTEN`/`NOTIFY` for speed, the sequence for correctness — a node
//!   fetches every record written after the last one it applied, on every
//!   notification, every second, and after reconnecting.
//! - **Replica**: each node keeps what it applied (and the sequence) in a local file, so
//!   it starts and serves with its last configuration whatever happens to the store.
//! - **Nodes** register and heartbeat; **invalidations** complete when every live node has
//!   recorded its purge (see [`node`]).

pub(crate) mod node;
pub(crate) mod pg;
mod schema;
pub use schema::AcceptAnyServer;

use crate::error::ApiError;
use crate::store::{Change, Store, StoreError};
use pg::{Pg, STATEMENT_TIMEOUT, Session};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// Record key of the sequence applied, in the replica.
const APPLIED_KEY: &str = "\u{0}applied-seq";

/// How long a node may be silent before invalidations stop waiting for it (and it
/// leaves the fleet view).
pub const NODE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a node tells the fleet about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeInfo {
    /// Unique id in the fleet.
    pub id: String,
    /// Its POPs.
    pub pops: Vec<NodePop>,
    /// The regional edge caches it hosts.
    pub regional_caches: Vec<NodeRegionalCache>,
    /// Its admin listener.
    pub admin: String,
    /// Cachalot's version.
    pub version: String,
}

/// A POP of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodePop {
    /// POP id.
    pub id: String,
    /// Region.
    pub region: String,
}

/// A regional edge cache a node hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeRegionalCache {
    /// Region.
    pub region: String,
    /// `host:port` other nodes' POPs reach it on.
    pub address: String,
}

/// A node as the registry shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// What it said about itself.
    pub info: NodeInfo,
    /// Its last heartbeat, Unix milliseconds.
    pub heartbeat_ms: i64,
    /// The configuration version (store sequence) it applied.
    pub applied_seq: i64,
    /// Heard from within [`NODE_TIMEOUT`].
    pub alive: bool,
}

/// A store-backed node of a fleet.
pub(crate) struct Fleet {
    pub(crate) pg: Pg,
    replica: Store,
    pub(crate) node: NodeInfo,
}

/// Records written after some sequence number (each with its own), and the newest number among them.
pub(crate) struct Changes {
    pub(crate) records: Vec<(String, Option<Vec<u8>>, u64)>,
    pub(crate) seq: u64,
}

impl Fleet {
    /// Connects (in the background) to the store at `url`; the node's replica lives in
    /// `replica_dir`. `on_change` runs after every notification and reconnection.
    pub(crate) fn open(
        url: &str,
        node: NodeInfo,
        replica_dir: &Path,
        on_change: pg::Notify,
    ) -> Result<Fleet, StoreError> {
        let replica = Store::open_file(replica_dir, crate::store::REPLICA_FILE)?;
        let pg = Pg::start(url, on_change)?;
        Ok(Fleet { pg, replica, node })
    }

    /// What the replica holds: the records and the sequence they reflect.
    pub(crate) fn replica(&self) -> Result<(Vec<Change>, u64), StoreError> {
        let mut applied = 0;
        let mut records = Vec::new();
        for (key, value) in self.replica.load()? {
            if key == APPLIED_KEY {
                applied = std::str::from_utf8(&value).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            } else {
                records.push((key, Some(value)));
            }
        }
        Ok((records, applied))
    }

    /// Keeps `changes` (and the sequence they bring the node to) in the replica.
    pub(crate) fn remember(&self, changes: &[Change], seq: u64) {
        let mut all: Vec<Change> = changes.to_vec();
        all.push((APPLIED_KEY.to_owned(), Some(seq.to_string().into_bytes())));
        if let Err(e) = self.replica.commit(&all) {
            tracing::warn!("the local replica of the fleet's configuration was not updated: {e}");
        }
    }

    /// Every record written after `seq`.
    pub(crate) fn changes_since(&self, seq: u64) -> Result<Changes, StoreError> {
        let from = i64::try_from(seq).unwrap_or(i64::MAX);
        let rows = self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            c.query("SELECT key, value, seq FROM cachalot_records WHERE seq > $1 ORDER BY seq, key", &[&from]).await
        })?;
        Ok(to_changes(&rows, seq))
    }

    /// One fleet-wide write (see the module docs). `body` gets the changes written since
    /// `applied` (and the sequence they bring the node to), must fold them into its state,
    /// and returns the records to write; nothing is written when it fails. Returns
    /// `body`'s value and, when records were written, their sequence number.
    pub(crate) fn write<R>(
        &self,
        applied: u64,
        body: impl FnOnce(Changes) -> Result<(Vec<Change>, R), ApiError>,
    ) -> Result<(R, Option<u64>), ApiError> {
        let unavailable = |e: StoreError| ApiError::service_unavailable(e.0);
        if !self.pg.is_up() {
            return Err(ApiError::service_unavailable("the fleet store is unreachable; the change was not made"));
        }
        let from = i64::try_from(applied).unwrap_or(i64::MAX);
        let rows = self
            .pg
            .call(Session::Write, STATEMENT_TIMEOUT, move |c| async move {
                c.batch_execute("BEGIN").await?;
                c.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::WRITE_LOCK]).await?;
                c.query("SELECT key, value, seq FROM cachalot_records WHERE seq > $1 ORDER BY seq, key", &[&from]).await
            })
            .map_err(unavailable)?;
        let (changes, value) = match body(to_changes(&rows, applied)) {
            Ok(v) => v,
            Err(e) => {
                self.finish("ROLLBACK");
                return Err(e);
            }
        };
        if changes.is_empty() {
            self.finish("COMMIT");
            return Ok((value, None));
        }
        let seq = self
            .pg
            .call(Session::Write, STATEMENT_TIMEOUT, move |c| async move {
                let seq: i64 = c.query_one("SELECT nextval('cachalot_seq')", &[]).await?.get(0);
                let insert = c
                    .prepare(
                        "INSERT INTO cachalot_records (key, value, seq) VALUES ($1, $2, $3)
                         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, seq = EXCLUDED.seq",
                    )
                    .await?;
                for (key, value) in &changes {
                    c.execute(&insert, &[key, value, &seq]).await?;
                }
                c.execute(&format!("SELECT pg_notify('{}', $1)", schema::CHANGES_CHANNEL), &[&seq.to_string()]).await?;
                c.batch_execute("COMMIT").await?;
                Ok(seq)
            })
            .map_err(unavailable)?;
        Ok((value, Some(u64::try_from(seq).unwrap_or(0))))
    }

    /// Ends the open write transaction; a session that cannot is dropped (which aborts it).
    fn finish(&self, statement: &'static str) {
        let done =
            self.pg.call(Session::Write, STATEMENT_TIMEOUT, move |c| async move { c.batch_execute(statement).await });
        if done.is_err() {
            self.pg.drop_session(Session::Write);
        }
    }

    /// The secret tier traffic is signed with (created with the schema).
    pub(crate) fn tier_secret(&self) -> Result<String, StoreError> {
        let row = self.pg.call(Session::Read, STATEMENT_TIMEOUT, |c| async move {
            c.query_one("SELECT value FROM cachalot_meta WHERE name = 'tier_secret'", &[]).await
        })?;
        Ok(row.get(0))
    }

    /// Records this node's heartbeat (and what it applied), and returns every node.
    pub(crate) fn heartbeat(&self, applied: u64) -> Result<Vec<NodeStatus>, StoreError> {
        let info = serde_json::to_string(&self.node).unwrap_or_default();
        let id = self.node.id.clone();
        let applied = i64::try_from(applied).unwrap_or(i64::MAX);
        let timeout_secs = NODE_TIMEOUT.as_secs_f64();
        let rows = self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            c.execute(
                "INSERT INTO cachalot_nodes (id, info, started, heartbeat, applied_seq) VALUES ($1, $2, now(), now(), $3)
                 ON CONFLICT (id) DO UPDATE SET info = EXCLUDED.info, heartbeat = now(), applied_seq = EXCLUDED.applied_seq",
                &[&id, &info, &applied],
            )
            .await?;
            c.query(
                "SELECT info, (extract(epoch FROM heartbeat) * 1000)::bigint, applied_seq,
                        heartbeat > now() - make_interval(secs => $1)
                 FROM cachalot_nodes ORDER BY id",
                &[&timeout_secs],
            )
            .await
        })?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let info: NodeInfo = serde_json::from_str(&r.get::<_, String>(0)).ok()?;
                Some(NodeStatus { info, heartbeat_ms: r.get(1), applied_seq: r.get(2), alive: r.get(3) })
            })
            .collect())
    }

    /// Writes this node's per-minute CloudWatch numbers: `(distribution id, minute, data)`.
    pub(crate) fn flush_metrics(&self, rows: Vec<(String, i64, String)>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let node = self.node.id.clone();
        self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            let upsert = c
                .prepare(
                    "INSERT INTO cachalot_metrics (node_id, distribution_id, minute, data) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (node_id, distribution_id, minute) DO UPDATE SET data = EXCLUDED.data",
                )
                .await?;
            for (dist, minute, data) in &rows {
                c.execute(&upsert, &[&node, dist, minute, data]).await?;
            }
            // Minutes CloudWatch no longer answers for (26 hours) are dropped.
            let oldest = rows.iter().map(|r| r.1).max().unwrap_or(0) - 26 * 60;
            c.execute("DELETE FROM cachalot_metrics WHERE node_id = $1 AND minute < $2", &[&node, &oldest]).await?;
            Ok(())
        })
    }

    /// The other nodes' minutes of `distribution` in `[from, to)`: `(minute, data)`.
    pub(crate) fn remote_minutes(
        &self,
        distribution: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let (node, dist) = (self.node.id.clone(), distribution.to_owned());
        let rows = self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            c.query(
                "SELECT minute, data FROM cachalot_metrics
                 WHERE distribution_id = $1 AND minute >= $2 AND minute < $3 AND node_id <> $4",
                &[&dist, &from, &to, &node],
            )
            .await
        })?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Distributions any other node has CloudWatch numbers for.
    pub(crate) fn remote_distributions(&self) -> Result<Vec<String>, StoreError> {
        let node = self.node.id.clone();
        let rows = self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            c.query("SELECT DISTINCT distribution_id FROM cachalot_metrics WHERE node_id <> $1", &[&node]).await
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Records that this node purged invalidation `id` of `distribution`. A first
    /// acknowledgement notifies the change feed, so that the node which sees the last one
    /// marks the invalidation `Completed` at once rather than on its next periodic look.
    pub(crate) fn acknowledge(&self, distribution: &str, id: &str) -> Result<(), StoreError> {
        let (d, i, n) = (distribution.to_owned(), id.to_owned(), self.node.id.clone());
        self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            let inserted = c
                .execute(
                    "INSERT INTO cachalot_acks (distribution_id, invalidation_id, node_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&d, &i, &n],
                )
                .await?;
            if inserted > 0 {
                c.execute(&format!("SELECT pg_notify('{}', 'ack')", schema::CHANGES_CHANNEL), &[]).await?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// The invalidations this node has purged: `(distribution id, invalidation id)`.
    pub(crate) fn acknowledged_by_me(&self) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
        let n = self.node.id.clone();
        let rows = self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            c.query("SELECT distribution_id, invalidation_id FROM cachalot_acks WHERE node_id = $1", &[&n]).await
        })?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The nodes that purged invalidation `id` of `distribution`.
    pub(crate) fn acknowledgers(&self, distribution: &str, id: &str) -> Result<Vec<String>, StoreError> {
        let (d, i) = (distribution.to_owned(), id.to_owned());
        let rows = self.pg.call(Session::Read, STATEMENT_TIMEOUT, move |c| async move {
            c.query("SELECT node_id FROM cachalot_acks WHERE distribution_id = $1 AND invalidation_id = $2", &[&d, &i])
                .await
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

fn to_changes(rows: &[tokio_postgres::Row], from: u64) -> Changes {
    let mut seq = from;
    let records = rows
        .iter()
        .map(|r| {
            let at = u64::try_from(r.get::<_, i64>(2)).unwrap_or(0);
            seq = seq.max(at);
            (r.get::<_, String>(0), r.get::<_, Option<Vec<u8>>>(1), at)
        })
        .collect();
    Changes { records, seq }
}

/// `GET /fleet`: every node of the fleet as the store last reported it (JSON).
pub(crate) fn status_json(nodes: &[NodeStatus], self_id: Option<&str>, applied: u64) -> serde_json::Value {
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            let heartbeat = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n.heartbeat_ms) * 1_000_000)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_default();
            serde_json::json!({
                "Id": n.info.id,
                "Pops": n.info.pops,
                "RegionalCaches": n.info.regional_caches,
                "Admin": n.info.admin,
                "Version": n.info.version,
                "LastHeartbeat": heartbeat,
                "ConfigVersion": n.applied_seq,
                "Alive": n.alive,
            })
        })
        .collect();
    serde_json::json!({
        "Fleet": self_id.is_some(),
        "Self": self_id,
        "ConfigVersion": applied,
        "Nodes": nodes,
    })
}
