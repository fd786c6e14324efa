//! The state machine's side of global secondary indexes: an index partition applying
//! an `IndexWrite` entry, and a base partition recording how far its change log has
//! been delivered (`ChangeProgress`), which trims the log below.

use prost::Message;
use rotor_model::global_index::{IndexChange, IndexWrite};
use rotor_proto::v1 as pb;
use rotor_storage::{GroupLog, Partition, StateRecord, StorageError};

use super::sources::{Sources, INDEX_SOURCES};
use crate::raft::Reply;

/// The raft state record of a base partition's delivered position (protobuf
/// `rotor.v1.ChangeProgress`): every change below it is in every index.
pub const CHANGE_PROGRESS: &str = "change_progress";

/// What an index partition does with an `IndexWrite`, given its sources.
#[derive(Debug, PartialEq)]
pub enum Decision<'a> {
    /// The source was split off a partition that has not released it yet.
    NotReleased,
    /// Apply these changes (those past the source's position) and record `sources`.
    Apply {
        changes: Vec<&'a IndexChange>,
        sources: Sources,
    },
}

pub fn decide<'a>(sources: &Sources, write: &'a IndexWrite) -> Decision<'a> {
    let reached = sources.0.get(&write.source).copied();
    if write.gated && reached.is_none() {
        return Decision::NotReleased;
    }
    let from = reached.unwrap_or(0);
    let changes = write
        .changes
        .iter()
        .filter(|(position, _)| *position > from)
        .map(|(_, change)| change)
        .collect();
    let mut next = sources.clone();
    next.0.insert(write.source, from.max(write.up_to));
    for child in &write.release {
        next.0.entry((write.source.0, *child)).or_insert(0);
    }
    Decision::Apply {
        changes,
        sources: next,
    }
}

/// Applies an `IndexWrite` entry to an index partition, with `applied` (its log
/// position) in the same batch.
pub fn index_write(
    log: &GroupLog,
    partition: &Partition,
    write: &IndexWrite,
    applied: StateRecord,
) -> Result<Reply, StorageError> {
    let stored = log.record(INDEX_SOURCES)?;
    let sources = Sources::decode(stored.as_deref()).map_err(StorageError::Corrupt)?;
    match decide(&sources, write) {
        Decision::NotReleased => {
            log.put_records(&[applied])?;
            Ok(Reply::NotReleased)
        }
        Decision::Apply { changes, sources } => {
            let records = [
                applied.clone(),
                log.state_record(INDEX_SOURCES, sources.encode()),
            ];
            match partition.apply_index_changes(log.engine(), &changes, &records) {
                Ok(()) => {
                    metrics::counter!("rotor_index_entries_applied_total")
                        .increment(changes.len() as u64);
                    Ok(Reply::IndexApplied)
                }
                Err(StorageError::OutsideRange { .. }) => {
                    log.put_records(&[applied])?;
                    Ok(Reply::NotOwned)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// The position a base partition's change log is delivered below (0: nothing yet).
pub fn delivered(log: &GroupLog) -> Result<u64, StorageError> {
    match log.record(CHANGE_PROGRESS)? {
        Some(bytes) => pb::ChangeProgress::decode(bytes.as_slice())
            .map(|p| p.position)
            .map_err(|e| StorageError::Corrupt(format!("{CHANGE_PROGRESS}: {e}"))),
        None => Ok(0),
    }
}

/// Records that a base partition's changes below `position` are in every index, and
/// trims its change log below it.
pub fn change_progress(
    log: &GroupLog,
    partition: &Partition,
    position: u64,
    applied: StateRecord,
) -> Result<Reply, StorageError> {
    let position = position.max(delivered(log)?);
    let progress = pb::ChangeProgress { position }.encode_to_vec();
    log.put_records(&[applied, log.state_record(CHANGE_PROGRESS, progress)])?;
    rotor_storage::changelog::trim_changes(
        log.engine(),
        (partition.table_id(), partition.index()),
        position,
    )?;
    Ok(Reply::Progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &[u8]) -> IndexChange {
        IndexChange::Put {
            key: key.to_vec(),
            entry: Default::default(),
        }
    }

    fn write(source: (u32, u32), gated: bool, changes: &[(u64, &[u8])]) -> IndexWrite {
        IndexWrite {
            source,
            gated,
            up_to: changes.last().map_or(0, |c| c.0),
            changes: changes.iter().map(|(p, k)| (*p, put(k))).collect(),
            release: Vec::new(),
        }
    }

    #[test]
    fn changes_a_source_sent_before_are_applied_once() {
        let first = write((1, 0), false, &[(3, b"a"), (5, b"b")]);
        let Decision::Apply { changes, sources } = decide(&Sources::default(), &first) else {
            panic!("refused");
        };
        assert_eq!(changes.len(), 2);
        assert_eq!(sources.0[&(1, 0)], 5);
        // Sent again with more (a retry after a lost answer, or a new leader's resend).
        let again = write((1, 0), false, &[(3, b"a"), (5, b"b"), (8, b"c")]);
        let Decision::Apply { changes, sources } = decide(&sources, &again) else {
            panic!("refused");
        };
        assert_eq!(changes, [&put(b"c")]);
        // A late copy of the first, from a deposed leader: nothing, position kept.
        let Decision::Apply { changes, sources } = decide(&sources, &first) else {
            panic!("refused");
        };
        assert!(changes.is_empty());
        assert_eq!(sources.0[&(1, 0)], 8);
    }

    #[test]
    fn a_split_off_source_waits_for_its_parent_to_release_it() {
        let child = write((1, 4), true, &[(2, b"x")]);
        assert_eq!(decide(&Sources::default(), &child), Decision::NotReleased);
        let mut release = write((1, 0), false, &[(9, b"y")]);
        release.release = vec![4];
        let Decision::Apply { sources, .. } = decide(&Sources::default(), &release) else {
            panic!("refused");
        };
        assert_eq!(sources.0[&(1, 4)], 0);
        let Decision::Apply { changes, .. } = decide(&sources, &child) else {
            panic!("still refused after the release");
        };
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn sources_round_trip_through_their_record() {
        let mut sources = Sources::default();
        sources.0.insert((3, 1), 42);
        sources.0.insert((3, 7), 0);
        let bytes = sources.encode();
        assert_eq!(Sources::decode(Some(&bytes)).unwrap(), sources);
        assert_eq!(Sources::decode(None).unwrap(), Sources::default());
        assert!(Sources::decode(Some(&[0xff])).is_err());
    }
}
