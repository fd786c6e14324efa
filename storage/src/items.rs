//! Reads of items (by key and by range) and removal of a table's or a moved partition's
//! data, on the engine directly: the same whether a catalog (`Store`) or a raft group
//! owns the partition.

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};
use rotor_model::keys::{prefix_successor, table_prefix};
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::value::item_size;
use rotor_model::Item;

use crate::codec::decode;
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::Result;
use crate::partition::records::{partition_record_keys, partition_record_prefixes};

/// Reads one item by its storage key.
pub fn get(engine: &Engine, item_key: &[u8]) -> Result<Option<Item>> {
    let items = engine.cf(CF_ITEMS)?;
    match engine.db().get_pinned_cf(items, item_key)? {
        Some(bytes) => Ok(Some(decode(&bytes)?)),
        None => Ok(None),
    }
}

/// Reads items in a key range, stopping at the item or byte limit.
pub fn read_range(engine: &Engine, range: &ReadRange) -> Result<RangePage> {
    read_range_in(engine, CF_ITEMS, range)
}

/// Reads stored items (or index entries) of column family `cf` in a key range,
/// stopping before the item that would pass the item limit, or once the byte limit is
/// reached.
pub(crate) fn read_range_in(engine: &Engine, cf: &str, range: &ReadRange) -> Result<RangePage> {
    read_range_at(engine, cf, range, None)
}

/// `read_range_in`, as of `snapshot` when one is given.
pub(crate) fn read_range_at(
    engine: &Engine,
    cf: &str,
    range: &ReadRange,
    snapshot: Option<&rocksdb::Snapshot<'_>>,
) -> Result<RangePage> {
    let cf = engine.cf(cf)?;
    let mut opts = ReadOptions::default();
    if let Some(snapshot) = snapshot {
        opts.set_snapshot(snapshot);
    }
    opts.set_iterate_lower_bound(range.start.clone());
    opts.set_iterate_upper_bound(range.end.clone());
    let mode = if range.reverse {
        IteratorMode::End
    } else {
        IteratorMode::From(&range.start, Direction::Forward)
    };
    let mut page = RangePage::default();
    for entry in engine.db().iterator_cf_opt(cf, opts, mode) {
        let (key, value) = entry?;
        if range.max_items.is_some_and(|max| page.items.len() >= max)
            || page.bytes >= range.max_bytes
        {
            page.truncated = true;
            break;
        }
        let item: Item = decode(&value)?;
        page.bytes += item_size(&item);
        page.items.push((key.to_vec(), item));
    }
    Ok(page)
}

/// Adds to `batch` the removal of every item and statistic of table `table_id`.
pub fn delete_table_in(engine: &Engine, batch: &mut WriteBatch, table_id: u32) -> Result<()> {
    let meta = engine.cf(CF_META)?;
    for from in partition_record_prefixes(table_id) {
        if let Some(to) = prefix_successor(&from) {
            batch.delete_range_cf(meta, from, to);
        }
    }
    let from = table_prefix(table_id).to_vec();
    let to = match table_id.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    };
    batch.delete_range_cf(engine.cf(CF_ITEMS)?, from, to);
    crate::changelog::delete_table_in(engine, batch, table_id)?;
    crate::index::delete_table_in(engine, batch, table_id)
}

/// Removes every item and statistic of table `table_id` and waits for the disk.
pub fn delete_table(engine: &Engine, table_id: u32) -> Result<()> {
    let mut batch = WriteBatch::default();
    delete_table_in(engine, &mut batch, table_id)?;
    engine.write(batch)?;
    engine.owners().remove_table(table_id);
    engine.sync_blocking()
}

/// Removes a partition's items in `[range.0, range.1)` and its records (statistics,
/// range, seed: the partition moved to other nodes), and waits for the disk.
pub fn delete_partition(
    engine: &Engine,
    table_id: u32,
    index: u32,
    range: (&[u8], &[u8]),
) -> Result<()> {
    let mut batch = WriteBatch::default();
    let meta = engine.cf(CF_META)?;
    for key in partition_record_keys(table_id, index) {
        batch.delete_cf(meta, key);
    }
    batch.delete_range_cf(engine.cf(CF_ITEMS)?, range.0, range.1);
    crate::index::delete_item_range_in(engine, &mut batch, table_id, range.0, range.1)?;
    crate::changelog::delete_partition_in(engine, &mut batch, (table_id, index))?;
    engine.write(batch)?;
    engine.owners().remove(table_id, index);
    engine.sync_blocking()
}

/// Whether this node holds a copy of partition `index` of a table from a split it
/// applied or a snapshot it installed (its seed marker).
pub fn has_seeded_copy(engine: &Engine, table_id: u32, index: u32) -> Result<bool> {
    Ok(crate::partition::records::seeded_copy_range(engine, table_id, index)?.is_some())
}

/// Removes this node's copy of partition `index` of a table when it holds one from a
/// split it applied (its seed marker) but does not host the partition: its items (in
/// the range the split gave it) and its records. True when there was one.
pub fn remove_seeded_copy(engine: &Engine, table_id: u32, index: u32) -> Result<bool> {
    let Some(range) = crate::partition::records::seeded_copy_range(engine, table_id, index)? else {
        return Ok(false);
    };
    let (from, to) = range.key_range(table_id);
    delete_partition(engine, table_id, index, (&from, &to))?;
    Ok(true)
}
