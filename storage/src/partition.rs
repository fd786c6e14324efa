//! A partition: the deterministic state machine for one table's token range.
//!
//! `apply` reads the current item, lets the model decide the outcome, and writes the new
//! item together with the partition's statistics in one RocksDB batch. Commands are
//! applied one at a time per partition, so the outcome depends only on the order of the
//! commands: exactly what a raft log gives every replica.
//!
//! A partition owns a token range, stored with it. `split` hands the upper part of the
//! range to a new partition in place (the items stay where they are: keys start with
//! their token) and from then on writes outside the range are refused, at the same log
//! position on every replica.

use std::path::Path;

use parking_lot::Mutex;
use rocksdb::{
    Direction, IngestExternalFileOptions, IteratorMode, Options, ReadOptions, SstFileWriter,
    WriteBatch,
};
use rotor_model::keys::token_of_item_key;
use rotor_model::table::{TableStats, TokenRange};
use rotor_model::value::item_size;
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::Item;

use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::{Result, StorageError};
use crate::raftlog::{put_records, read_records, StateRecord};

pub struct Partition {
    table_id: u32,
    index: u32,
    /// Held while applying: one command at a time. Guards the running statistics.
    stats: Mutex<TableStats>,
    /// The tokens this partition owns now (narrowed by each split it applies).
    range: parking_lot::RwLock<TokenRange>,
    /// Whether this replica's items are a starting point for the partition's log: true
    /// for a partition made with its table (it starts empty), and for a split's half
    /// once its parent's split was applied here or a snapshot was installed.
    seeded: std::sync::atomic::AtomicBool,
}

/// What `Partition::split` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitOutcome {
    /// The upper tokens now belong to the child, with these statistics.
    Split { child: TableStats },
    /// The range was already cut there (the split was applied before).
    AlreadySplit,
}

impl Partition {
    /// Loads the partition's statistics (zero for a new partition) and its range
    /// (`initial` when none is stored: the range it was made with). `from_split`: a
    /// split's half, whose items come from its parent's replica or a snapshot.
    pub fn open(
        engine: &Engine,
        table_id: u32,
        index: u32,
        initial: TokenRange,
        from_split: bool,
    ) -> Result<Partition> {
        let meta = engine.cf(CF_META)?;
        let stats = match engine.db().get_cf(meta, stats_key(table_id, index))? {
            Some(bytes) => decode(&bytes)?,
            None => TableStats::default(),
        };
        let range = match engine.db().get_cf(meta, range_key(table_id, index))? {
            Some(bytes) => decode(&bytes)?,
            None => initial,
        };
        let seeded = !from_split
            || engine
                .db()
                .get_cf(meta, seeded_key(table_id, index))?
                .is_some();
        Ok(Partition {
            table_id,
            index,
            stats: Mutex::new(stats),
            range: parking_lot::RwLock::new(range),
            seeded: std::sync::atomic::AtomicBool::new(seeded),
        })
    }

