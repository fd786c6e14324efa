//! A group's snapshots: built into a file from one consistent point, kept on disk as the
//! group's current snapshot, sent in chunks of that file (openraft reads it a chunk at a
//! time), received into a file, and installed from it. Memory stays bounded by a frame
//! whatever the partition's size (see `snapshot_file`).
//!
//! Installing is made atomic by redo: the received file becomes the kept snapshot and an
//! `installing` record names it (both durable) before the partition changes; the install
//! writes the applied position and removes the record in its last batch. A node that
//! crashes in between installs the kept snapshot again when the group reopens, so no
//! entry is ever applied on top of a half-installed snapshot.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::Snapshot;
use rotor_model::cluster::ClusterMap;
use rotor_proto::v1::{
    snapshot_header, MetaSnapshotHeader, PartitionSnapshotHeader, SnapshotHeader,
};
use rotor_storage::{ExportSink, PartitionExport, StorageError as RotorStorageError};

use super::records::Record;

/// A partition group's records that a snapshot carries with its state: an index
/// partition's sources, a base partition's delivered position and tracked indexes.
const CARRIED_RECORDS: [&str; 3] = [
    crate::index::sources::INDEX_SOURCES,
    crate::index::apply::CHANGE_PROGRESS,
    crate::index::tracked::TRACKED_INDEXES,
];
use super::snapshot_file::{range_of, span_of, SnapshotReader, SnapshotWriter, FORMAT_VERSION};
use super::state_machine::{
    decode_applied, Applied, Machine, StateMachine, APPLIED, MAP, MEMBERSHIP,
};
use super::{storage_error, StorageError, TypeConfig};

/// The current snapshot's openraft meta.
const SNAPSHOT_META: &str = "snapshot_meta";
/// Present from the moment a received snapshot is kept until it is installed: its meta.
const INSTALLING: &str = "installing";
/// Item values as rotor-storage encodes them today.
const ITEM_FORMAT: u32 = 1;
/// A meta snapshot's map: 2, a rotor.v1.ClusterMap; 1 (still read), bincode.
const MAP_FORMAT: u32 = 2;
const LEGACY_MAP_FORMAT: u32 = 1;

