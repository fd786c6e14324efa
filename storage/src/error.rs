//! Storage errors: client mistakes found while applying (from the model) and engine faults.

use rotor_model::ModelError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageError {
    /// A client error found while applying a write (the write did not happen).
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("table already exists: {0}")]
    TableExists(String),
    #[error("table not found: {0}")]
    TableNotFound(String),
    /// RocksDB failed (disk full, I/O error); the write did not happen.
    #[error("storage engine error: {0}")]
    Engine(#[from] rocksdb::Error),
    /// Stored bytes could not be decoded: a bug or a damaged disk.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A write for a key the partition no longer owns (a split gave it to another
    /// partition); it did not happen and belongs at the partition that owns it now.
    #[error("partition {partition} of table id {table_id} no longer owns this key")]
    OutsideRange { table_id: u32, partition: u32 },
    /// The stream of a partition copy being installed failed (a truncated or damaged
    /// snapshot, an I/O error reading it); nothing of it counts as installed.
    #[error("cannot read the partition copy to install: {0}")]
    Transfer(String),
    /// The durable-write syncer stopped (the engine is shutting down or failed to fsync).
    #[error("write-ahead log sync failed: {0}")]
    Sync(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
