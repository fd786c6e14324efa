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
//!
//! ```text
//!   mod.rs      the partition, apply
//!   index_entries  a global secondary index's partition applying its entries
//!   split.rs    splits in O(1), statistics recounted off the apply path
//!   transfer.rs a copy of the partition streamed out and in (snapshots)
//!   owners.rs   which copies on this node hold which tokens
//!   records.rs  the partition's records in `meta`
//! ```

mod index_entries;
pub(crate) mod owners;
pub(crate) mod records;
mod split;
mod transfer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rocksdb::WriteBatch;
use rotor_model::global_index::GlobalIndexShape;
use rotor_model::index::LocalIndexes;
use rotor_model::keys::token_of_item_key;
use rotor_model::table::{TableStats, TokenRange};
use rotor_model::value::item_size;
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::Item;

use crate::changelog::{put_change, Change, ChangeFormat, ItemChange};
use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::{Result, StorageError};
use crate::raftlog::{put_records, StateRecord};
use records::{estimated_key, range_key, seeded_key, stats_key};

pub use split::SplitOutcome;
pub use transfer::{ExportSink, ImportSummary, PartitionExport};

pub struct Partition {
    table_id: u32,
    index: u32,
    /// Held while applying: one command at a time. Guards the running statistics.
    stats: Mutex<Stats>,
    /// The tokens this partition owns now (narrowed by each split it applies).
    range: RwLock<TokenRange>,
    /// Whether this replica's items are a starting point for the partition's log: true
    /// for a partition made with its table (it starts empty), and for a split's half
    /// once its parent's split was applied here or a snapshot was installed.
    seeded: AtomicBool,
    /// Held by a statistics recount: one at a time.
    recounting: Mutex<()>,
    /// The table's local secondary indexes, kept with the items.
    local_indexes: LocalIndexes,
    /// How many writes changed items here since the partition opened (tells a cached
    /// count of index entries whether it is still exact).
    changes: std::sync::atomic::AtomicU64,
    /// Set while the table has readers of a change log (global secondary indexes):
    /// each logged write then records its change at its log position.
    change_format: RwLock<Option<Arc<dyn ChangeFormat>>>,
    /// The table's global secondary indexes: a write whose new item has an index key
    /// of the wrong type is refused, as DynamoDB does.
    global_indexes: RwLock<Vec<GlobalIndexShape>>,
}

/// The running statistics, and what changed since a recount's snapshot was taken.
#[derive(Debug, Default)]
struct Stats {
    current: TableStats,
    /// Some while a recount runs: the changes applied since its snapshot.
    since_recount: Option<StatsDelta>,
}

#[derive(Debug, Default, Clone, Copy)]
struct StatsDelta {
    items: i64,
    bytes: i64,
}