use super::wire::Meta;

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl StateMachine {
    fn group_prefix(&self) -> String {
        format!("{:016x}.", self.inner.log.group())
    }

    pub(super) fn snapshot_path(&self) -> PathBuf {
        self.inner
            .snapshot_dir
            .join(format!("{}snap", self.group_prefix()))
    }

    /// A scratch file of this group, unique to this call.
    fn scratch_path(&self, suffix: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.snapshot_dir.join(format!(
            "{}{}-{n}.{suffix}",
            self.group_prefix(),
            std::process::id()
        ))
    }

    /// Removes this group's scratch files (half-received or half-built snapshots, SST
    /// files not ingested) that a crash left behind.
    pub(super) fn remove_leftover_files(&self) {
        let prefix = self.group_prefix();
        let keep = self.snapshot_path();
        let Ok(entries) = std::fs::read_dir(&self.inner.snapshot_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let ours = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix));
            if ours && path != keep {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Finishes a snapshot install that a crash interrupted (see the module comment).
    pub(super) fn resume_install(&self) -> Result<(), StorageError> {
        let Some(bytes) = self
            .inner
            .log
            .record(INSTALLING)
            .map_err(|e| storage_error(true, e))?
        else {
            return Ok(());
        };
        let meta = Meta::from_bytes(&bytes)?;
        tracing::warn!(group = self.inner.log.group(), last = ?meta.last_log_id, "a snapshot install was interrupted; installing it again");
        self.install_kept(&meta)
    }

    /// Replaces a kept snapshot this build cannot read (one written by a release before
    /// snapshot files were `rotor.v1.SnapshotFrame`s, or with a damaged header) by a new
    /// one of the applied state, so a peer that needs it receives one it can install.
    pub(super) fn replace_unreadable_kept_snapshot(&self) -> Result<(), StorageError> {
        let log = &self.inner.log;
        if log
            .record(SNAPSHOT_META)
            .map_err(|e| storage_error(true, e))?
            .is_none()
        {
            return Ok(());
        }
        let path = self.snapshot_path();
        // The header only: reading every item at each start would cost as much as the
        // partition (a damaged body is found, and refused, when it is installed).
        match SnapshotReader::open(&path) {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(
                    group = log.group(),
                    "the kept snapshot cannot be read ({e}); building a new one"
                );
                self.build_blocking().map(|_| ())
            }
        }
    }

    pub(super) async fn begin_receiving(&self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.scratch_path("incoming");
        let previous = self.inner.incoming.lock().replace(path.clone());
        if let Some(previous) = previous {
            // An earlier transfer was abandoned for this one.
            let _ = tokio::fs::remove_file(previous).await;
        }
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| storage_error(false, e))?;
        Ok(Box::new(file))
    }

    /// Installs a received snapshot: `file` is normally what `begin_receiving` gave
    /// openraft; any other snapshot file (a whole one handed to openraft) is copied into
    /// a file of this group first.
    pub(super) fn install_blocking(&self, meta: &Meta, mut file: File) -> Result<(), StorageError> {
        let same =
            |a: &std::fs::Metadata, b: &std::fs::Metadata| a.dev() == b.dev() && a.ino() == b.ino();
        let received = file.metadata().map_err(|e| storage_error(false, e))?;
        let incoming = match self.inner.incoming.lock().take() {
            Some(path) if std::fs::metadata(&path).is_ok_and(|m| same(&received, &m)) => path,
            abandoned => {
                if let Some(path) = abandoned {
                    let _ = std::fs::remove_file(path);
                }
                let path = self.scratch_path("incoming");
                let mut copy = File::create(&path).map_err(|e| storage_error(false, e))?;
                std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))
                    .and_then(|_| std::io::copy(&mut file, &mut copy))
                    .map_err(|e| storage_error(false, e))?;
                file = copy;
                path
            }
        };
        file.sync_all().map_err(|e| storage_error(false, e))?;
        drop(file);
        // Refuse a file this node cannot install before anything changes.
        let (header, _) = SnapshotReader::open(&incoming).map_err(|e| storage_error(false, e))?;
        self.check_kind(&header)?;
        {
            let _files = self.inner.snapshot_files.lock();
            std::fs::rename(&incoming, self.snapshot_path())
                .map_err(|e| storage_error(false, e))?;
            sync_dir(&self.inner.snapshot_dir)?;
            let meta_bytes = meta.to_bytes();
            let log = &self.inner.log;
            log.put_records(&[
                log.state_record(SNAPSHOT_META, meta_bytes.clone()),
                log.state_record(INSTALLING, meta_bytes),
            ])
            .map_err(|e| storage_error(false, e))?;
            log.engine()
                .sync_blocking()
                .map_err(|e| storage_error(false, e))?;
        }
        self.install_kept(meta)
    }

    fn check_kind(&self, header: &SnapshotHeader) -> Result<(), StorageError> {
        let fits = match (&self.inner.machine, &header.body) {
            (Machine::Partition { partition, .. }, Some(snapshot_header::Body::Partition(h))) => {
                h.partition == partition.index() && h.table_id == partition.table_id()
            }
            (Machine::Meta { .. }, Some(snapshot_header::Body::Meta(_))) => true,
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(storage_error(true, io_error("a snapshot of another group")))
        }
    }

    /// Makes the kept snapshot the group's state: idempotent, redone after a crash.
    fn install_kept(&self, meta: &Meta) -> Result<(), StorageError> {
        let _installing = self.inner.install_lock.write();
        let path = self.snapshot_path();
        let (header, mut items) =
            SnapshotReader::open(&path).map_err(|e| storage_error(true, e))?;
        self.check_kind(&header)?;
        let log = &self.inner.log;
        let mut records = vec![
            self.applied_record(meta.last_log_id)?,
            self.membership_record(&meta.last_membership)?,
            log.removal_record(INSTALLING),
        ];
        match (&self.inner.machine, header.body) {
            (Machine::Partition { partition, .. }, Some(snapshot_header::Body::Partition(h))) => {
                if h.item_format != ITEM_FORMAT {
                    return Err(storage_error(
                        true,
                        io_error(format!(
                            "items in format {} (this build reads {ITEM_FORMAT})",
                            h.item_format
                        )),
                    ));
                }
                let range = range_of(&h.range.unwrap_or_default());
                // The group's carried records come with the state (or go, when the
                // sender had none), and so does the change log.
                for name in CARRIED_RECORDS {
                    records.push(match h.group_records.get(name) {
                        Some(value) => log.state_record(name, value.clone()),
                        None => log.removal_record(name),
                    });
                }
                let changes = items.take_changes().map_err(|e| storage_error(true, e))?;
                rotor_storage::changelog::replace_changes(
                    log.engine(),
                    (partition.table_id(), partition.index()),
                    &changes,
                )
                .map_err(|e| storage_error(false, e))?;
                let sst = self.scratch_path("sst");
                let mut stream = items
                    .by_ref()
                    .map(|r| r.map_err(|e| RotorStorageError::Transfer(e.to_string())));
                let summary = partition
                    .import(log.engine(), range, &mut stream, &sst, &records)
                    .map_err(|e| storage_error(false, e));
                let _ = std::fs::remove_file(&sst);
                let summary = summary?;
                crate::index::tracked::reload(log, partition)
                    .map_err(|e| storage_error(false, e))?;
                tracing::debug!(
                    group = log.group(),
                    items = summary.stats.item_count,
                    skipped = summary.skipped,
                    "partition snapshot imported"
                );
            }
            (Machine::Meta { map }, Some(snapshot_header::Body::Meta(h))) => {
                let new_map = match h.map_format {
                    MAP_FORMAT => ClusterMap::from_bytes(&h.map)?,
                    LEGACY_MAP_FORMAT => super::legacy::cluster_map(&h.map)
                        .map_err(|e| storage_error(true, io_error(e)))?,
                    other => {
                        return Err(storage_error(
                            true,
                            io_error(format!(
                                "a map in format {other} (this build reads {LEGACY_MAP_FORMAT} and {MAP_FORMAT})"
                            )),
                        ))
                    }
                };
                records.push(log.state_record(MAP, new_map.to_bytes()));
                self.write_records(&records)?;
                log.engine()
                    .sync_blocking()
                    .map_err(|e| storage_error(false, e))?;
                map.send_replace(Arc::new(new_map));
            }
            _ => return Err(storage_error(true, io_error("a snapshot of another group"))),
        }
        *self.inner.applied.lock() = Applied {
            last: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        Ok(())
    }

    pub(super) async fn current_snapshot(
        &self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(meta_bytes) = self
            .inner
            .log
            .record(SNAPSHOT_META)
            .map_err(|e| storage_error(true, e))?
        else {
            return Ok(None);
        };
        let meta = Meta::from_bytes(&meta_bytes)?;
        match tokio::fs::File::open(self.snapshot_path()).await {
            Ok(file) => Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(file),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(storage_error(true, e)),
        }
    }

    /// Writes a snapshot of everything applied into a file, keeps it as the group's
    /// current snapshot, and returns its meta and the open file.
    pub(super) fn build_blocking(&self) -> Result<(Meta, File), StorageError> {
        let _not_installing = self.inner.install_lock.read();
        let tmp = self.scratch_path("building");
        let result = self.write_snapshot(&tmp);
        let (applied, items) = match result {
            Ok(done) => done,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let file = File::open(&tmp).map_err(|e| storage_error(true, e))?;
        let size = file.metadata().map_err(|e| storage_error(true, e))?.len();
        let snapshot_id = match applied.last {
            Some(l) => format!("{}-{}-{items}-{size}", l.leader_id.term, l.index),
            None => format!("empty-{items}-{size}"),
        };
        let meta = Meta {
            last_log_id: applied.last,
            last_membership: applied.membership,
            snapshot_id,
        };
        self.keep_built(&tmp, &meta)?;
        metrics::counter!("rotor_raft_snapshots_built_total").increment(1);
        Ok((meta, file))
    }

    /// Writes the snapshot file at `path`; returns the applied position it is of and
    /// its item count.
    fn write_snapshot(&self, path: &Path) -> Result<(Applied, u64), StorageError> {
        let log = &self.inner.log;
        match &self.inner.machine {
            Machine::Partition { partition, .. } => {
                // The applied position's two records, then every carried one.
                let position_keys: Vec<Vec<u8>> = [APPLIED, MEMBERSHIP]
                    .into_iter()
                    .chain(CARRIED_RECORDS)
                    .map(|name| log.record_key(name))
                    .collect();
                let mut sink = FileSink {
                    path,
                    table_id: partition.table_id(),
                    partition: partition.index(),
                    writer: None,
                    records: Vec::new(),
                };
                partition
                    .export(log.engine(), &position_keys, &mut sink)
                    .map_err(|e| storage_error(true, e))?;
                let writer = sink
                    .writer
                    .ok_or_else(|| storage_error(true, io_error("the export never began")))?;
                let items = writer.finish().map_err(|e| storage_error(false, e))?;
                Ok((decode_applied(sink.records)?, items))
            }
            Machine::Meta { .. } => {
                // The map and the applied position are written in one batch: read
                // them as of one point.
                let records = log
                    .records_consistent(&[APPLIED, MEMBERSHIP, MAP])
                    .map_err(|e| storage_error(true, e))?;
                let map = records
                    .get(2)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| ClusterMap::default().to_bytes());
                let header = SnapshotHeader {
                    format_version: FORMAT_VERSION,
                    body: Some(snapshot_header::Body::Meta(MetaSnapshotHeader {
                        map,
                        map_format: MAP_FORMAT,
                    })),
                };
                let items = SnapshotWriter::create(path, header)
                    .and_then(|w| w.finish())
                    .map_err(|e| storage_error(false, e))?;
                Ok((decode_applied(records)?, items))
            }
        }
    }

    /// Makes a built snapshot file the kept one, unless a newer one is kept already.
    fn keep_built(&self, tmp: &Path, meta: &Meta) -> Result<(), StorageError> {
        let _files = self.inner.snapshot_files.lock();
        let log = &self.inner.log;
        let current: Option<Meta> = match log
            .record(SNAPSHOT_META)
            .map_err(|e| storage_error(true, e))?
        {
            Some(bytes) => Some(Meta::from_bytes(&bytes)?),
            None => None,
        };
        if current.is_some_and(|c| c.last_log_id > meta.last_log_id) {
            // An installed snapshot is newer: the built one is only handed out.
            let _ = std::fs::remove_file(tmp);
            return Ok(());
        }
        std::fs::rename(tmp, self.snapshot_path()).map_err(|e| storage_error(false, e))?;
        sync_dir(&self.inner.snapshot_dir)?;
        log.put_record(SNAPSHOT_META, meta.to_bytes())
            .map_err(|e| storage_error(false, e))?;
        log.engine()
            .sync_blocking()
            .map_err(|e| storage_error(false, e))
    }
}

