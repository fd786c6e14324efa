//! The node's one RocksDB: column families, and durable writes with group commit.
//!
//! A write goes into RocksDB (memtable and WAL file, not yet fsynced) and then waits for
//! the syncer thread, which fsyncs the WAL once for every write queued since its last
//! sync. Many concurrent writers thus share one fsync, and none is acknowledged before
//! its bytes are on disk.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;

use rocksdb::{ColumnFamily, Options, WriteBatch, WriteOptions, DB};
use tokio::sync::oneshot;

use crate::error::{Result, StorageError};
use crate::partition::owners::RangeOwners;

/// Column family of catalog and statistics records.
pub const CF_META: &str = "meta";
/// Column family of items.
pub const CF_ITEMS: &str = "items";
/// Column family of local secondary index entries (see `crate::index`).
pub const CF_INDEXES: &str = "indexes";
/// Column family of partitions' change logs (see `crate::changelog`).
pub const CF_CHANGES: &str = "changes";
/// Column family of raft log entries of every group, keyed `group | index`.
pub const CF_RAFT_LOG: &str = "raft_log";
/// Column family of raft groups' small records (vote, purge point, applied state).
pub const CF_RAFT_STATE: &str = "raft_state";

/// Called once the WAL holding everything written before it was queued is fsynced.
type SyncWaiter = Box<dyn FnOnce(Result<(), String>) + Send>;

pub struct Engine {
    db: Arc<DB>,
    /// Which partition copies here hold which tokens.
    owners: RangeOwners,
    /// Dropped first on close, which ends the syncer thread.
    sync_queue: Option<mpsc::Sender<SyncWaiter>>,
    syncer: Option<thread::JoinHandle<()>>,
}

impl Engine {
    /// Opens (or creates) the database under `path`. A directory whose raft records
    /// are in an older format is refused: see [`Engine::open_upgrading`].
    pub fn open(path: &Path) -> Result<Engine> {
        Engine::open_with(path, None)
    }

    /// Opens (or creates) the database under `path`, rewriting raft records of an
    /// older format with `raft` (the node's encoding of them).
    pub fn open_upgrading(
        path: &Path,
        raft: &dyn crate::format::RaftRecordsUpgrade,
    ) -> Result<Engine> {
        Engine::open_with(path, Some(raft))
    }

    fn open_with(
        path: &Path,
        raft: Option<&dyn crate::format::RaftRecordsUpgrade>,
    ) -> Result<Engine> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        let mut items = Options::default();
        items.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let cfs = vec![
            rocksdb::ColumnFamilyDescriptor::new(CF_META, Options::default()),
            rocksdb::ColumnFamilyDescriptor::new(CF_ITEMS, items.clone()),
            rocksdb::ColumnFamilyDescriptor::new(CF_INDEXES, items),
            rocksdb::ColumnFamilyDescriptor::new(CF_RAFT_LOG, Options::default()),
            rocksdb::ColumnFamilyDescriptor::new(CF_RAFT_STATE, Options::default()),
            rocksdb::ColumnFamilyDescriptor::new(CF_CHANGES, Options::default()),
        ];
        let db = Arc::new(DB::open_cf_descriptors(&opts, path, cfs)?);
        crate::format::check_and_upgrade(&db, path, raft)?;
        let owners = RangeOwners::load(&db)?;
        let (tx, rx) = mpsc::channel();
        let sync_db = db.clone();
        let syncer = thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || run_syncer(sync_db, rx))
            .map_err(|e| StorageError::Sync(e.to_string()))?;
        Ok(Engine {
            db,
            owners,
            sync_queue: Some(tx),
            syncer: Some(syncer),
        })
    }

    pub fn db(&self) -> &DB {
        &self.db
    }

    /// Which partition copies on this node hold which tokens.
    pub(crate) fn owners(&self) -> &RangeOwners {
        &self.owners
    }

    pub fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::Corrupt(format!("missing column family {name}")))
    }

    /// Writes a batch without waiting for the disk; call `sync` before acknowledging.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(batch, &wo)?;
        metrics::counter!("rotor_storage_batches_total").increment(1);
        Ok(())
    }

    /// Calls `done` on the syncer thread once every write made before this call is
    /// fsynced. Callbacks run in the order they were queued.
    pub fn sync_then(&self, done: impl FnOnce(Result<()>) + Send + 'static) -> Result<()> {
        let waiter: SyncWaiter = Box::new(move |r| done(r.map_err(StorageError::Sync)));
        let queue = self
            .sync_queue
            .as_ref()
            .ok_or_else(|| StorageError::Sync("engine closed".into()))?;
        queue
            .send(waiter)
            .map_err(|_| StorageError::Sync("syncer stopped".into()))
    }

    /// Resolves once every write made before this call is fsynced.
    pub async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.sync_then(move |r| {
            let _ = tx.send(r.map_err(|e| e.to_string()));
        })?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StorageError::Sync(e)),
            Err(_) => Err(StorageError::Sync("syncer stopped".into())),
        }
    }

    /// Blocking variant of `sync` for callers outside the async runtime.
    pub fn sync_blocking(&self) -> Result<()> {
        self.db.flush_wal(true)?;
        Ok(())
    }
}

impl Drop for Engine {
    /// Stops the syncer and waits for it, so that the database is closed (its lock
    /// released) when the engine is gone.
    fn drop(&mut self) {
        self.sync_queue.take();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.join();
        }
    }
}

/// Fsyncs the WAL once per round for every waiter queued in that round.
fn run_syncer(db: Arc<DB>, rx: mpsc::Receiver<SyncWaiter>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        waiters.extend(rx.try_iter());
        let result = db.flush_wal(true).map_err(|e| e.to_string());
        metrics::counter!("rotor_storage_wal_syncs_total").increment(1);
        metrics::histogram!("rotor_storage_wal_sync_group_size").record(waiters.len() as f64);
        for w in waiters {
            w(result.clone());
        }
    }
}
