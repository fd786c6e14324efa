//! A group's state machine: a partition's items, or the cluster map.
//!
//! Entries are applied in log order. Each applied entry writes the group's applied
//! position ("applied": its log id) in the same RocksDB batch as its
//! effect, so after a crash the data and the position agree and openraft replays the
//! log from exactly there. Nothing here waits for the disk: the log is the durable copy.
//!
//! Snapshots (built, kept, received and installed) are in `snapshots.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotMeta};
use parking_lot::{Mutex, RwLock};
use rotor_model::cluster::ClusterMap;
use rotor_storage::{Engine, GroupLog, Partition, SplitOutcome, StorageError as RotorStorageError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::records::Record;
use super::{storage_error, Command, LogId, Reply, StorageError, StoredMembership, TypeConfig};
use crate::meta;

pub(super) const APPLIED: &str = "applied";
/// The last applied membership, written only when a membership entry is applied.
pub(super) const MEMBERSHIP: &str = "membership";
pub(super) const MAP: &str = "map";

/// What a group's state machine holds.
pub enum Machine {
    /// One partition of a table: its items in the partition's token range.
    Partition {
        partition: Arc<Partition>,
        /// Called once a split of this partition has been applied here (with the
        /// child's partition id), so the node opens the child's group.
        on_split: Option<Arc<dyn Fn(u32) + Send + Sync>>,
    },
    /// The cluster map, published to watchers after each change.
    Meta { map: watch::Sender<Arc<ClusterMap>> },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Applied {
    pub(super) last: Option<LogId>,
    pub(super) membership: StoredMembership,
}

pub(super) struct Inner {
    pub(super) log: GroupLog,
    pub(super) machine: Machine,
    pub(super) applied: Mutex<Applied>,
    pub(super) snapshot_dir: PathBuf,
    /// Serialises replacing the kept snapshot (its file and its meta record).
    pub(super) snapshot_files: Mutex<()>,
    /// Held (write) while a snapshot is installed, (read) while one is built: a build
    /// never reads a half-installed partition.
    pub(super) install_lock: RwLock<()>,
    /// The file the snapshot being received is written to.
    pub(super) incoming: Mutex<Option<PathBuf>>,
}

#[derive(Clone)]
pub struct StateMachine {
    pub(super) inner: Arc<Inner>,
}

impl StateMachine {
    /// Opens a group's state machine at its stored applied position; first finishes a
    /// snapshot install that a crash interrupted, and removes files a crash left.
    pub fn open(
        log: GroupLog,
        machine: Machine,
        snapshot_dir: PathBuf,
    ) -> Result<StateMachine, StorageError> {
        let sm = StateMachine {
            inner: Arc::new(Inner {
                log,
                machine,
                applied: Mutex::new(Applied::default()),
                snapshot_dir,
                snapshot_files: Mutex::new(()),
                install_lock: RwLock::new(()),
                incoming: Mutex::new(None),
            }),
        };
        sm.remove_leftover_files();
        sm.resume_install()?;
        sm.replace_unreadable_kept_snapshot()?;
        let log = &sm.inner.log;
        let applied = decode_applied(
            log.records_consistent(&[APPLIED, MEMBERSHIP])
                .map_err(|e| storage_error(true, e))?,
        )?;
        *sm.inner.applied.lock() = applied;
        if let Machine::Meta { map } = &sm.inner.machine {
            if let Some(bytes) = log.record(MAP).map_err(|e| storage_error(true, e))? {
                let stored = ClusterMap::from_bytes(&bytes)?;
                map.send_replace(Arc::new(stored));
            }
        }
        Ok(sm)
    }

    pub(super) fn applied_record(
        &self,
        last: Option<LogId>,
    ) -> Result<rotor_storage::StateRecord, StorageError> {
        Ok(self.inner.log.state_record(APPLIED, last.to_bytes()))
    }

    pub(super) fn membership_record(
        &self,
        membership: &StoredMembership,
    ) -> Result<rotor_storage::StateRecord, StorageError> {
        Ok(self
            .inner
            .log
            .state_record(MEMBERSHIP, membership.to_bytes()))
    }

    pub(super) fn write_records(
        &self,
        records: &[rotor_storage::StateRecord],
    ) -> Result<(), StorageError> {
        self.inner
            .log
            .put_records(records)
            .map_err(|e| storage_error(false, e))
    }

    /// Applies one command at `log_id`, recording that position in the same batch.
    fn apply_command(&self, command: Command, log_id: LogId) -> Result<Reply, StorageError> {
        let record = self.applied_record(Some(log_id))?;
        if let Machine::Partition { partition, .. } = &self.inner.machine {
            if !partition.is_seeded() {
                // A split's half that holds none of its items: its log does not start
                // from nothing, so applying it would make a wrong copy. Only a snapshot
                // may bring it up (its leader purges the log before adding replicas).
                return Err(storage_error(
                    false,
                    std::io::Error::other(format!(
                        "partition {} holds no copy of its items to apply log entry {} to; it needs a snapshot",
                        partition.index(),
                        log_id.index
                    )),
                ));
            }
        }
        match (&self.inner.machine, command) {
            (Machine::Partition { partition, .. }, Command::Write(req)) => {
                let engine = self.inner.log.engine();
                match partition.apply_at(
                    engine,
                    &req,
                    std::slice::from_ref(&record),
                    Some(log_id.index),
                ) {
                    Ok(outcome) => Ok(Reply::Write(Ok(outcome))),
                    Err(RotorStorageError::Model(m)) => {
                        self.write_records(&[record])?;
                        Ok(Reply::Write(Err(m.to_string())))
                    }
                    Err(RotorStorageError::OutsideRange { .. }) => {
                        self.write_records(&[record])?;
                        Ok(Reply::NotOwned)
                    }
                    Err(e) => Err(storage_error(false, e)),
                }
            }
            (
                Machine::Partition {
                    partition,
                    on_split,
                },
                Command::Split { at, child },
            ) => {
                let engine = self.inner.log.engine();
                let child_group =
                    rotor_model::cluster::partition_group(partition.table_id(), child);
                let parent_membership = self.inner.applied.lock().membership.clone();
                let mut child_state =
                    super::split_half::first_state(engine, child_group, &parent_membership);
                // An index partition's half has every source the parent had; a base
                // partition's half feeds the same indexes.
                let child_log = rotor_storage::GroupLog::new(engine.clone(), child_group);
                let sources = crate::index::sources::INDEX_SOURCES;
                if let Some(bytes) = self
                    .inner
                    .log
                    .record(sources)
                    .map_err(|e| storage_error(false, e))?
                {
                    child_state.push(child_log.state_record(sources, bytes));
                }
                let tracked = crate::index::tracked::read(&self.inner.log, None, 0)
                    .map_err(|e| storage_error(false, e))?;
                if !tracked.0.is_empty() {
                    child_state.push(child_log.state_record(
                        crate::index::tracked::TRACKED_INDEXES,
                        tracked.for_split_half().encode(),
                    ));
                }
                let outcome = partition
                    .split(
                        engine,
                        (at, child),
                        Some(log_id.index),
                        std::slice::from_ref(&record),
                        &child_state,
                    )
                    .map_err(|e| storage_error(false, e))?;
                if let SplitOutcome::Split { child: stats } = outcome {
                    tracing::info!(
                        group = format_args!("{:x}", self.inner.log.group()),
                        at,
                        child,
                        child_items = stats.item_count,
                        child_bytes = stats.size_bytes,
                        "partition split applied"
                    );
                    metrics::counter!("rotor_partition_splits_applied_total").increment(1);
                }
                if let SplitOutcome::Split { .. } = outcome {
                    spawn_stats_recount(partition.clone(), engine.clone());
                }
                if let Some(notify) = on_split {
                    notify(child);
                }
                Ok(Reply::Split)
            }
            (Machine::Partition { partition, .. }, Command::IndexWrite(write)) => {
                crate::index::apply::index_write(&self.inner.log, partition, &write, record)
                    .map_err(|e| storage_error(false, e))
            }
            (
                Machine::Partition { partition, .. },
                Command::ChangeProgress {
                    position,
                    backfilled,
                },
            ) => crate::index::apply::change_progress(
                &self.inner.log,
                partition,
                (position, &backfilled),
                record,
            )
            .map_err(|e| storage_error(false, e)),
            (Machine::Partition { partition, .. }, Command::TrackIndexes(indexes)) => {
                crate::index::tracked::apply_track(
                    &self.inner.log,
                    partition,
                    indexes,
                    log_id.index,
                    record,
                )
                .map_err(|e| storage_error(false, e))
            }
            (Machine::Meta { map }, Command::Meta(cmd)) => {
                let mut next = (**map.borrow()).clone();
                let outcome = meta::apply(&mut next, *cmd);
                self.write_records(&[record, self.inner.log.state_record(MAP, next.to_bytes())])?;
                map.send_replace(Arc::new(next));
                Ok(Reply::Meta(Box::new(outcome)))
            }
            _ => {
                self.write_records(&[record])?;
                Ok(Reply::WrongGroup)
            }
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.inner.applied.lock().clone();
        Ok((applied.last, applied.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut replies = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let reply = match entry.payload {
                EntryPayload::Blank => {
                    self.write_records(&[self.applied_record(Some(log_id))?])?;
                    Reply::Internal
                }
                EntryPayload::Membership(m) => {
                    let membership = StoredMembership::new(Some(log_id), m);
                    self.write_records(&[
                        self.applied_record(Some(log_id))?,
                        self.membership_record(&membership)?,
                    ])?;
                    self.inner.applied.lock().membership = membership;
                    Reply::Internal
                }
                EntryPayload::Normal(command) => self.apply_command(command, log_id)?,
            };
            self.inner.applied.lock().last = Some(log_id);
            replies.push(reply);
        }
        metrics::counter!("rotor_raft_entries_applied_total").increment(replies.len() as u64);
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        self.begin_receiving().await
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let file = snapshot.into_std().await;
        let this = self.clone();
        let meta = meta.clone();
        let installed = meta.last_log_id;
        tokio::task::spawn_blocking(move || this.install_blocking(&meta, file))
            .await
            .map_err(|e| storage_error(false, std::io::Error::other(e.to_string())))??;
        tracing::info!(group = self.inner.log.group(), last = ?installed, "snapshot installed");
        metrics::counter!("rotor_raft_snapshots_installed_total").increment(1);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        self.current_snapshot().await
    }
}

/// Replaces a partition's estimated statistics (a split's) by a count of its items, on
/// a blocking thread: never on the apply path.
pub fn spawn_stats_recount(partition: Arc<Partition>, engine: Arc<Engine>) {
    tokio::task::spawn_blocking(move || {
        // A split meanwhile makes the count moot; the next one is recounted after it.
        for _ in 0..3 {
            match partition.recount_stats(&engine) {
                Ok(Some(stats)) => {
                    tracing::debug!(
                        partition = partition.index(),
                        items = stats.item_count,
                        bytes = stats.size_bytes,
                        "statistics recounted"
                    );
                    return;
                }
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(
                        partition = partition.index(),
                        "statistics recount failed (they stay estimated): {e}"
                    );
                    return;
                }
            }
        }
    });
}

/// The applied position from its two records (`APPLIED`, `MEMBERSHIP`, in that order).
pub(super) fn decode_applied(records: Vec<Option<Vec<u8>>>) -> Result<Applied, StorageError> {
    let mut records = records.into_iter();
    let last = match records.next().flatten() {
        Some(bytes) => Option::<LogId>::from_bytes(&bytes)?,
        None => None,
    };
    let membership = match records.next().flatten() {
        Some(bytes) => StoredMembership::from_bytes(&bytes)?,
        None => StoredMembership::default(),
    };
    Ok(Applied { last, membership })
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let this = self.clone();
        let (meta, file) = tokio::task::spawn_blocking(move || this.build_blocking())
            .await
            .map_err(|e| storage_error(true, std::io::Error::other(e.to_string())))??;
        tracing::debug!(group = self.inner.log.group(), last = ?meta.last_log_id, "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        })
    }
}
