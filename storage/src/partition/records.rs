//! Where a partition's own records live in `meta`: its statistics, its token range, its
//! seed marker, and the marker of statistics that are an estimate awaiting a recount.

use rotor_model::table::TokenRange;

use crate::codec::decode;
use crate::engine::{Engine, CF_META};
use crate::error::Result;

/// The kinds of per-partition records in `meta`.
pub(crate) const PARTITION_RECORDS: [&[u8]; 4] = [b"stats/", b"range/", b"seeded/", b"estimated/"];

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

pub(crate) fn range_key(table_id: u32, index: u32) -> Vec<u8> {
    partition_record_key(PARTITION_RECORDS[1], table_id, index)
}

pub(crate) fn seeded_key(table_id: u32, index: u32) -> Vec<u8> {
    partition_record_key(PARTITION_RECORDS[2], table_id, index)
}

/// Present while a partition's statistics are an estimate (set by a split, cleared by
/// the recount that replaces them).
pub(crate) fn estimated_key(table_id: u32, index: u32) -> Vec<u8> {
    partition_record_key(PARTITION_RECORDS[3], table_id, index)
}

/// The (table, partition) a seed marker key names.
pub(crate) fn parse_seeded_key(key: &[u8]) -> Option<(u32, u32)> {
    let rest = key.strip_prefix(PARTITION_RECORDS[2])?;
    let table = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let index = u32::from_be_bytes(rest.get(4..8)?.try_into().ok()?);
    Some((table, index))
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