    pub fn stats(&self) -> TableStats {
        *self.stats.lock()
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// The tokens this replica's partition owns now.
    pub fn range(&self) -> TokenRange {
        *self.range.read()
    }

    /// Whether this replica holds the items its log applies to (see `seeded`).
    pub fn is_seeded(&self) -> bool {
        self.seeded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether a storage key belongs to this partition now.
    pub fn owns_key(&self, item_key: &[u8]) -> bool {
        token_of_item_key(item_key).is_some_and(|t| self.range().contains(t))
    }

    /// Cuts the range at token `at`: the tokens from `at` on go to partition `child`
    /// of the same table, whose statistics (counted from the items here), range and
    /// seed are written in the same batch as this one's narrowed range and `records`.
    /// Deterministic: every replica applying it at the same log position holds the
    /// same items, so every replica's child starts from the same state.
    pub fn split(
        &self,
        engine: &Engine,
        at: u64,
        child: u32,
        records: &[StateRecord],
    ) -> Result<SplitOutcome> {
        let mut stats = self.stats.lock();
        let range = self.range();
        if !range.splits_at(at) {
            let mut batch = WriteBatch::default();
            put_records(engine, &mut batch, records)?;
            engine.write(batch)?;
            return Ok(SplitOutcome::AlreadySplit);
        }
        let upper = TokenRange {
            start: at,
            end: range.end,
        };
        let lower = TokenRange {
            start: range.start,
            end: Some(at),
        };
        let (from, to) = upper.key_range(self.table_id);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(to);
        let mut moved = TableStats::default();
        for entry in engine.db().iterator_cf_opt(
            engine.cf(CF_ITEMS)?,
            opts,
            IteratorMode::From(&from, Direction::Forward),
        ) {
            let (_, value) = entry?;
            let item: Item = decode(&value)?;
            moved.item_count += 1;
            moved.size_bytes += item_size(&item) as u64;
        }
        let kept = TableStats {
            item_count: stats.item_count.saturating_sub(moved.item_count),
            size_bytes: stats.size_bytes.saturating_sub(moved.size_bytes),
        };
        let meta = engine.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, stats_key(self.table_id, self.index), encode(&kept)?);
        batch.put_cf(meta, range_key(self.table_id, self.index), encode(&lower)?);
        // The child's records, unless this node holds a copy of the child already (from
        // a snapshot): that copy, not this parent's, is the child's state here.
        if engine
            .db()
            .get_cf(meta, range_key(self.table_id, child))?
            .is_none()
        {
            batch.put_cf(meta, stats_key(self.table_id, child), encode(&moved)?);
            batch.put_cf(meta, range_key(self.table_id, child), encode(&upper)?);
            batch.put_cf(meta, seeded_key(self.table_id, child), [1u8]);
        }
        put_records(engine, &mut batch, records)?;
        engine.write(batch)?;
        *stats = kept;
        *self.range.write() = lower;
        Ok(SplitOutcome::Split { child: moved })
    }

    /// The token at which the bytes of this replica's items reach half (None: fewer
    /// than two distinct tokens, so no cut leaves both halves non-empty). Two passes
    /// over the partition's items: the total, then the point where half is reached.
    pub fn size_median(&self, engine: &Engine) -> Result<Option<u64>> {
        let (from, to) = self.range().key_range(self.table_id);
        let scan = |visit: &mut dyn FnMut(u64, u64) -> bool| -> Result<()> {
            let mut opts = ReadOptions::default();
            opts.set_iterate_upper_bound(to.clone());
            for entry in engine.db().iterator_cf_opt(
                engine.cf(CF_ITEMS)?,
                opts,
                IteratorMode::From(&from, Direction::Forward),
            ) {
                let (key, value) = entry?;
                if let Some(token) = token_of_item_key(&key) {
                    if !visit(token, value.len() as u64) {
                        break;
                    }
                }
            }
            Ok(())
        };
        let mut total = 0u64;
        scan(&mut |_, len| {
            total += len;
            true
        })?;
        let (mut seen, mut first, mut median) = (0u64, None, None);
        scan(&mut |token, len| {
            let first_token = *first.get_or_insert(token);
            if seen * 2 >= total && token != first_token {
                median = Some(token);
                return false;
            }
            seen += len;
            true
        })?;
        Ok(median)
    }

    /// Applies one write. The caller makes it durable (`Engine::sync`) before answering.
    pub fn apply(&self, engine: &Engine, req: &WriteRequest) -> Result<WriteOutcome> {
        self.apply_logged(engine, req, &[])
    }

    /// Applies one write taken from a raft log, writing `records` (the log position it
    /// was applied at) in the same batch as the item, so that after a crash the items
    /// and the applied position agree. Nothing is synced: the log is the durable copy.
    pub fn apply_logged(
        &self,
        engine: &Engine,
        req: &WriteRequest,
        records: &[StateRecord],
    ) -> Result<WriteOutcome> {
        let items = engine.cf(CF_ITEMS)?;
        let mut stats = self.stats.lock();
        if !self.owns_key(&req.item_key) {
            return Err(StorageError::OutsideRange {
                table_id: self.table_id,
                partition: self.index,
            });
        }
        let current: Option<Item> = match engine.db().get_pinned_cf(items, &req.item_key)? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        let outcome = req.command.apply(current)?;
        if let WriteOutcome::Applied { old, new } = &outcome {
            let mut next = *stats;
            if let Some(old) = old {
                next.item_count = next.item_count.saturating_sub(1);
                next.size_bytes = next.size_bytes.saturating_sub(item_size(old) as u64);
            }
            let mut batch = WriteBatch::default();
            match new {
                Some(new) => {
                    next.item_count += 1;
                    next.size_bytes += item_size(new) as u64;
                    batch.put_cf(items, &req.item_key, encode(new)?);
                }
                None => batch.delete_cf(items, &req.item_key),
            }
            if old.is_some() || new.is_some() {
                batch.put_cf(
                    engine.cf(CF_META)?,
                    stats_key(self.table_id, self.index),
                    encode(&next)?,
                );
                put_records(engine, &mut batch, records)?;
                engine.write(batch)?;
                *stats = next;
                return Ok(outcome);
            }
        }
        if !records.is_empty() {
            let mut batch = WriteBatch::default();
            put_records(engine, &mut batch, records)?;
            engine.write(batch)?;
        }
        Ok(outcome)
    }

    /// Writes the partition's items, as of one consistent point, into an SST file at
    /// `sst_path` (none is written when it has none), and returns its range, statistics
    /// and the given `raft_state` records as of that same point.
    pub fn export(
        &self,
        engine: &Engine,
        sst_path: &Path,
        record_keys: &[Vec<u8>],
    ) -> Result<PartitionExport> {
        let snapshot = engine.db().snapshot();
        let mut meta_opts = ReadOptions::default();
        meta_opts.set_snapshot(&snapshot);
        let meta = engine.cf(CF_META)?;
        let stats =
            match engine
                .db()
                .get_cf_opt(meta, stats_key(self.table_id, self.index), &meta_opts)?
            {
                Some(bytes) => decode(&bytes)?,
                None => TableStats::default(),
            };
        let token_range =
            match engine
                .db()
                .get_cf_opt(meta, range_key(self.table_id, self.index), &meta_opts)?
            {
                Some(bytes) => decode(&bytes)?,
                None => self.range(),
            };
        let range = token_range.key_range(self.table_id);
        let records = read_records(engine, &snapshot, record_keys)?;
        let mut opts = ReadOptions::default();
        opts.set_snapshot(&snapshot);
        opts.set_iterate_upper_bound(range.1.to_vec());
        let sst_opts = Options::default();
        let mut writer: Option<SstFileWriter> = None;
        let mut items = 0u64;
        for entry in engine.db().iterator_cf_opt(
            engine.cf(CF_ITEMS)?,
            opts,
            IteratorMode::From(&range.0, Direction::Forward),
        ) {
            let (key, value) = entry?;
            if writer.is_none() {
                let w = SstFileWriter::create(&sst_opts);
                w.open(sst_path)?;
                writer = Some(w);
            }
            if let Some(w) = writer.as_mut() {
                w.put(&key, &value)?;
            }
            items += 1;
        }
        let has_items = match writer {
            Some(mut w) => {
                w.finish()?;
                true
            }
            None => false,
        };
        Ok(PartitionExport {
            range: token_range,
            stats,
            records,
            items,
            has_items,
        })
    }

    /// Replaces the partition's items in `range` by the SST file at `sst_path` (`None`:
    /// no items), makes `range` its range, sets its statistics, writes `records`, and
    /// waits for the disk. Only `range` is cleared: a split's other half may live here.
    pub fn import(
        &self,
        engine: &Engine,
        range: TokenRange,
        sst_path: Option<&Path>,
        stats: TableStats,
        records: &[StateRecord],
    ) -> Result<()> {
        let mut guard = self.stats.lock();
        let items = engine.cf(CF_ITEMS)?;
        let (from, to) = range.key_range(self.table_id);
        let mut clear = WriteBatch::default();
        clear.delete_range_cf(items, from, to);
        engine.write(clear)?;
        if let Some(path) = sst_path {
            let mut ingest = IngestExternalFileOptions::default();
            ingest.set_move_files(true);
            engine
                .db()
                .ingest_external_file_cf_opts(items, &ingest, vec![path])?;
        }
        let meta = engine.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, stats_key(self.table_id, self.index), encode(&stats)?);
        batch.put_cf(meta, range_key(self.table_id, self.index), encode(&range)?);
        batch.put_cf(meta, seeded_key(self.table_id, self.index), [1u8]);
        put_records(engine, &mut batch, records)?;
        engine.write(batch)?;
        engine.sync_blocking()?;
        *guard = stats;
        *self.range.write() = range;
        self.seeded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}

/// A partition's state as of one point: statistics, records, and whether an SST was
/// written (and how many items it holds).
#[derive(Debug, Clone)]
pub struct PartitionExport {
    pub range: TokenRange,
    pub stats: TableStats,
    pub records: Vec<Option<Vec<u8>>>,
    pub items: u64,
    pub has_items: bool,
}

/// The kinds of per-partition records in `meta`: statistics, range, seed marker.
pub(crate) const PARTITION_RECORDS: [&[u8]; 3] = [b"stats/", b"range/", b"seeded/"];

fn partition_record_key(kind: &[u8], table_id: u32, index: u32) -> Vec<u8> {
    let mut k = kind.to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// Where a partition's statistics are stored in `meta`.
pub(crate) fn stats_key(table_id: u32, index: u32) -> Vec<u8> {
    partition_record_key(PARTITION_RECORDS[0], table_id, index)
}

fn range_key(table_id: u32, index: u32) -> Vec<u8> {
    partition_record_key(PARTITION_RECORDS[1], table_id, index)
}

fn seeded_key(table_id: u32, index: u32) -> Vec<u8> {
    partition_record_key(PARTITION_RECORDS[2], table_id, index)
}

/// The range of a partition whose seed marker is here (None: no seeded copy here).
pub(crate) fn seeded_copy_range(
    engine: &Engine,
    table_id: u32,
    index: u32,
) -> Result<Option<TokenRange>> {
    let meta = engine.cf(CF_META)?;
    if engine
        .db()
        .get_cf(meta, seeded_key(table_id, index))?
        .is_none()
    {
        return Ok(None);
    }
    match engine.db().get_cf(meta, range_key(table_id, index))? {
        Some(bytes) => Ok(Some(decode(&bytes)?)),
        None => Ok(None),
    }
}

/// Every per-partition record key of partition `index` of a table.
pub(crate) fn partition_record_keys(table_id: u32, index: u32) -> Vec<Vec<u8>> {
    PARTITION_RECORDS
        .iter()
        .map(|kind| partition_record_key(kind, table_id, index))
        .collect()
}

/// The prefixes of a table's per-partition records.
pub(crate) fn partition_record_prefixes(table_id: u32) -> Vec<Vec<u8>> {
    PARTITION_RECORDS
        .iter()
        .map(|kind| {
            let mut k = kind.to_vec();
            k.extend_from_slice(&table_id.to_be_bytes());
            k
        })
        .collect()
}
