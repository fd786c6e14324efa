//! The data directory's format version: written in `meta`, checked when the engine
//! opens, and raised by the upgrades from each older version in turn, so a directory
//! written by one release opens in the next (and a newer one is refused, not misread).
//!
//! ```text
//!   1  releases before the tag (no version record)
//!   2  snapshot files are rotor.v1.SnapshotFrame frames (groups rebuild older ones when
//!      they open); per-partition `estimated` statistics markers
//!   3  raft log entries and raft records are protobuf (rotor.v1 raft.proto), not
//!      bincode: rewritten by the node's [`RaftRecordsUpgrade`] (see `raft_records`)
//! ```

mod raft_records;

use std::path::Path;

use rocksdb::{IteratorMode, WriteBatch, DB};

use crate::engine::{CF_META, CF_RAFT_STATE};
use crate::error::{Result, StorageError};

pub use raft_records::RaftRecordsUpgrade;

/// The version this build writes.
pub const FORMAT_VERSION: u32 = 3;
const VERSION_KEY: &[u8] = b"format_version";

/// The directory's version (1 when untagged and not empty; None when empty).
pub fn stored_version(db: &DB) -> Result<Option<u32>> {
    let meta = db
        .cf_handle(CF_META)
        .ok_or_else(|| StorageError::Corrupt(format!("missing column family {CF_META}")))?;
    if let Some(bytes) = db.get_cf(meta, VERSION_KEY)? {
        let raw: [u8; 4] = bytes.as_slice().try_into().map_err(|_| {
            StorageError::Corrupt(format!("format version record of {} bytes", bytes.len()))
        })?;
        return Ok(Some(u32::from_be_bytes(raw)));
    }
    let state = db
        .cf_handle(CF_RAFT_STATE)
        .ok_or_else(|| StorageError::Corrupt(format!("missing column family {CF_RAFT_STATE}")))?;
    let empty = db.iterator_cf(meta, IteratorMode::Start).next().is_none()
        && db.iterator_cf(state, IteratorMode::Start).next().is_none();
    Ok(if empty { None } else { Some(1) })
}

/// Refuses a directory from a newer release; upgrades an older one to this version.
pub(crate) fn check_and_upgrade(
    db: &DB,
    path: &Path,
    raft: Option<&dyn RaftRecordsUpgrade>,
) -> Result<()> {
    let found = stored_version(db)?;
    match found {
        Some(v) if v > FORMAT_VERSION => {
            return Err(StorageError::Corrupt(format!(
                "{} was written by a newer Rotor (data format {v}; this build reads formats 1 to {FORMAT_VERSION}): run that release or a newer one",
                path.display()
            )))
        }
        Some(v) if v == FORMAT_VERSION => return Ok(()),
        Some(v) => tracing::info!(path = %path.display(), from = v, to = FORMAT_VERSION, "upgrading the data directory's format"),
        None => {}
    }
    // 1 -> 2: nothing in RocksDB changes shape (snapshot files are rebuilt by their
    // groups; the `estimated` markers are new records).
    // 2 -> 3: the raft column families are rewritten by the node's encoding.
    if let Some(from) = found {
        if from < 3 {
            raft_records::upgrade(db, path, from, raft)?;
        }
    }
    let meta = db
        .cf_handle(CF_META)
        .ok_or_else(|| StorageError::Corrupt(format!("missing column family {CF_META}")))?;
    let mut batch = WriteBatch::default();
    batch.put_cf(meta, VERSION_KEY, FORMAT_VERSION.to_be_bytes());
    raft_records::clear_progress(db, &mut batch)?;
    db.write(batch)?;
    db.flush_wal(true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    #[test]
    fn a_new_directory_is_tagged_an_untagged_one_upgraded_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let engine = Engine::open(dir.path()).unwrap();
            assert_eq!(stored_version(engine.db()).unwrap(), Some(FORMAT_VERSION));
            // As a release before the tag left it: data, no version record.
            let meta = engine.cf(CF_META).unwrap();
            engine.db().delete_cf(meta, VERSION_KEY).unwrap();
            engine.db().put_cf(meta, b"stats/x", b"1").unwrap();
            assert_eq!(stored_version(engine.db()).unwrap(), Some(1));
        }
        {
            let engine = Engine::open(dir.path()).unwrap();
            assert_eq!(stored_version(engine.db()).unwrap(), Some(FORMAT_VERSION));
            let meta = engine.cf(CF_META).unwrap();
            engine
                .db()
                .put_cf(meta, VERSION_KEY, (FORMAT_VERSION + 1).to_be_bytes())
                .unwrap();
        }
        let err = Engine::open(dir.path())
            .err()
            .expect("a newer format is refused");
        assert!(err.to_string().contains("newer Rotor"), "{err}");
    }
}
