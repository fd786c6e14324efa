//! Global secondary indexes on a storage node: how a base partition's changes reach
//! its indexes' partitions, exactly once each, through splits, leader changes and
//! restarts.
//!
//! ```text
//!   propagate  a base partition's leader feeding its indexes from its change log
//!   serve      the IndexWrite RPC: proposed to the index partition's log
//!   apply      the state machines' side: IndexWrite and ChangeProgress entries
//!   sources    an index partition's record of how far each base partition is in
//!   tracked    a base partition's record of the indexes it feeds
//!   backfill   copying a base partition's items into an index added to its table
//! ```

pub mod apply;
mod backfill;
pub mod propagate;
mod serve;
pub mod sources;
pub mod tracked;
