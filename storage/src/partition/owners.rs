//! Which partition copies on this node hold items, and their token ranges: what keeps
//! one partition from writing over another's items in the key space they share.
//!
//! Ranges only narrow (a split hands the upper tokens to a new partition with a higher
//! number), so when two copies here overlap, the one with the lower number is behind a
//! split the other one already descends from: the overlap belongs to the higher one.
//! A lagging parent replaying its log, or installing a snapshot taken before the split,
//! must leave those tokens alone.

use std::collections::{BTreeMap, HashMap};

use parking_lot::RwLock;
use rocksdb::{Direction, IteratorMode, DB};
use rotor_model::table::TokenRange;

use super::records::{parse_seeded_key, range_key, PARTITION_RECORDS};
use crate::codec::decode;
use crate::engine::CF_META;
use crate::error::{Result, StorageError};

#[derive(Default)]
pub struct RangeOwners {
    /// By table, by partition number: the tokens its copy here holds.
    tables: RwLock<HashMap<u32, BTreeMap<u32, TokenRange>>>,
}

impl RangeOwners {
    /// The seeded copies recorded on disk (a split's half or an installed snapshot);
    /// partitions that hold items from their creation register when they open.
    pub(crate) fn load(db: &DB) -> Result<RangeOwners> {
        let owners = RangeOwners::default();
        let meta = db
            .cf_handle(CF_META)
            .ok_or_else(|| StorageError::Corrupt(format!("missing column family {CF_META}")))?;
        let prefix = PARTITION_RECORDS[2];
        for entry in db.iterator_cf(meta, IteratorMode::From(prefix, Direction::Forward)) {
            let (key, _) = entry?;
            let Some((table, index)) = parse_seeded_key(&key) else {
                break;
            };
            if let Some(bytes) = db.get_cf(meta, range_key(table, index))? {
                owners.set(table, index, decode(&bytes)?);
            }
        }
        Ok(owners)
    }

    pub(crate) fn set(&self, table: u32, index: u32, range: TokenRange) {
        self.tables
            .write()
            .entry(table)
            .or_default()
            .insert(index, range);
    }

    pub(crate) fn remove(&self, table: u32, index: u32) {
        if let Some(parts) = self.tables.write().get_mut(&table) {
            parts.remove(&index);
        }
    }

    pub(crate) fn remove_table(&self, table: u32) {
        self.tables.write().remove(&table);
    }

    /// The parts of `range` that copies of later partitions (`index`'s descendants)
    /// hold here, sorted by start.
    pub(crate) fn descendants_within(
        &self,
        table: u32,
        index: u32,
        range: TokenRange,
    ) -> Vec<TokenRange> {
        let tables = self.tables.read();
        let Some(parts) = tables.get(&table) else {
            return Vec::new();
        };
        let mut out: Vec<TokenRange> = parts
            .range(index.saturating_add(1)..)
            .filter(|(i, _)| **i > index)
            .filter_map(|(_, r)| intersect(range, *r))
            .collect();
        out.sort_by_key(|r| r.start);
        out
    }

    /// Whether `token` of partition `index` belongs to a descendant's copy here.
    pub(crate) fn held_by_descendant(&self, table: u32, index: u32, token: u64) -> bool {
        let tables = self.tables.read();
        tables.get(&table).is_some_and(|parts| {
            parts
                .range(index.saturating_add(1)..)
                .any(|(i, r)| *i > index && r.contains(token))
        })
    }
}

fn intersect(a: TokenRange, b: TokenRange) -> Option<TokenRange> {
    let start = a.start.max(b.start);
    let end = match (a.end, b.end) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    };
    match end {
        Some(e) if e <= start => None,
        _ => Some(TokenRange { start, end }),
    }
}

/// `range` without `holes` (sorted by start, each within `range`): the pieces left.
pub(crate) fn subtract(range: TokenRange, holes: &[TokenRange]) -> Vec<TokenRange> {
    let mut out = Vec::new();
    let mut from = range.start;
    for hole in holes {
        if hole.start > from {
            out.push(TokenRange {
                start: from,
                end: Some(hole.start),
            });
        }
        match hole.end {
            Some(e) => from = from.max(e),
            None => return out,
        }
    }
    if range.end.is_none_or(|e| from < e) {
        out.push(TokenRange {
            start: from,
            end: range.end,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: Option<u64>) -> TokenRange {
        TokenRange { start, end }
    }

    #[test]
    fn only_later_partitions_count_and_only_where_they_overlap() {
        let owners = RangeOwners::default();
        owners.set(1, 0, r(0, None));
        owners.set(1, 2, r(500, Some(700)));
        owners.set(1, 3, r(900, None));
        owners.set(2, 5, r(0, None));
        assert_eq!(
            owners.descendants_within(1, 0, r(0, Some(1000))),
            vec![r(500, Some(700)), r(900, Some(1000))]
        );
        assert!(owners
            .descendants_within(1, 2, r(500, Some(700)))
            .is_empty());
        assert!(owners.held_by_descendant(1, 0, 600));
        assert!(!owners.held_by_descendant(1, 0, 800));
        assert!(
            !owners.held_by_descendant(1, 2, 100),
            "an ancestor never wins"
        );
        owners.remove(1, 2);
        assert!(!owners.held_by_descendant(1, 0, 600));
    }

    #[test]
    fn subtracting_holes_leaves_the_pieces_between() {
        assert_eq!(
            subtract(r(0, Some(1000)), &[r(500, Some(700)), r(900, Some(1000))]),
            vec![r(0, Some(500)), r(700, Some(900))]
        );
        assert_eq!(subtract(r(0, None), &[r(10, None)]), vec![r(0, Some(10))]);
        assert_eq!(subtract(r(5, None), &[]), vec![r(5, None)]);
        assert_eq!(subtract(r(5, Some(9)), &[r(5, Some(9))]), vec![]);
    }
}
