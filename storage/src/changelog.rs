//! Each partition's change log: the item changes its applied writes made (old and new
//! image) and the splits it applied, in the column family `changes` under
//! `table | partition | log index`,
//! written in the same RocksDB batch as the items, so the log and the items agree at
//! every position. Global secondary indexes (and later streams) read it from the
//! position they have reached; it is trimmed below the slowest reader's position.
//!
//! A partition keeps a change log only while its table has readers of one (its
//! `ChangeFormat` is set). The records' encoding is the caller's (the node's protobuf
//! `rotor.v1.ItemChange`): storage knows nothing of the wire.

use rocksdb::{Direction, IteratorMode, ReadOptions, Snapshot, WriteBatch};
use rotor_model::Item;

use crate::engine::{Engine, CF_CHANGES};
use crate::error::{Result, StorageError};

/// One write's change to one item: its storage key, and the item before and after
/// (None: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemChange {
    pub item_key: Vec<u8>,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// One record of a partition's change log.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A write changed an item.
    Item(ItemChange),
    /// The partition handed the tokens from `at` on to partition `child`: the child's
    /// own log goes on from here for those tokens.
    Split { child: u32, at: u64 },
}

/// How change records are encoded on disk (a versioned format of the caller's).
pub trait ChangeFormat: Send + Sync {
    fn encode(&self, change: &Change) -> Vec<u8>;
    fn decode(&self, bytes: &[u8]) -> std::result::Result<Change, String>;
}

/// `table | partition`: where one partition's change records start.
fn log_prefix(table_id: u32, partition: u32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&table_id.to_be_bytes());
    k[4..].copy_from_slice(&partition.to_be_bytes());
    k
}

/// The key of the change made by the entry at `position` of a partition's log.
pub(crate) fn change_key(table_id: u32, partition: u32, position: u64) -> Vec<u8> {
    let mut k = log_prefix(table_id, partition).to_vec();
    k.extend_from_slice(&position.to_be_bytes());
    k
}

/// The log position in a change record's key.
fn position_of(key: &[u8]) -> Result<u64> {
    key.get(8..16)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StorageError::Corrupt(format!("change log key {key:?}")))
}

/// Adds the change at `position` to `batch`.
pub(crate) fn put_change(
    engine: &Engine,
    batch: &mut WriteBatch,
    format: &dyn ChangeFormat,
    (table_id, partition): (u32, u32),
    position: u64,
    change: &Change,
) -> Result<()> {
    batch.put_cf(
        engine.cf(CF_CHANGES)?,
        change_key(table_id, partition, position),
        format.encode(change),
    );
    Ok(())
}

/// Up to `limit` changes of a partition from log position `from` on, in log order,
/// each with its position.
pub fn read_changes(
    engine: &Engine,
    format: &dyn ChangeFormat,
    (table_id, partition): (u32, u32),
    from: u64,
    limit: usize,
) -> Result<Vec<(u64, Change)>> {
    let cf = engine.cf(CF_CHANGES)?;
    let prefix = log_prefix(table_id, partition);
    let start = change_key(table_id, partition, from);
    let mut out = Vec::new();
    for entry in engine
        .db()
        .iterator_cf(cf, IteratorMode::From(&start, Direction::Forward))
    {
        let (key, value) = entry?;
        if out.len() >= limit || !key.starts_with(&prefix) {
            break;
        }
        let position = position_of(&key)?;
        let change = format
            .decode(&value)
            .map_err(|e| StorageError::Corrupt(format!("change at {position}: {e}")))?;
        out.push((position, change));
    }
    Ok(out)
}

/// Removes a partition's changes below log position `below` (every reader is past
/// them).
pub fn trim_changes(engine: &Engine, (table_id, partition): (u32, u32), below: u64) -> Result<()> {
    let cf = engine.cf(CF_CHANGES)?;
    let mut batch = WriteBatch::default();
    batch.delete_range_cf(
        cf,
        change_key(table_id, partition, 0),
        change_key(table_id, partition, below),
    );
    engine.write(batch)
}

/// Adds to `batch` the removal of every change of a partition (its copy here is
/// dropped).
pub(crate) fn delete_partition_in(
    engine: &Engine,
    batch: &mut WriteBatch,
    (table_id, partition): (u32, u32),
) -> Result<()> {
    let start = change_key(table_id, partition, 0);
    let end = match partition.checked_add(1) {
        Some(next) => change_key(table_id, next, 0),
        None => (u64::from(table_id) + 1).to_be_bytes()[4..].to_vec(),
    };
    batch.delete_range_cf(engine.cf(CF_CHANGES)?, start, end);
    Ok(())
}

/// Adds to `batch` the removal of every change of every partition of a table.
pub(crate) fn delete_table_in(
    engine: &Engine,
    batch: &mut WriteBatch,
    table_id: u32,
) -> Result<()> {
    let start = table_id.to_be_bytes().to_vec();
    let end = (u64::from(table_id) + 1).to_be_bytes()[4..].to_vec();
    batch.delete_range_cf(engine.cf(CF_CHANGES)?, start, end);
    Ok(())
}

/// Removes every change of a partition.
pub fn remove_changes(engine: &Engine, log: (u32, u32)) -> Result<()> {
    let mut batch = WriteBatch::default();
    delete_partition_in(engine, &mut batch, log)?;
    engine.write(batch)
}

/// Every record of a partition's change log as of `snapshot`, still encoded, with its
/// position (a snapshot of the partition carries them).
pub(crate) fn raw_changes_at(
    engine: &Engine,
    snapshot: &Snapshot,
    (table_id, partition): (u32, u32),
) -> Result<Vec<(u64, Vec<u8>)>> {
    let prefix = log_prefix(table_id, partition);
    let mut opts = ReadOptions::default();
    opts.set_snapshot(snapshot);
    let mut out = Vec::new();
    for entry in engine.db().iterator_cf_opt(
        engine.cf(CF_CHANGES)?,
        opts,
        IteratorMode::From(&prefix, Direction::Forward),
    ) {
        let (key, value) = entry?;
        if !key.starts_with(&prefix) {
            break;
        }
        let position = position_of(&key)?;
        out.push((position, value.to_vec()));
    }
    Ok(out)
}

/// Makes `records` (encoded, with their positions) a partition's whole change log
/// (a snapshot installed it); idempotent.
pub fn replace_changes(engine: &Engine, log: (u32, u32), records: &[(u64, Vec<u8>)]) -> Result<()> {
    let mut batch = WriteBatch::default();
    delete_partition_in(engine, &mut batch, log)?;
    let cf = engine.cf(CF_CHANGES)?;
    for (position, record) in records {
        batch.put_cf(cf, change_key(log.0, log.1, *position), record);
    }
    engine.write(batch)
}

/// How many records a partition's change log holds from position `from` on, counted up
/// to `cap`.
pub fn count_from(
    engine: &Engine,
    (table_id, partition): (u32, u32),
    from: u64,
    cap: u64,
) -> Result<u64> {
    let prefix = log_prefix(table_id, partition);
    let start = change_key(table_id, partition, from);
    let mut count = 0;
    for entry in engine.db().iterator_cf(
        engine.cf(CF_CHANGES)?,
        IteratorMode::From(&start, Direction::Forward),
    ) {
        let (key, _) = entry?;
        if count >= cap || !key.starts_with(&prefix) {
            break;
        }
        count += 1;
    }
    Ok(count)
}
