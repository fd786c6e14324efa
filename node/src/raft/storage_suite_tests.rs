//! openraft's own storage suite (`openraft::testing::Suite`) run against Rotor's log store
//! and partition state machine on a real RocksDB: appends, reads, truncation, purges,
//! votes, committed positions, applied state, membership and snapshots as openraft
//! expects them.

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use rotor_model::table::TokenRange;
use rotor_storage::{Engine, GroupLog, Partition};

use super::log_store::LogStore;
use super::state_machine::{Machine, StateMachine};
use super::{StorageError, TypeConfig};

struct OnRocksDb;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for OnRocksDb {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| super::storage_error(false, e))?;
        let engine = Arc::new(
            Engine::open(&dir.path().join("db")).map_err(|e| super::storage_error(false, e))?,
        );
        let group = 1u64 << 32;
        let partition = Arc::new(
            Partition::open(&engine, 1, 0, TokenRange::ALL, false)
                .map_err(|e| super::storage_error(false, e))?,
        );
        let snapshots = dir.path().join("snapshots");
        std::fs::create_dir_all(&snapshots).map_err(|e| super::storage_error(false, e))?;
        let log = GroupLog::new(engine, group);
        let sm = StateMachine::open(
            log.clone(),
            Machine::Partition {
                partition,
                on_split: None,
            },
            snapshots,
        )?;
        Ok((dir, LogStore::new(log), sm))
    }
}

#[test]
fn openraft_storage_suite_passes_on_rocksdb() {
    Suite::test_all(OnRocksDb).expect("openraft's storage suite");
}
