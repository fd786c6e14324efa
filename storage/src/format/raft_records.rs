//! The 2 -> 3 upgrade: every raft log entry and raft record, written by older releases as
//! bincode, is rewritten in the encoding the node gives (protobuf). The engine holds
//! them as opaque bytes, so the node supplies the rewriting ([`RaftRecordsUpgrade`]);
//! this module walks both column families in key order, in batches, each batch
//! carrying the position it reached, so a crash in the middle resumes where it stopped
//! and never reads a rewritten value as an old one.

use std::path::Path;

use rocksdb::{Direction, IteratorMode, WriteBatch, DB};

use crate::engine::{CF_META, CF_RAFT_LOG, CF_RAFT_STATE};
use crate::error::{Result, StorageError};

/// Rewrites what the node keeps in the raft column families from an older format.
pub trait RaftRecordsUpgrade {
    /// Log entry of `group` as format `from` wrote it, in this build's encoding.
    fn log_entry(
        &self,
        from: u32,
        group: u64,
        bytes: &[u8],
    ) -> std::result::Result<Vec<u8>, String>;
    /// Record `name` of `group` as format `from` wrote it, in this build's encoding
    /// (None: the record is kept as it is).
    fn record(
        &self,
        from: u32,
        group: u64,
        name: &str,
        bytes: &[u8],
    ) -> std::result::Result<Option<Vec<u8>>, String>;
}

/// In `meta`: the last raft key rewritten (a column family tag, then the key).
const PROGRESS_KEY: &[u8] = b"upgrade_raft_records_through";
const TAG_LOG: u8 = 1;
const TAG_STATE: u8 = 2;
/// Rows rewritten per batch.
const BATCH_ROWS: usize = 2_000;

fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| StorageError::Corrupt(format!("missing column family {name}")))
}

fn group_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if let Some(head) = key.get(..8) {
        b.copy_from_slice(head);
    }
    u64::from_be_bytes(b)
}

/// Rewrites the raft column families from format `from`.
pub(super) fn upgrade(
    db: &DB,
    path: &Path,
    from: u32,
    raft: Option<&dyn RaftRecordsUpgrade>,
) -> Result<()> {
    let meta = cf(db, CF_META)?;
    let progress = db.get_cf(meta, PROGRESS_KEY)?;
    let (mut tag, mut after) = match progress.as_deref() {
        Some([t, rest @ ..]) => (*t, Some(rest.to_vec())),
        _ => (TAG_LOG, None),
    };
    let mut rewritten = 0u64;
    for (this_tag, name) in [(TAG_LOG, CF_RAFT_LOG), (TAG_STATE, CF_RAFT_STATE)] {
        if this_tag < tag {
            continue;
        }
        if this_tag > tag {
            tag = this_tag;
            after = None;
        }
        let family = cf(db, name)?;
        let mode = match &after {
            Some(k) => IteratorMode::From(k, Direction::Forward),
            None => IteratorMode::Start,
        };
        let mut batch = WriteBatch::default();
        let mut rows = 0usize;
        let mut last_key: Option<Box<[u8]>> = None;
        // Every batch records how far it got, the last one included: a crash between
        // two batches (or column families) resumes after the last row rewritten.
        let finish = |batch: &mut WriteBatch, key: &[u8]| -> Result<()> {
            let mut at = vec![tag];
            at.extend_from_slice(key);
            batch.put_cf(meta, PROGRESS_KEY, at);
            db.write(std::mem::take(batch))?;
            Ok(())
        };
        for row in db.iterator_cf(family, mode) {
            let (key, value) = row?;
            if after.as_deref() == Some(&key[..]) {
                continue;
            }
            let Some(raft) = raft else {
                return Err(StorageError::Corrupt(format!(
                    "{} holds raft data in format {from}, which only `rotor node` can upgrade: start the node on it once",
                    path.display()
                )));
            };
            let group = group_of(&key);
            let new = if tag == TAG_LOG {
                Some(raft.log_entry(from, group, &value))
            } else {
                let record = String::from_utf8_lossy(key.get(8..).unwrap_or_default()).into_owned();
                raft.record(from, group, &record, &value).transpose()
            };
            match new {
                Some(Ok(bytes)) => batch.put_cf(family, &key, bytes),
                Some(Err(e)) => {
                    return Err(StorageError::Corrupt(format!(
                        "cannot upgrade raft data of group {group:x} in {}: {e}",
                        path.display()
                    )))
                }
                None => {}
            }
            rows += 1;
            if rows >= BATCH_ROWS {
                finish(&mut batch, &key)?;
                rewritten += rows as u64;
                rows = 0;
            }
            last_key = Some(key);
        }
        if let Some(key) = last_key {
            finish(&mut batch, &key)?;
            rewritten += rows as u64;
        }
    }
    if rewritten > 0 {
        tracing::info!(path = %path.display(), from, rows = rewritten, "raft log and records rewritten as protobuf");
    }
    Ok(())
}

