//! A group's state machine: a partition's items, or the cluster map.
//!
//! Entries are applied in log order. Each applied entry writes the group's applied
//! position ("applied": its log id) in the same RocksDB batch as its
//! effect, so after a crash the data and the position agree and openraft replays the
//! log from exactly there. Nothing here waits for the disk: the log is the durable copy.
//!
//! Snapshots: a partition's is an SST file of its key range as of one RocksDB snapshot
//! (with its statistics), installed on the receiver by SST ingestion; the map's is the
//! map itself. The last built snapshot is kept in `<snapshot dir>/<group>.snap`.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotMeta};
use parking_lot::Mutex;
use rotor_model::cluster::ClusterMap;
use rotor_model::table::{TableStats, TokenRange};
use rotor_storage::{GroupLog, Partition, SplitOutcome, StorageError as RotorStorageError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::log_store::{decode, encode};
use super::{storage_error, Command, LogId, Reply, StorageError, StoredMembership, TypeConfig};
use crate::meta;

const APPLIED: &str = "applied";
/// The last applied membership, written only when a membership entry is applied.
const MEMBERSHIP: &str = "membership";
const MAP: &str = "map";
const SNAPSHOT_META: &str = "snapshot_meta";

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
struct Applied {
    last: Option<LogId>,
    membership: StoredMembership,
}

/// The bytes of a snapshot.
#[derive(Debug, Serialize, Deserialize)]
enum SnapshotBody {
    Partition {
        /// The partition's tokens as of the snapshot.
        range: TokenRange,
        stats: TableStats,
        /// An SST file of the partition's items (absent when it has none).
        sst: Option<Vec<u8>>,
    },
    Meta {
        map: ClusterMap,
    },
}

struct Inner {
    log: GroupLog,
    machine: Machine,
    applied: Mutex<Applied>,
    snapshot_dir: PathBuf,
}

#[derive(Clone)]
pub struct StateMachine {
    inner: Arc<Inner>,
}

impl StateMachine {
    /// Opens a group's state machine at its stored applied position.
    pub fn open(
        log: GroupLog,
        machine: Machine,
        snapshot_dir: PathBuf,
    ) -> Result<StateMachine, StorageError> {
        let applied = decode_applied(
            log.records_consistent(&[APPLIED, MEMBERSHIP])
                .map_err(|e| storage_error(true, e))?,
        )?;
        if let Machine::Meta { map } = &machine {
            if let Some(bytes) = log.record(MAP).map_err(|e| storage_error(true, e))? {
                let stored: ClusterMap = decode(&bytes)?;
                map.send_replace(Arc::new(stored));
            }
        }
        Ok(StateMachine {
            inner: Arc::new(Inner {
                log,
                machine,
                applied: Mutex::new(applied),
                snapshot_dir,
            }),
        })
    }

    fn snapshot_path(&self) -> PathBuf {
        self.inner
            .snapshot_dir
            .join(format!("{:016x}.snap", self.inner.log.group()))
    }

    fn applied_record(
        &self,
        last: Option<LogId>,
    ) -> Result<rotor_storage::StateRecord, StorageError> {
        Ok(self.inner.log.state_record(APPLIED, encode(&last)?))
    }

    fn membership_record(
        &self,
        membership: &StoredMembership,
    ) -> Result<rotor_storage::StateRecord, StorageError> {
        Ok(self.inner.log.state_record(MEMBERSHIP, encode(membership)?))
    }

    fn write_records(&self, records: &[rotor_storage::StateRecord]) -> Result<(), StorageError> {
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
                match partition.apply_logged(engine, &req, std::slice::from_ref(&record)) {
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
                let outcome = partition
                    .split(engine, at, child, std::slice::from_ref(&record))
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
                if let Some(notify) = on_split {
                    notify(child);
                }
                Ok(Reply::Split)
            }
            (Machine::Meta { map }, Command::Meta(cmd)) => {
                let mut next = (**map.borrow()).clone();
                let outcome = meta::apply(&mut next, *cmd);
                self.write_records(&[record, self.inner.log.state_record(MAP, encode(&next)?)])?;
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

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let body: SnapshotBody = decode(&bytes)?;
        let applied = Applied {
            last: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        let records = vec![
            self.applied_record(applied.last)?,
            self.membership_record(&applied.membership)?,
        ];
        let this = self.clone();
        let meta_bytes = encode(meta)?;
        tokio::task::spawn_blocking(move || {
            this.install_blocking(body, records, &bytes, meta_bytes)
        })
        .await
        .map_err(|e| storage_error(false, std::io::Error::other(e.to_string())))??;
        *self.inner.applied.lock() = applied;
        tracing::info!(group = self.inner.log.group(), last = ?meta.last_log_id, "snapshot installed");
        metrics::counter!("rotor_raft_snapshots_installed_total").increment(1);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(meta_bytes) = self
            .inner
            .log
            .record(SNAPSHOT_META)
            .map_err(|e| storage_error(true, e))?
        else {
            return Ok(None);
        };
        let meta: SnapshotMeta<u64, openraft::BasicNode> = decode(&meta_bytes)?;
        let data = match std::fs::read(self.snapshot_path()) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(storage_error(true, e)),
        };
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

impl StateMachine {
    fn install_blocking(
        &self,
        body: SnapshotBody,
        mut records: Vec<rotor_storage::StateRecord>,
        bytes: &[u8],
        meta_bytes: Vec<u8>,
    ) -> Result<(), StorageError> {
        match (&self.inner.machine, body) {
            (
                Machine::Partition { partition, .. },
                SnapshotBody::Partition { range, stats, sst },
            ) => {
                let engine = self.inner.log.engine();
                let sst_path = match sst {
                    Some(sst) => {
                        let path = self.temp_path("in.sst");
                        std::fs::write(&path, sst).map_err(|e| storage_error(false, e))?;
                        Some(path)
                    }
                    None => None,
                };
                partition
                    .import(engine, range, sst_path.as_deref(), stats, &records)
                    .map_err(|e| storage_error(false, e))?;
            }
            (Machine::Meta { map }, SnapshotBody::Meta { map: new_map }) => {
                records.push(self.inner.log.state_record(MAP, encode(&new_map)?));
                self.write_records(&records)?;
                self.inner
                    .log
                    .engine()
                    .sync_blocking()
                    .map_err(|e| storage_error(false, e))?;
                map.send_replace(Arc::new(new_map));
            }
            _ => {
                return Err(storage_error(
                    true,
                    std::io::Error::other("snapshot of another kind of group"),
                ))
            }
        }
        self.keep_snapshot(bytes, meta_bytes)
    }

    fn temp_path(&self, suffix: &str) -> PathBuf {
        self.inner.snapshot_dir.join(format!(
            "{:016x}.{}.{suffix}",
            self.inner.log.group(),
            std::process::id()
        ))
    }

    /// Stores `bytes` as the group's current snapshot (file first, then its meta).
    fn keep_snapshot(&self, bytes: &[u8], meta_bytes: Vec<u8>) -> Result<(), StorageError> {
        let tmp = self.temp_path("snap.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| storage_error(false, e))?;
        std::fs::rename(&tmp, self.snapshot_path()).map_err(|e| storage_error(false, e))?;
        self.inner
            .log
            .put_record(SNAPSHOT_META, meta_bytes)
            .map_err(|e| storage_error(false, e))
    }

    fn build_blocking(&self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let position_keys = [
            self.inner.log.record_key(APPLIED),
            self.inner.log.record_key(MEMBERSHIP),
        ];
        let (body, applied) = match &self.inner.machine {
            Machine::Partition { partition, .. } => {
                let engine = self.inner.log.engine();
                let sst_path = self.temp_path("out.sst");
                let export = partition
                    .export(engine, &sst_path, &position_keys)
                    .map_err(|e| storage_error(true, e))?;
                let applied = decode_applied(export.records)?;
                let sst = if export.has_items {
                    let data = std::fs::read(&sst_path).map_err(|e| storage_error(true, e))?;
                    let _ = std::fs::remove_file(&sst_path);
                    Some(data)
                } else {
                    None
                };
                (
                    SnapshotBody::Partition {
                        range: export.range,
                        stats: export.stats,
                        sst,
                    },
                    applied,
                )
            }
            Machine::Meta { .. } => {
                // The map and the applied position are written in one batch: read
                // them as of one point.
                let records = self
                    .inner
                    .log
                    .records_consistent(&[APPLIED, MEMBERSHIP, MAP])
                    .map_err(|e| storage_error(true, e))?;
                let map: ClusterMap = match records.get(2).cloned().flatten() {
                    Some(bytes) => decode(&bytes)?,
                    None => ClusterMap::default(),
                };
                (SnapshotBody::Meta { map }, decode_applied(records)?)
            }
        };
        let bytes = encode(&body)?;
        let snapshot_id = match applied.last {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, bytes.len()),
            None => format!("empty-{}", bytes.len()),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last,
            last_membership: applied.membership,
            snapshot_id,
        };
        self.keep_snapshot(&bytes, encode(&meta)?)?;
        metrics::counter!("rotor_raft_snapshots_built_total").increment(1);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

/// The applied position from its two records (`APPLIED`, `MEMBERSHIP`, in that order).
fn decode_applied(records: Vec<Option<Vec<u8>>>) -> Result<Applied, StorageError> {
    let mut records = records.into_iter();
    let last = match records.next().flatten() {
        Some(bytes) => decode(&bytes)?,
        None => None,
    };
    let membership = match records.next().flatten() {
        Some(bytes) => decode(&bytes)?,
        None => StoredMembership::default(),
    };
    Ok(Applied { last, membership })
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let this = self.clone();
        let snapshot = tokio::task::spawn_blocking(move || this.build_blocking())
            .await
            .map_err(|e| storage_error(true, std::io::Error::other(e.to_string())))??;
        tracing::debug!(group = self.inner.log.group(), last = ?snapshot.meta.last_log_id, "snapshot built");
        Ok(snapshot)
    }
}