/// A partition export written into a snapshot file.
struct FileSink<'a> {
    path: &'a Path,
    table_id: u32,
    partition: u32,
    writer: Option<SnapshotWriter>,
    /// The applied position's records, as of the export.
    records: Vec<Option<Vec<u8>>>,
}

impl ExportSink for FileSink<'_> {
    fn begin(&mut self, export: &PartitionExport) -> rotor_storage::error::Result<()> {
        let header = SnapshotHeader {
            format_version: FORMAT_VERSION,
            body: Some(snapshot_header::Body::Partition(PartitionSnapshotHeader {
                table_id: self.table_id,
                partition: self.partition,
                range: Some(span_of(export.range)),
                item_count: export.stats.item_count,
                size_bytes: export.stats.size_bytes,
                item_format: ITEM_FORMAT,
                group_records: CARRIED_RECORDS
                    .iter()
                    .zip(export.records.iter().skip(2))
                    .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
                    .collect(),
            })),
        };
        self.records = export.records.iter().take(2).cloned().collect();
        let writer = SnapshotWriter::create(self.path, header)
            .map_err(|e| RotorStorageError::Transfer(e.to_string()))?;
        self.writer = Some(writer);
        Ok(())
    }

    fn item(&mut self, key: &[u8], value: &[u8]) -> rotor_storage::error::Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| RotorStorageError::Transfer("an item before the export began".into()))?;
        writer
            .add(key, value)
            .map_err(|e| RotorStorageError::Transfer(e.to_string()))
    }

    fn change(&mut self, position: u64, record: &[u8]) -> rotor_storage::error::Result<()> {
        let writer = self.writer.as_mut().ok_or_else(|| {
            RotorStorageError::Transfer("a change log record before the export began".into())
        })?;
        writer
            .add_change(position, record)
            .map_err(|e| RotorStorageError::Transfer(e.to_string()))
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| storage_error(false, e))
}
