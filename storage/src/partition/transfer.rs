//! A copy of a partition streamed out of one replica and into another (raft snapshots):
//! items one at a time in key order, never the whole partition in memory.
//!
//! Installing clears the partition's tokens and ingests an SST file built from the
//! stream, then writes the partition's records. Those are separate RocksDB writes; the
//! caller makes the whole idempotent and redoes it after a crash (see the node's
//! snapshot installer). Tokens a later partition's copy holds here are left alone: a
//! snapshot taken before a split must not overwrite the split-off half.

use std::path::Path;

use rocksdb::{
    Direction, IngestExternalFileOptions, IteratorMode, Options, ReadOptions, SstFileWriter,
    WriteBatch,
};
use rotor_model::keys::token_of_item_key;
use rotor_model::table::{TableStats, TokenRange};
use rotor_model::value::item_size;
use rotor_model::Item;

use super::owners::subtract;
use super::records::{estimated_key, range_key, seeded_key, stats_key};
use super::Partition;
use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::{Result, StorageError};
use crate::raftlog::{put_records, read_records, StateRecord};

/// Index entries rebuilt during an import are written this many at a time.
const INDEX_BATCH_ENTRIES: usize = 2_000;

/// A partition's state as of one point: its range, statistics and the records asked for.
#[derive(Debug, Clone)]
pub struct PartitionExport {
    pub range: TokenRange,
    pub stats: TableStats,
    pub records: Vec<Option<Vec<u8>>>,
}

/// Where an export goes: its state first, then its change log's records in log
/// order, then every item in key order.
pub trait ExportSink {
    fn begin(&mut self, export: &PartitionExport) -> Result<()>;
    fn item(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    fn change(&mut self, position: u64, record: &[u8]) -> Result<()>;
}

/// What an import installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// The items installed and their statistics (counted from them).
    pub stats: TableStats,
    /// Items of the stream left out: their tokens belong to a later partition here.
    pub skipped: u64,
}

impl Partition {
    /// Streams the partition as of one consistent point to `sink`: its range,
    /// statistics and the given `raft_state` records, then its change log, then its
    /// items (storage key, stored value; in key order). Returns the item count.
    pub fn export(
        &self,
        engine: &Engine,
        record_keys: &[Vec<u8>],
        sink: &mut dyn ExportSink,
    ) -> Result<u64> {
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
        let (from, to) = token_range.key_range(self.table_id);
        let records = read_records(engine, &snapshot, record_keys)?;
        sink.begin(&PartitionExport {
            range: token_range,
            stats,
            records,
        })?;
        for (position, record) in
            crate::changelog::raw_changes_at(engine, &snapshot, (self.table_id, self.index))?
        {
            sink.change(position, &record)?;
        }
        let mut opts = ReadOptions::default();
        opts.set_snapshot(&snapshot);
        opts.set_iterate_upper_bound(to);
        let mut items = 0u64;
        for entry in engine.db().iterator_cf_opt(
            engine.cf(CF_ITEMS)?,
            opts,
            IteratorMode::From(&from, Direction::Forward),
        ) {
            let (key, value) = entry?;
            sink.item(&key, &value)?;
            items += 1;
        }
        Ok(items)
    }

