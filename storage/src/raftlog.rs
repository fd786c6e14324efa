//! The raft log and small raft records of one group, inside the node's shared column
//! families (never a column family per group: creating one syncs the manifest).
//!
//! Log entries live in `raft_log` under `group (8 bytes BE) | index (8 bytes BE)`, so a
//! group's log is one contiguous, ordered key range; records such as the vote live in
//! `raft_state` under `group | name`. Entries and records are opaque bytes here: the
//! node decides their encoding. Appends are written without waiting for the disk; the
//! caller asks the engine's group-commit syncer (`Engine::sync_then`) before it reports
//! them as flushed, so many groups' appends share one fsync.

use std::sync::Arc;

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use crate::engine::{Engine, CF_RAFT_LOG, CF_RAFT_STATE};
use crate::error::Result;

/// One group's log and records.
#[derive(Clone)]
pub struct GroupLog {
    engine: Arc<Engine>,
    group: u64,
}

/// A record to write to `raft_state` in the same batch as something else (a state
/// machine's applied position together with the data it applied).
#[derive(Debug, Clone)]
pub struct StateRecord {
    pub key: Vec<u8>,
    /// None: the record is removed.
    pub value: Option<Vec<u8>>,
}

impl GroupLog {
    pub fn new(engine: Arc<Engine>, group: u64) -> GroupLog {
        GroupLog { engine, group }
    }

    pub fn group(&self) -> u64 {
        self.group
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn log_key(&self, index: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.group.to_be_bytes());
        k[8..].copy_from_slice(&index.to_be_bytes());
        k
    }

    /// Where record `name` of this group is stored in `raft_state`.
    pub fn record_key(&self, name: &str) -> Vec<u8> {
        let mut k = self.group.to_be_bytes().to_vec();
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// Writes entries (index, bytes) without waiting for the disk.
    pub fn append(&self, entries: impl IntoIterator<Item = (u64, Vec<u8>)>) -> Result<()> {
        let cf = self.engine.cf(CF_RAFT_LOG)?;
        let mut batch = WriteBatch::default();
        for (index, bytes) in entries {
            batch.put_cf(cf, self.log_key(index), bytes);
        }
        self.engine.write(batch)
    }

    /// Entries with `from <= index < to`, in index order.
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let cf = self.engine.cf(CF_RAFT_LOG)?;
        let start = self.log_key(from);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(self.log_key(to).to_vec());
        let mut out = Vec::new();
        for entry in self.engine.db().iterator_cf_opt(
            cf,
            opts,
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (key, value) = entry?;
            out.push((index_of(&key), value.to_vec()));
        }
        Ok(out)
    }

    /// The entry with the highest index, if the log has any.
    pub fn last_entry(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let cf = self.engine.cf(CF_RAFT_LOG)?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_lower_bound(self.log_key(0).to_vec());
        opts.set_iterate_upper_bound(self.group_end().to_vec());
        match self
            .engine
            .db()
            .iterator_cf_opt(cf, opts, IteratorMode::End)
            .next()
        {
            Some(entry) => {
                let (key, value) = entry?;
                Ok(Some((index_of(&key), value.to_vec())))
            }
            None => Ok(None),
        }
    }

    fn group_end(&self) -> [u8; 16] {
        if self.group == u64::MAX {
            [0xff; 16]
        } else {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(self.group + 1).to_be_bytes());
            k
        }
    }

    /// Deletes entries with `index >= from` (a conflicting suffix).
    pub fn truncate_from(&self, from: u64) -> Result<()> {
        let cf = self.engine.cf(CF_RAFT_LOG)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, self.log_key(from), self.group_end());
        self.engine.write(batch)
    }

    /// Deletes entries with `index <= upto` (covered by a snapshot).
    pub fn purge_through(&self, upto: u64) -> Result<()> {
        let cf = self.engine.cf(CF_RAFT_LOG)?;
        let mut batch = WriteBatch::default();
        match upto.checked_add(1) {
            Some(end) => batch.delete_range_cf(cf, self.log_key(0), self.log_key(end)),
            None => batch.delete_range_cf(cf, self.log_key(0), self.group_end()),
        }
        self.engine.write(batch)
    }

    pub fn record(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let cf = self.engine.cf(CF_RAFT_STATE)?;
        Ok(self.engine.db().get_cf(cf, self.record_key(name))?)
    }

    /// Writes a record without waiting for the disk.
    pub fn put_record(&self, name: &str, value: Vec<u8>) -> Result<()> {
        let cf = self.engine.cf(CF_RAFT_STATE)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, self.record_key(name), value);
        self.engine.write(batch)
    }

    /// Writes several records in one batch, without waiting for the disk.
    pub fn put_records(&self, records: &[StateRecord]) -> Result<()> {
        let mut batch = WriteBatch::default();
        put_records(&self.engine, &mut batch, records)?;
        self.engine.write(batch)
    }

    /// Reads several records as of one point (all written by one batch or none).
    pub fn records_consistent(&self, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
        let snapshot = self.engine.db().snapshot();
        let keys: Vec<Vec<u8>> = names.iter().map(|n| self.record_key(n)).collect();
        read_records(&self.engine, &snapshot, &keys)
    }

    /// A record to write in another batch (see `Partition::apply_logged`).
    pub fn state_record(&self, name: &str, value: Vec<u8>) -> StateRecord {
        StateRecord {
            key: self.record_key(name),
            value: Some(value),
        }
    }

    /// The removal of a record, to write in another batch.
    pub fn removal_record(&self, name: &str) -> StateRecord {
        StateRecord {
            key: self.record_key(name),
            value: None,
        }
    }

    /// Removes the group's whole log and every record (the group left this node).
    pub fn destroy(&self) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.engine.cf(CF_RAFT_LOG)?,
            self.log_key(0),
            self.group_end(),
        );
        let state_start = self.group.to_be_bytes().to_vec();
        let state_end = match self.group.checked_add(1) {
            Some(next) => next.to_be_bytes().to_vec(),
            None => vec![0xff; 9],
        };
        batch.delete_range_cf(self.engine.cf(CF_RAFT_STATE)?, state_start, state_end);
        self.engine.write(batch)
    }
}

fn index_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if let Some(tail) = key.get(8..16) {
        b.copy_from_slice(tail);
    }
    u64::from_be_bytes(b)
}

/// Writes the records into `batch` (used by the partition state machine).
pub(crate) fn put_records(
    engine: &Engine,
    batch: &mut WriteBatch,
    records: &[StateRecord],
) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let cf = engine.cf(CF_RAFT_STATE)?;
    for r in records {
        match &r.value {
            Some(value) => batch.put_cf(cf, &r.key, value),
            None => batch.delete_cf(cf, &r.key),
        }
    }
    Ok(())
}

/// Reads records through a RocksDB snapshot (consistent with items read through it).
pub(crate) fn read_records(
    engine: &Engine,
    snapshot: &rocksdb::Snapshot<'_>,
    keys: &[Vec<u8>],
) -> Result<Vec<Option<Vec<u8>>>> {
    let cf = engine.cf(CF_RAFT_STATE)?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let mut opts = ReadOptions::default();
        opts.set_snapshot(snapshot);
        out.push(engine.db().get_cf_opt(cf, k, &opts)?);
    }
    Ok(out)
}
