//! rotor-storage: a node's storage engine on one RocksDB, with no networking.
//!
//! ```text
//!   Store ── catalog   table definitions (column family `meta`)
//!         ├─ Partition  a deterministic state machine per (table, partition):
//!         │             apply(WriteRequest) -> WriteOutcome, one RocksDB batch each
//!         └─ Engine     RocksDB, column families, durable writes with group commit
//!   GroupLog            one raft group's log and records in shared column families
//! ```
//!
//! Items live in the `items` column family under `table | token | pk | sk`
//! (see `rotor_model::keys`), so a partition is one contiguous key range; local
//! secondary index entries in `indexes`, written with their items (see `index`); each
//! partition's change log in `changes`, written with them too (see `changelog`).

pub mod changelog;
mod codec;
pub mod engine;
pub mod error;
pub mod format;
pub mod index;
pub mod items;
pub mod partition;
pub mod raftlog;
pub mod store;

pub use engine::Engine;
pub use error::StorageError;
pub use partition::{ExportSink, ImportSummary, Partition, PartitionExport, SplitOutcome};
pub use raftlog::{GroupLog, StateRecord};
pub use store::Store;
