//! A group's raft log, vote and committed position, over `rotor_storage::GroupLog`.
//!
//! Entries and records are rotor.v1 protobuf messages (see `records`). An append is written without waiting
//! and reported flushed by the engine's group-commit syncer, so one fsync covers the
//! appends of every group on the node that arrived meanwhile; nothing is acknowledged
//! (to a leader, or by a leader to a client) before its fsync.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogState, RaftLogReader, Vote};
use rotor_storage::GroupLog;

use super::records::Record;
use super::{storage_error, LogId, NodeId, StorageError, TypeConfig};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
pub(super) const PURGED: &str = "purged";

#[derive(Clone)]
pub struct LogStore {
    log: GroupLog,
}

impl LogStore {
    pub fn new(log: GroupLog) -> LogStore {
        LogStore { log }
    }

    fn read_record<T: Record>(&self, name: &str) -> Result<Option<T>, StorageError> {
        match self.log.record(name).map_err(|e| storage_error(true, e))? {
            Some(bytes) => Ok(Some(T::from_bytes(&bytes)?)),
            None => Ok(None),
        }
    }

    fn write_record<T: Record>(&self, name: &str, value: &T) -> Result<(), StorageError> {
        self.log
            .put_record(name, value.to_bytes())
            .map_err(|e| storage_error(false, e))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let from = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let to = match range.end_bound() {
            Bound::Included(&i) => i.saturating_add(1),
            Bound::Excluded(&i) => i,
            Bound::Unbounded => u64::MAX,
        };
        let rows = self
            .log
            .entries(from, to)
            .map_err(|e| storage_error(true, e))?;
        rows.iter()
            .map(|(_, bytes)| Entry::from_bytes(bytes))
            .collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.read_record(PURGED)?;
        let last = match self.log.last_entry().map_err(|e| storage_error(true, e))? {
            Some((_, bytes)) => {
                let entry = Entry::<TypeConfig>::from_bytes(&bytes)?;
                Some(entry.log_id)
            }
            None => last_purged,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    /// The vote is fsynced before this returns: a node must never vote twice in a term.
    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.write_record(VOTE, vote)?;
        self.log
            .engine()
            .sync()
            .await
            .map_err(|e| storage_error(false, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.read_record(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.write_record(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.read_record::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut rows = Vec::new();
        for entry in entries {
            rows.push((entry.log_id.index, entry.to_bytes()));
        }
        let n = rows.len();
        self.log.append(rows).map_err(|e| storage_error(false, e))?;
        metrics::counter!("rotor_raft_entries_appended_total").increment(n as u64);
        self.log
            .engine()
            .sync_then(move |result| {
                callback.log_io_completed(result.map_err(std::io::Error::other));
            })
            .map_err(|e| storage_error(false, e))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.log
            .truncate_from(log_id.index)
            .map_err(|e| storage_error(false, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.write_record(PURGED, &log_id)?;
        self.log
            .purge_through(log_id.index)
            .map_err(|e| storage_error(false, e))
    }
}
