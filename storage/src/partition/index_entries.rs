//! A global secondary index's partition applying its entries: puts and removals of
//! projected items under their index keys, decided by the base table's partitions
//! (see `rotor_model::global_index`) and delivered through this partition's raft log.

use rocksdb::WriteBatch;
use rotor_model::global_index::IndexChange;
use rotor_model::keys::token_of_item_key;
use rotor_model::value::item_size;
use rotor_model::Item;

use super::records::stats_key;
use super::{Partition, StatsDelta};
use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::{Result, StorageError};
use crate::raftlog::{put_records, StateRecord};

impl Partition {
    /// Applies index entry changes in order, with `records` (the log position, the
    /// positions reached per base partition), in one batch. Refused whole
    /// (`OutsideRange`, nothing written) when an entry's token is not this
    /// partition's: the sender routed with an older map.
    pub fn apply_index_changes(
        &self,
        engine: &Engine,
        changes: &[&IndexChange],
        records: &[StateRecord],
    ) -> Result<()> {
        let items = engine.cf(CF_ITEMS)?;
        let mut stats = self.stats.lock();
        let range = self.range();
        let owned = |key: &[u8]| token_of_item_key(key).is_some_and(|t| range.contains(t));
        if !changes.iter().all(|c| owned(c.key())) {
            return Err(StorageError::OutsideRange {
                table_id: self.table_id,
                partition: self.index,
            });
        }
        let mut batch = WriteBatch::default();
        let mut delta = StatsDelta::default();
        // Entries this batch wrote already: a later change of the same key sees them.
        let mut written: std::collections::HashMap<&[u8], Option<&Item>> =
            std::collections::HashMap::new();
        for change in changes {
            let key = change.key();
            let before: Option<usize> = match written.get(key) {
                Some(entry) => entry.map(item_size),
                None => match engine.db().get_pinned_cf(items, key)? {
                    Some(bytes) => Some(item_size(&decode::<Item>(&bytes)?)),
                    None => None,
                },
            };
            if let Some(size) = before {
                delta.items -= 1;
                delta.bytes -= size as i64;
            }
            match change {
                IndexChange::Put { key, entry } => {
                    delta.items += 1;
                    delta.bytes += item_size(entry) as i64;
                    batch.put_cf(items, key, encode(entry)?);
                    written.insert(key, Some(entry));
                }
                IndexChange::Delete { key } => {
                    batch.delete_cf(items, key);
                    written.insert(key, None);
                }
            }
        }
        let next = delta.add_to(stats.current);
        batch.put_cf(
            engine.cf(CF_META)?,
            stats_key(self.table_id, self.index),
            encode(&next)?,
        );
        put_records(engine, &mut batch, records)?;
        engine.write(batch)?;
        if !changes.is_empty() {
            self.note_change();
        }
        stats.current = next;
        if let Some(pending) = stats.since_recount.as_mut() {
            pending.items += delta.items;
            pending.bytes += delta.bytes;
        }
        Ok(())
    }
}