    /// Makes this replica's copy the streamed one: `items` (storage key, stored value,
    /// in key order, every key within `range`) replace its items in `range`, `range`
    /// becomes its range, its statistics are counted from the items, and `records` are
    /// written; then waits for the disk. `sst_path` is scratch space for the SST file
    /// the items are gathered in (moved into the database).
    ///
    /// Idempotent: after a crash anywhere in it, importing the same stream again leaves
    /// the same state.
    pub fn import(
        &self,
        engine: &Engine,
        range: TokenRange,
        items: &mut dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>,
        sst_path: &Path,
        records: &[StateRecord],
    ) -> Result<ImportSummary> {
        let mut stats = self.stats.lock();
        let holes = engine
            .owners()
            .descendants_within(self.table_id, self.index, range);
        let pieces = subtract(range, &holes);
        let in_pieces = |token: u64| pieces.iter().any(|p| p.contains(token));
        let sst_opts = Options::default();
        let mut writer: Option<SstFileWriter> = None;
        let mut counted = TableStats::default();
        let mut skipped = 0u64;
        let table_prefix = self.table_id.to_be_bytes();
        for item in items {
            let (key, value) = item?;
            let token = token_of_item_key(&key)
                .filter(|t| key.starts_with(&table_prefix) && range.contains(*t))
                .ok_or_else(|| {
                    StorageError::Corrupt(format!(
                        "snapshot of table {} partition {} holds a key outside its range",
                        self.table_id, self.index
                    ))
                })?;
            if !in_pieces(token) {
                skipped += 1;
                continue;
            }
            let item: Item = decode(&value)?;
            counted.item_count += 1;
            counted.size_bytes += item_size(&item) as u64;
            if writer.is_none() {
                let w = SstFileWriter::create(&sst_opts);
                w.open(sst_path)?;
                writer = Some(w);
            }
            if let Some(w) = writer.as_mut() {
                // Refuses keys out of order: a corrupt stream stops here.
                w.put(&key, &value)?;
            }
        }
        let ingest = match writer {
            Some(mut w) => {
                w.finish()?;
                true
            }
            None => false,
        };
        let items_cf = engine.cf(CF_ITEMS)?;
        let mut clear = WriteBatch::default();
        for piece in &pieces {
            let (from, to) = piece.key_range(self.table_id);
            clear.delete_range_cf(items_cf, from, to);
        }
        engine.write(clear)?;
        if ingest {
            let mut opts = IngestExternalFileOptions::default();
            opts.set_move_files(true);
            engine
                .db()
                .ingest_external_file_cf_opts(items_cf, &opts, vec![sst_path])?;
        }
        for piece in &pieces {
            self.rebuild_index_entries(engine, *piece)?;
        }
        let meta = engine.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(
            meta,
            stats_key(self.table_id, self.index),
            encode(&counted)?,
        );
        batch.put_cf(meta, range_key(self.table_id, self.index), encode(&range)?);
        batch.put_cf(meta, seeded_key(self.table_id, self.index), [1u8]);
        batch.delete_cf(meta, estimated_key(self.table_id, self.index));
        put_records(engine, &mut batch, records)?;
        engine.write(batch)?;
        engine.sync_blocking()?;
        stats.current = counted;
        stats.since_recount = None;
        *self.range.write() = range;
        engine.owners().set(self.table_id, self.index, range);
        self.seeded
            .store(true, std::sync::atomic::Ordering::Release);
        self.note_change();
        Ok(ImportSummary {
            stats: counted,
            skipped,
        })
    }
}

impl Partition {
    /// Replaces the local index entries of the items in `range` by ones made from the
    /// items there (a snapshot carries items only), in batches.
    fn rebuild_index_entries(&self, engine: &Engine, range: TokenRange) -> Result<()> {
        if self.local_indexes.is_empty() {
            return Ok(());
        }
        let (from, to) = range.key_range(self.table_id);
        let mut batch = WriteBatch::default();
        crate::index::delete_item_range_in(engine, &mut batch, self.table_id, &from, &to)?;
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(to.clone());
        let items = engine.db().iterator_cf_opt(
            engine.cf(CF_ITEMS)?,
            opts,
            IteratorMode::From(&from, Direction::Forward),
        );
        for entry in items {
            let (key, value) = entry?;
            let Some(token) = token_of_item_key(&key) else {
                continue;
            };
            let item: Item = decode(&value)?;
            crate::index::write_entries(
                engine,
                &mut batch,
                &self.local_indexes,
                self.table_id,
                token,
                None,
                Some(&item),
            )?;
            if batch.len() >= INDEX_BATCH_ENTRIES {
                engine.write(std::mem::take(&mut batch))?;
            }
        }
        engine.write(batch)
    }
}