/// Removes the upgrade's position (in the batch that records the new version).
pub(super) fn clear_progress(db: &DB, batch: &mut WriteBatch) -> Result<()> {
    batch.delete_cf(cf(db, CF_META)?, PROGRESS_KEY);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::format::{stored_version, FORMAT_VERSION};
    use crate::Engine;

    /// Marks each value it rewrites; fails once `fail_at` rows were rewritten (a crash
    /// in the middle of the upgrade, as far as the directory can tell).
    struct Marking {
        done: AtomicUsize,
        fail_at: usize,
    }

    impl Marking {
        fn step(&self) -> std::result::Result<(), String> {
            if self.done.fetch_add(1, Ordering::SeqCst) >= self.fail_at {
                return Err("stopped here".into());
            }
            Ok(())
        }
    }

    impl RaftRecordsUpgrade for Marking {
        fn log_entry(&self, _: u32, _: u64, bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
            self.step()?;
            Ok([b"new:", bytes].concat())
        }

        fn record(
            &self,
            _: u32,
            _: u64,
            name: &str,
            bytes: &[u8],
        ) -> std::result::Result<Option<Vec<u8>>, String> {
            self.step()?;
            Ok((name != "keep").then(|| [b"new:", bytes].concat()))
        }
    }

    fn key(group: u64, tail: &[u8]) -> Vec<u8> {
        [&group.to_be_bytes()[..], tail].concat()
    }

    #[test]
    fn an_upgrade_cut_short_resumes_and_rewrites_every_row_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let engine = Engine::open(dir.path()).unwrap();
            let db = engine.db();
            // As format 2 left it: 5,000 log entries of two groups, and records.
            let log = engine.cf(CF_RAFT_LOG).unwrap();
            for i in 0..5_000u64 {
                db.put_cf(log, key(i % 2 + 1, &i.to_be_bytes()), b"entry")
                    .unwrap();
            }
            let state = engine.cf(CF_RAFT_STATE).unwrap();
            db.put_cf(state, key(1, b"vote"), b"v").unwrap();
            db.put_cf(state, key(2, b"keep"), b"k").unwrap();
            db.put_cf(
                engine.cf(CF_META).unwrap(),
                b"format_version",
                2u32.to_be_bytes(),
            )
            .unwrap();
        }
        // Without the node's upgrade, the directory is refused, unchanged.
        let err = Engine::open(dir.path()).err().expect("refused");
        assert!(
            err.to_string().contains("only `rotor node` can upgrade"),
            "{err}"
        );
        // Stopped after 3,000 rows: the first batch (2,000) is kept, the rest is not.
        let stopping = Marking {
            done: AtomicUsize::new(0),
            fail_at: 3_000,
        };
        assert!(Engine::open_upgrading(dir.path(), &stopping).is_err());
        let finishing = Marking {
            done: AtomicUsize::new(0),
            fail_at: usize::MAX,
        };
        let engine = Engine::open_upgrading(dir.path(), &finishing).unwrap();
        assert_eq!(
            finishing.done.load(Ordering::SeqCst),
            3_002,
            "resumed after the first batch"
        );
        assert_eq!(stored_version(engine.db()).unwrap(), Some(FORMAT_VERSION));
        let db = engine.db();
        let log = engine.cf(CF_RAFT_LOG).unwrap();
        let mut rows = 0;
        for row in db.iterator_cf(log, IteratorMode::Start) {
            let (_, value) = row.unwrap();
            assert_eq!(&value[..], b"new:entry", "rewritten exactly once");
            rows += 1;
        }
        assert_eq!(rows, 5_000);
        let state = engine.cf(CF_RAFT_STATE).unwrap();
        assert_eq!(
            db.get_cf(state, key(1, b"vote")).unwrap().as_deref(),
            Some(&b"new:v"[..])
        );
        assert_eq!(
            db.get_cf(state, key(2, b"keep")).unwrap().as_deref(),
            Some(&b"k"[..])
        );
        assert_eq!(
            db.get_cf(engine.cf(CF_META).unwrap(), PROGRESS_KEY)
                .unwrap(),
            None
        );
    }
}
