//! Local secondary index entries, in their own column family (`indexes`), under
//! `table | ordinal | token | pk | index sk | table sk` (see `rotor_model::index`). They
//! are written by the partition's apply, in the same batch as their item, so they are
//! exact at every log position; they follow their items' tokens through splits,
//! snapshots and removals.

use rocksdb::WriteBatch;
use rotor_model::index::{local_index_token_prefix, LocalIndexes, MAX_LOCAL_INDEXES};
use rotor_model::keys::token_of_item_key;
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::Item;

use crate::codec::encode;
use crate::engine::{Engine, CF_INDEXES};
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
    for ordinal in 0..MAX_LOCAL_INDEXES as u8 {
        let lower = local_index_token_prefix(table_id, ordinal, start);
        let upper = match end {
            Some(end) => local_index_token_prefix(table_id, ordinal, end),
            None => {
                let mut next = table_id.to_be_bytes().to_vec();
                next.push(ordinal + 1);
                next
            }
        };
        batch.delete_range_cf(cf, lower, upper);
    }
    Ok(())
}
