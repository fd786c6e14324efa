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
