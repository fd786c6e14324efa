//! Local secondary index entries, in their own column family (`indexes`), under
//! `table | ordinal | token | pk | index sk | table sk` (see `rotor_model::index`). They
//! are written by the partition's apply, in the same batch as their item, so they are
//! exact at every log position; they follow their items' tokens through splits,
//! snapshots and removals.

use rocksdb::{ReadOptions, WriteBatch};
use rotor_model::index::{local_index_key_range, LocalIndexes, MAX_LOCAL_INDEXES};
use rotor_model::keys::{item_key, token_of_item_key};
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{TableStats, TokenRange};
use rotor_model::value::item_size;
use rotor_model::Item;

use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_INDEXES, CF_ITEMS};
use crate::error::Result;

/// Adds to `batch` what replacing `old` by `new` (either absent: a put of a new item,
/// or a delete) changes in the table's indexes. `new` must have passed
/// `LocalIndexes::check`.
pub(crate) fn write_entries(
    engine: &Engine,
    batch: &mut WriteBatch,
    indexes: &LocalIndexes,
    table_id: u32,
    token: u64,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<()> {
    if indexes.is_empty() {
        return Ok(());
    }
    let cf = engine.cf(CF_INDEXES)?;
    let added = new
        .map(|n| indexes.entries(table_id, token, n))
        .unwrap_or_default();
    if let Some(old) = old {
        for gone in indexes.entries(table_id, token, old) {
            if !added.iter().any(|a| a.key == gone.key) {
                batch.delete_cf(cf, &gone.key);
            }
        }
    }
    for entry in added {
        batch.put_cf(cf, &entry.key, encode(&entry.value)?);
    }
    Ok(())
}

/// Reads index entries in a key range of the `indexes` column family, stopping at the
/// item or byte limit as `items::read_range` does. Each entry comes with its key.
pub fn read_range(engine: &Engine, range: &ReadRange) -> Result<RangePage> {
    crate::items::read_range_in(engine, CF_INDEXES, range)
}

/// Reads a range of one of `table_id`'s local indexes (`range.local_index` says which)
/// and, when asked, replaces each entry by its whole item from the table (an entry and
/// its item are written in one batch, so one iterator's snapshot sees both or
/// neither). Each result keeps its index key; `bytes` counts the entries and the items
/// fetched.
pub fn read_index_range(
    engine: &Engine,
    indexes: &LocalIndexes,
    table_id: u32,
    range: &ReadRange,
) -> Result<RangePage> {
    let Some(which) = range.local_index else {
        return crate::items::read_range(engine, range);
    };
    let snapshot = engine.db().snapshot();
    let mut page = crate::items::read_range_at(engine, CF_INDEXES, range, Some(&snapshot))?;
    let Some(table_key) = indexes
        .table_key
        .as_ref()
        .filter(|_| which.fetch_items && usize::from(which.ordinal) < indexes.indexes.len())
    else {
        return Ok(page);
    };
    let items = engine.cf(CF_ITEMS)?;
    let mut opts = ReadOptions::default();
    opts.set_snapshot(&snapshot);
    let mut fetched = Vec::with_capacity(page.items.len());
    for (index_key, entry) in page.items.drain(..) {
        let Some(pk) = entry.get(&table_key.partition.name) else {
            continue;
        };
        let sk = table_key.sort.as_ref().and_then(|s| entry.get(&s.name));
        let key = item_key(table_id, pk, sk);
        if let Some(bytes) = engine.db().get_pinned_cf_opt(items, &key, &opts)? {
            let item: Item = decode(&bytes)?;
            page.bytes += item_size(&item);
            fetched.push((index_key, item));
        }
    }
    page.items = fetched;
    Ok(page)
}

/// How many entries index `ordinal` of table `table_id` holds for the items in
/// `tokens`, and their size (DynamoDB's arithmetic, of the projected items): a walk
/// of the entries, for DescribeTable's `ItemCount` and `IndexSizeBytes`.
pub fn count_entries(
    engine: &Engine,
    table_id: u32,
    ordinal: u8,
    tokens: &TokenRange,
) -> Result<TableStats> {
    let (start, end) = local_index_key_range(table_id, ordinal, tokens);
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(start.clone());
    opts.set_iterate_upper_bound(end);
    let mut stats = TableStats::default();
    let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
    for entry in engine
        .db()
        .iterator_cf_opt(engine.cf(CF_INDEXES)?, opts, mode)
    {
        let (_, value) = entry?;
        let projected: Item = decode(&value)?;
        stats.item_count += 1;
        stats.size_bytes += item_size(&projected) as u64;
    }
    Ok(stats)
}

/// Adds to `batch` the removal of every index entry of table `table_id`.
pub(crate) fn delete_table_in(
    engine: &Engine,
    batch: &mut WriteBatch,
    table_id: u32,
) -> Result<()> {
    let from = table_id.to_be_bytes().to_vec();
    let to = match table_id.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    };
    batch.delete_range_cf(engine.cf(CF_INDEXES)?, from, to);
    Ok(())
}

/// Adds to `batch` the removal of the index entries whose items lie in the item key
/// range `[from, to)` of table `table_id` (a partition's range: `table | token` bounds,
/// or the next table's prefix at the end of the token space).
pub(crate) fn delete_item_range_in(
    engine: &Engine,
    batch: &mut WriteBatch,
    table_id: u32,
    from: &[u8],
    to: &[u8],
) -> Result<()> {
    let cf = engine.cf(CF_INDEXES)?;
    let start = token_of_item_key(from).unwrap_or(0);
    let end = if to.starts_with(&table_id.to_be_bytes()) {
        token_of_item_key(to)
    } else {
        None
    };
    let tokens = TokenRange { start, end };
    for ordinal in 0..MAX_LOCAL_INDEXES as u8 {
        let (lower, upper) = local_index_key_range(table_id, ordinal, &tokens);
        batch.delete_range_cf(cf, lower, upper);
    }
    Ok(())
}
