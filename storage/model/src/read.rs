//! Range reads: what a Query or Scan asks of a partition, and what it gets back.

use serde::{Deserialize, Serialize};

use crate::value::Item;

/// DynamoDB's page limit: a Query or Scan stops once it has read this many bytes.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// A bounded read of a key range: `[start, end)` in key order, or backwards from `end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadRange {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub reverse: bool,
    /// Stop after this many items.
    pub max_items: Option<usize>,
    /// Stop once the items read reach this many bytes.
    pub max_bytes: usize,
    /// Read a local secondary index's entries instead of the table's items (`start`
    /// and `end` are then index keys, see `rotor_model::index::local_index_key`).
    pub local_index: Option<IndexRead>,
}

impl ReadRange {
    /// The token of the range's first key (an item key, or an index key).
    pub fn start_token(&self) -> Option<u64> {
        match self.local_index {
            None => crate::keys::token_of_item_key(&self.start),
            Some(_) => crate::index::token_of_index_key(&self.start),
        }
    }

    /// Whether the range lies within what table `table_id` holds of the items in
    /// `tokens` (a partition's range).
    pub fn within(&self, table_id: u32, tokens: &crate::table::TokenRange) -> bool {
        match self.local_index {
            None => tokens.holds_keys(table_id, &self.start, &self.end),
            Some(index) => crate::index::holds_index_keys(
                table_id,
                index.ordinal,
                tokens,
                &self.start,
                &self.end,
            ),
        }
    }
}

/// Which local secondary index a range read walks, and what it returns of each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRead {
    /// The index's position in its table's definition.
    pub ordinal: u8,
    /// Return each entry's whole item from the table instead of the projection (an
    /// LSI read that needs attributes the index does not hold).
    pub fetch_items: bool,
}

/// Items read from a range, with their storage keys.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangePage {
    pub items: Vec<(Vec<u8>, Item)>,
    /// DynamoDB size of the items read.
    pub bytes: usize,
    /// The read stopped at a limit and more of the range is left.
    pub truncated: bool,
}
