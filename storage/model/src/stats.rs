//! Item counts and sizes of partitions, tables and their indexes.

use serde::{Deserialize, Serialize};

/// Item count and bytes of a partition or a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStats {
    pub item_count: u64,
    pub size_bytes: u64,
}

/// A partition's or a table's statistics, with those of each of its local secondary
/// indexes (in the table's order of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsWithIndexes {
    pub table: TableStats,
    pub local_indexes: Vec<TableStats>,
}

impl StatsWithIndexes {
    /// Adds another partition's statistics to these.
    pub fn add(&mut self, other: &StatsWithIndexes) {
        self.table.item_count += other.table.item_count;
        self.table.size_bytes += other.table.size_bytes;
        if self.local_indexes.len() < other.local_indexes.len() {
            self.local_indexes
                .resize(other.local_indexes.len(), TableStats::default());
        }
        for (sum, part) in self.local_indexes.iter_mut().zip(&other.local_indexes) {
            sum.item_count += part.item_count;
            sum.size_bytes += part.size_bytes;
        }
    }
}
