//! A partition: the deterministic state machine for one table's token range.
//!
//! `apply` reads the current item, lets the model decide the outcome, and writes the new
//! item together with the partition's statistics in one RocksDB batch. Commands are
//! applied one at a time per partition, so the outcome depends only on the order of the
//! commands: exactly what a raft log gives every replica.

use parking_lot::Mutex;
use rocksdb::WriteBatch;
use rotor_model::table::TableStats;
use rotor_model::value::item_size;
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::Item;

use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::Result;

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
                engine.write(batch)?;
                *stats = next;
            }
        }
        Ok(outcome)
    }
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
