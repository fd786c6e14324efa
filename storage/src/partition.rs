//! A partition: the deterministic state machine for one table's token range.
//!
//! `apply` reads the current item, lets the model decide the outcome, and writes the new
//! item together with the partition's statistics in one RocksDB batch. Commands are
//! applied one at a time per partition, so the outcome depends only on the order of the
//! commands: exactly what a raft log gives every replica.

use std::path::Path;

use parking_lot::Mutex;
use rocksdb::{
    Direction, IngestExternalFileOptions, IteratorMode, Options, ReadOptions, SstFileWriter,
    WriteBatch,
};
use rotor_model::table::TableStats;
use rotor_model::value::item_size;
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::Item;

use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::Result;
use crate::raftlog::{put_records, read_records, StateRecord};

pub struct Partition {
    table_id: u32,
    index: u32,
    /// Held while applying: one command at a time. Guards the running statistics.
    stats: Mutex<TableStats>,
}

impl Partition {
    /// Loads the partition's statistics (zero for a new partition).
    pub fn open(engine: &Engine, table_id: u32, index: u32) -> Result<Partition> {
        let stats = match engine
            .db()
            .get_cf(engine.cf(CF_META)?, stats_key(table_id, index))?
        {
            Some(bytes) => decode(&bytes)?,
            None => TableStats::default(),
        };
        Ok(Partition {
            table_id,
            index,
            stats: Mutex::new(stats),
        })
    }

    pub fn stats(&self) -> TableStats {
        *self.stats.lock()
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

    /// Writes the partition's items in `[start, end)`, as of one consistent point, into
    /// an SST file at `sst_path` (none is written when the range is empty), and returns
    /// the statistics and the given `raft_state` records as of that same point.
    pub fn export(
        &self,
        engine: &Engine,
        range: (&[u8], &[u8]),
        sst_path: &Path,
        record_keys: &[Vec<u8>],
    ) -> Result<PartitionExport> {
        let snapshot = engine.db().snapshot();
        let mut meta_opts = ReadOptions::default();
        meta_opts.set_snapshot(&snapshot);
        let stats = match engine.db().get_cf_opt(
            engine.cf(CF_META)?,
            stats_key(self.table_id, self.index),
            &meta_opts,
        )? {
            Some(bytes) => decode(&bytes)?,
            None => TableStats::default(),
        };
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
            IteratorMode::From(range.0, Direction::Forward),
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
            stats,
            records,
            items,
            has_items,
        })
    }

    /// Replaces the partition's items in `[start, end)` by the SST file at `sst_path`
    /// (`None`: no items), sets its statistics, writes `records`, and waits for the disk.
    pub fn import(
        &self,
        engine: &Engine,
        range: (&[u8], &[u8]),
        sst_path: Option<&Path>,
        stats: TableStats,
        records: &[StateRecord],
    ) -> Result<()> {
        let mut guard = self.stats.lock();
        let items = engine.cf(CF_ITEMS)?;
        let mut clear = WriteBatch::default();
        clear.delete_range_cf(items, range.0, range.1);
        engine.write(clear)?;
        if let Some(path) = sst_path {
            let mut ingest = IngestExternalFileOptions::default();
            ingest.set_move_files(true);
            engine
                .db()
                .ingest_external_file_cf_opts(items, &ingest, vec![path])?;
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(
            engine.cf(CF_META)?,
            stats_key(self.table_id, self.index),
            encode(&stats)?,
        );
        put_records(engine, &mut batch, records)?;
        engine.write(batch)?;
        engine.sync_blocking()?;
        *guard = stats;
        Ok(())
    }
}

/// A partition's state as of one point: statistics, records, and whether an SST was
/// written (and how many items it holds).
#[derive(Debug, Clone)]
pub struct PartitionExport {
    pub stats: TableStats,
    pub records: Vec<Option<Vec<u8>>>,
    pub items: u64,
    pub has_items: bool,
}

/// Where a partition's statistics are stored in `meta`.
pub(crate) fn stats_key(table_id: u32, index: u32) -> Vec<u8> {
    let mut k = b"stats/".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn stats_prefix(table_id: u32) -> Vec<u8> {
    let mut k = b"stats/".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}