impl StatsDelta {
    fn add_to(self, stats: TableStats) -> TableStats {
        TableStats {
            item_count: stats.item_count.saturating_add_signed(self.items),
            size_bytes: stats.size_bytes.saturating_add_signed(self.bytes),
        }
    }
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
        if seeded {
            engine.owners().set(table_id, index, range);
        }
        Ok(Partition {
            table_id,
            index,
            stats: Mutex::new(Stats {
                current: stats,
                since_recount: None,
            }),
            range: RwLock::new(range),
            seeded: AtomicBool::new(seeded),
            recounting: Mutex::new(()),
            local_indexes: LocalIndexes::default(),
            changes: std::sync::atomic::AtomicU64::new(0),
            change_format: RwLock::new(None),
            global_indexes: RwLock::new(Vec::new()),
        })
    }

    /// The partition with its table's local secondary indexes (fixed when the table
    /// was created), which each write then keeps exact in the same batch.
    pub fn with_local_indexes(mut self, local_indexes: LocalIndexes) -> Partition {
        self.local_indexes = local_indexes;
        self
    }

    /// Starts (Some) or stops (None) recording each logged write's change in the
    /// partition's change log, in that format.
    pub fn set_change_format(&self, format: Option<Arc<dyn ChangeFormat>>) {
        *self.change_format.write() = format;
    }

    /// The table's global secondary indexes, whose key types writes are checked
    /// against.
    pub fn set_global_indexes(&self, indexes: Vec<GlobalIndexShape>) {
        *self.global_indexes.write() = indexes;
    }

    /// The change log's format while it is kept.
    pub fn change_format(&self) -> Option<Arc<dyn ChangeFormat>> {
        self.change_format.read().clone()
    }

    pub fn local_indexes(&self) -> &LocalIndexes {
        &self.local_indexes
    }

    pub fn stats(&self) -> TableStats {
        self.stats.lock().current
    }

    /// A number that changes whenever a write changes an item here (or a snapshot
    /// replaces the items).
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    pub(crate) fn note_change(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn table_id(&self) -> u32 {
        self.table_id
    }

    /// The tokens this replica's partition owns now.
    pub fn range(&self) -> TokenRange {
        *self.range.read()
    }

    /// Whether this replica holds the items its log applies to (see `seeded`).
    pub fn is_seeded(&self) -> bool {
        self.seeded.load(Ordering::Acquire)
    }

    /// Whether a storage key belongs to this partition now.
    pub fn owns_key(&self, item_key: &[u8]) -> bool {
        token_of_item_key(item_key).is_some_and(|t| self.range().contains(t))
    }

    /// Whether the statistics are an estimate a recount has yet to replace (a split's).
    pub fn stats_estimated(&self, engine: &Engine) -> Result<bool> {
        Ok(engine
            .db()
            .get_cf(
                engine.cf(CF_META)?,
                estimated_key(self.table_id, self.index),
            )?
            .is_some())
    }

    /// Applies one write. The caller makes it durable (`Engine::sync`) before answering.
    pub fn apply(&self, engine: &Engine, req: &WriteRequest) -> Result<WriteOutcome> {
        self.apply_logged(engine, req, &[])
    }

    /// Applies one write taken from a raft log, writing `records` (the log position it
    /// was applied at) in the same batch as the item, so that after a crash the items
    /// and the applied position agree. Nothing is synced: the log is the durable copy.
    ///
    /// A key that a later partition's copy here holds (this replica is behind a split
    /// that partition descends from) is left alone: that copy has this write already,
    /// and the tokens are not this partition's once it reaches the split. The outcome
    /// is then decided against that copy's item and nothing is written.
    pub fn apply_logged(
        &self,
        engine: &Engine,
        req: &WriteRequest,
        records: &[StateRecord],
    ) -> Result<WriteOutcome> {
        self.apply_at(engine, req, records, None)
    }

    /// `apply_logged` of the entry at log position `position`: while the change log is
    /// kept, the change it makes is recorded there at that position, in the same batch.
    pub fn apply_at(
        &self,
        engine: &Engine,
        req: &WriteRequest,
        records: &[StateRecord],
        position: Option<u64>,
    ) -> Result<WriteOutcome> {
        let items = engine.cf(CF_ITEMS)?;
        let mut stats = self.stats.lock();
        let Some(token) = token_of_item_key(&req.item_key).filter(|t| self.range().contains(*t))
        else {
            return Err(StorageError::OutsideRange {
                table_id: self.table_id,
                partition: self.index,
            });
        };
        let current: Option<Item> = match engine.db().get_pinned_cf(items, &req.item_key)? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        let outcome = req.command.apply(current)?;
        if let WriteOutcome::Applied { new: Some(new), .. } = &outcome {
            // An index key of the wrong type: nothing is written (DynamoDB's error).
            self.local_indexes.check(new)?;
            for index in self.global_indexes.read().iter() {
                index.check(new)?;
            }
        }
        let held_elsewhere = engine
            .owners()
            .held_by_descendant(self.table_id, self.index, token);
        if let WriteOutcome::Applied { old, new } = &outcome {
            if (old.is_some() || new.is_some()) && !held_elsewhere {
                let mut delta = StatsDelta::default();
                if let Some(old) = old {
                    delta.items -= 1;
                    delta.bytes -= item_size(old) as i64;
                }
                let mut batch = WriteBatch::default();
                match new {
                    Some(new) => {
                        delta.items += 1;
                        delta.bytes += item_size(new) as i64;
                        batch.put_cf(items, &req.item_key, encode(new)?);
                    }
                    None => batch.delete_cf(items, &req.item_key),
                }
                crate::index::write_entries(
                    engine,
                    &mut batch,
                    &self.local_indexes,
                    self.table_id,
                    token,
                    old.as_ref(),
                    new.as_ref(),
                )?;
                let next = delta.add_to(stats.current);
                batch.put_cf(
                    engine.cf(CF_META)?,
                    stats_key(self.table_id, self.index),
                    encode(&next)?,
                );
                put_records(engine, &mut batch, records)?;
                if let (Some(format), Some(position)) = (self.change_format(), position) {
                    let change = Change::Item(ItemChange {
                        item_key: req.item_key.clone(),
                        old: old.clone(),
                        new: new.clone(),
                    });
                    let log = (self.table_id, self.index);
                    put_change(engine, &mut batch, format.as_ref(), log, position, &change)?;
                }
                engine.write(batch)?;
                self.note_change();
                stats.current = next;
                if let Some(pending) = stats.since_recount.as_mut() {
                    pending.items += delta.items;
                    pending.bytes += delta.bytes;
                }
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
}
