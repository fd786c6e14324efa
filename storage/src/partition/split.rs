//! Splits: the upper tokens handed to a new partition in O(1) on the apply path (no item
//! is read), with statistics estimated there and recounted exactly off it.

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};
use rotor_model::keys::token_of_item_key;
use rotor_model::table::{TableStats, TokenRange};
use rotor_model::value::item_size;
use rotor_model::Item;

use super::owners::subtract;
use super::records::{estimated_key, range_key, seeded_key, stats_key};
use super::{Partition, StatsDelta};
use crate::changelog::{put_change, Change};
use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_ITEMS, CF_META};
use crate::error::Result;
use crate::raftlog::{put_records, StateRecord};

/// What `Partition::split` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitOutcome {
    /// The upper tokens now belong to the child, with these statistics (an estimate
    /// until `recount_stats`).
    Split { child: TableStats },
    /// The range was already cut there (the split was applied before).
    AlreadySplit,
}

impl Partition {
    /// Cuts the range at token `at`: the tokens from `at` on go to partition `child`
    /// of the same table, whose statistics, range and seed are written in the same
    /// batch as this one's narrowed range and `records`, together with `child_records`
    /// (the child's first raft state) unless this node holds a copy of the child
    /// already, whose own state that is. Deterministic: every replica
    /// applying it at the same log position holds the same items, so every replica's
    /// child starts from the same state. No item is read: the statistics of both halves
    /// are estimated from RocksDB's size of each key range and marked for a recount.
    /// While the change log is kept, the split is recorded there at `position`.
    pub fn split(
        &self,
        engine: &Engine,
        (at, child): (u64, u32),
        position: Option<u64>,
        records: &[StateRecord],
        child_records: &[StateRecord],
    ) -> Result<SplitOutcome> {
        let mut stats = self.stats.lock();
        let range = self.range();
        if !range.splits_at(at) {
            let mut batch = WriteBatch::default();
            put_records(engine, &mut batch, records)?;
            engine.write(batch)?;
            return Ok(SplitOutcome::AlreadySplit);
        }
        let upper = TokenRange {
            start: at,
            end: range.end,
        };
        let lower = TokenRange {
            start: range.start,
            end: Some(at),
        };
        let share = upper_share(engine, self.table_id, lower, upper)?;
        let total = stats.current;
        let moved = TableStats {
            item_count: (total.item_count as f64 * share).round() as u64,
            size_bytes: (total.size_bytes as f64 * share).round() as u64,
        };
        let kept = TableStats {
            item_count: total.item_count.saturating_sub(moved.item_count),
            size_bytes: total.size_bytes.saturating_sub(moved.size_bytes),
        };
        let meta = engine.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, stats_key(self.table_id, self.index), encode(&kept)?);
        batch.put_cf(meta, range_key(self.table_id, self.index), encode(&lower)?);
        batch.put_cf(meta, estimated_key(self.table_id, self.index), [1u8]);
        // The child's records, unless this node holds a copy of the child already (from
        // a snapshot): that copy, not this parent's, is the child's state here.
        let child_here = engine
            .db()
            .get_cf(meta, range_key(self.table_id, child))?
            .is_some();
        if !child_here {
            batch.put_cf(meta, stats_key(self.table_id, child), encode(&moved)?);
            batch.put_cf(meta, range_key(self.table_id, child), encode(&upper)?);
            batch.put_cf(meta, seeded_key(self.table_id, child), [1u8]);
            batch.put_cf(meta, estimated_key(self.table_id, child), [1u8]);
            put_records(engine, &mut batch, child_records)?;
        }
        put_records(engine, &mut batch, records)?;
        if let (Some(format), Some(position)) = (self.change_format(), position) {
            let log = (self.table_id, self.index);
            let marker = Change::Split { child, at };
            put_change(engine, &mut batch, format.as_ref(), log, position, &marker)?;
        }
        engine.write(batch)?;
        stats.current = kept;
        // A recount under way counted the whole range: let it finish, and recount again.
        stats.since_recount = None;
        *self.range.write() = lower;
        engine.owners().set(self.table_id, self.index, lower);
        if !child_here {
            engine.owners().set(self.table_id, child, upper);
        }
        self.note_change();
        Ok(SplitOutcome::Split { child: moved })
    }

    /// Replaces estimated statistics by exact ones: counts the items as of one RocksDB
    /// snapshot without holding up applies, then adds what was applied meanwhile. Runs
    /// off the apply path (a blocking thread); returns the new statistics, or None when
    /// a split cut the range meanwhile (the caller recounts again).
    pub fn recount_stats(&self, engine: &Engine) -> Result<Option<TableStats>> {
        let _one_at_a_time = self.recounting.lock();
        let (snapshot, range) = {
            let mut stats = self.stats.lock();
            stats.since_recount = Some(StatsDelta::default());
            (engine.db().snapshot(), self.range())
        };
        let holes = engine
            .owners()
            .descendants_within(self.table_id, self.index, range);
        let mut counted = TableStats::default();
        for piece in subtract(range, &holes) {
            let (from, to) = piece.key_range(self.table_id);
            let mut opts = ReadOptions::default();
            opts.set_snapshot(&snapshot);
            opts.set_iterate_upper_bound(to);
            for entry in engine.db().iterator_cf_opt(
                engine.cf(CF_ITEMS)?,
                opts,
                IteratorMode::From(&from, Direction::Forward),
            ) {
                let (_, value) = entry?;
                let item: Item = decode(&value)?;
                counted.item_count += 1;
                counted.size_bytes += item_size(&item) as u64;
            }
        }
        let mut stats = self.stats.lock();
        let Some(delta) = stats.since_recount.take() else {
            return Ok(None);
        };
        if self.range() != range {
            return Ok(None);
        }
        let exact = delta.add_to(counted);
        let meta = engine.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, stats_key(self.table_id, self.index), encode(&exact)?);
        batch.delete_cf(meta, estimated_key(self.table_id, self.index));
        engine.write(batch)?;
        stats.current = exact;
        Ok(Some(exact))
    }

    /// The token at which the bytes of this replica's items reach half (None: fewer
    /// than two distinct tokens, so no cut leaves both halves non-empty). Two passes
    /// over the partition's items: the total, then the point where half is reached.
    pub fn size_median(&self, engine: &Engine) -> Result<Option<u64>> {
        let (from, to) = self.range().key_range(self.table_id);
        let scan = |visit: &mut dyn FnMut(u64, u64) -> bool| -> Result<()> {
            let mut opts = ReadOptions::default();
            opts.set_iterate_upper_bound(to.clone());
            for entry in engine.db().iterator_cf_opt(
                engine.cf(CF_ITEMS)?,
                opts,
                IteratorMode::From(&from, Direction::Forward),
            ) {
                let (key, value) = entry?;
                if let Some(token) = token_of_item_key(&key) {
                    if !visit(token, value.len() as u64) {
                        break;
                    }
                }
            }
            Ok(())
        };
        let mut total = 0u64;
        scan(&mut |_, len| {
            total += len;
            true
        })?;
        let (mut seen, mut first, mut median) = (0u64, None, None);
        scan(&mut |token, len| {
            let first_token = *first.get_or_insert(token);
            if seen * 2 >= total && token != first_token {
                median = Some(token);
                return false;
            }
            seen += len;
            true
        })?;
        Ok(median)
    }
}

/// The upper range's share of the bytes RocksDB holds on disk for both ranges (from its
/// index blocks, not the items); one half when nothing is on disk yet.
fn upper_share(
    engine: &Engine,
    table_id: u32,
    lower: TokenRange,
    upper: TokenRange,
) -> Result<f64> {
    let (lower_from, lower_to) = lower.key_range(table_id);
    let (upper_from, upper_to) = upper.key_range(table_id);
    let sizes = engine.db().get_approximate_sizes_cf(
        engine.cf(CF_ITEMS)?,
        &[
            rocksdb::Range::new(&lower_from, &lower_to),
            rocksdb::Range::new(&upper_from, &upper_to),
        ],
    );
    let size = |i: usize| sizes.get(i).copied().unwrap_or(0) as f64;
    let (low, high) = (size(0), size(1));
    Ok(if low + high > 0.0 {
        high / (low + high)
    } else {
        0.5
    })
}
