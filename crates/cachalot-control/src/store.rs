//! The embedded store: one redb file under the state folder.
//!
//! Every resource is one record (`<kind>/<id>` → JSON). A change to the API
//! state is one write transaction holding every record it touches, committed
//! with redb's `Durability::Immediate` (fsynced before the commit returns), so
//! an acknowledged write survives `kill -9` and a crash never leaves half a
//! change behind. See `docs/adr/0003-control-plane-store.md`.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

const RECORDS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("records");

/// File name of the database inside the state folder.
pub const DB_FILE: &str = "control.redb";

/// File name of a fleet node's replica of the fleet's configuration, in its state folder.
pub(crate) const REPLICA_FILE: &str = "fleet-replica.redb";

/// A store failure, with what was being done.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// The store cannot be reached (the API answers `ServiceUnavailable`).
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }
}

/// One record to write (`Some`) or delete (`None`).
pub(crate) type Change = (String, Option<Vec<u8>>);

/// The open database.
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (creating when absent) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(dir, DB_FILE)
    }

    /// Opens (creating when absent) the database file `name` in `dir`.
    pub(crate) fn open_file(dir: &Path, name: &str) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError(format!("cannot create the state folder {}: {e}", dir.display())))?;
        let path = dir.join(name);
        let db = Database::create(&path).map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        let store = Self { db, path };
        // Create the table so that reads of a fresh store succeed.
        store.commit(&[])?;
        Ok(store)
    }

    /// Every record, in key order.
    pub(crate) fn load(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError(format!("cannot read {}: {e}", self.path.display()));
        let txn = self.db.begin_read().map_err(|e| err(&e))?;
        let table = txn.open_table(RECORDS).map_err(|e| err(&e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| err(&e))? {
            let (k, v) = row.map_err(|e| err(&e))?;
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Writes `changes` in one durable transaction.
    pub(crate) fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError(format!("cannot write {}: {e}", self.path.display()));
        let txn = self.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut table = txn.open_table(RECORDS).map_err(|e| err(&e))?;
            for (key, value) in changes {
                match value {
                    Some(bytes) => {
                        table.insert(key.as_str(), bytes.as_slice()).map_err(|e| err(&e))?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(|e| err(&e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| err(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("cachalot-store-{}", crate::util::uuid()));
        {
            let s = Store::open(&dir).unwrap();
            s.commit(&[("a/1".into(), Some(b"one".to_vec())), ("a/2".into(), Some(b"two".to_vec()))]).unwrap();
            s.commit(&[("a/1".into(), None)]).unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.load().unwrap(), vec![("a/2".to_owned(), b"two".to_vec())]);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
