//! The state machine's side of global secondary indexes: an index partition applying
//! an `IndexWrite` entry, and a base partition recording how far its change log has
//! been delivered (`ChangeProgress`), which trims the log below.

use prost::Message;
use rotor_model::global_index::{BackfillPage, IndexChange, IndexWrite};
use rotor_proto::v1 as pb;
use rotor_storage::{GroupLog, Partition, StateRecord, StorageError};

use super::sources::{BackfillCursor, Sources, INDEX_SOURCES};
use crate::raft::Reply;

/// The raft state record of a base partition's delivered position (protobuf
/// `rotor.v1.ChangeProgress`): every change below it is in every index.
pub const CHANGE_PROGRESS: &str = "change_progress";

/// What an index partition does with an `IndexWrite`, given its sources.
#[derive(Debug, PartialEq)]
pub enum Decision<'a> {
    /// The source was split off a partition that has not released it yet.
    NotReleased,
    /// A backfill page that does not follow the pages applied before it (an attempt
    /// cut short, or a page from a deposed leader): the backfill starts again.
    Restart,
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
    if let Some(page) = &write.backfill {
        return decide_page(sources, write, page, from);
    }
    let changes = write
        .changes
        .iter()
        .filter(|(position, _)| *position > from)
        .map(|(_, change)| change)
        .collect();
    let mut next = sources.clone();
    next.0.insert(write.source, from.max(write.up_to));
    if write.up_to > from {
        // Its log's changes follow its backfill: that is over.
        next.1.remove(&write.source);
    }
    for child in &write.release {
        next.0.entry((write.source.0, *child)).or_insert(0);
    }
    Decision::Apply {
        changes,
        sources: next,
    }
}

/// A backfill page: applied whole when it is an attempt's first page or follows the
/// page applied last; skipped when it was applied already or the source's log
/// changes have followed its backfill.
fn decide_page<'a>(
    sources: &Sources,
    write: &'a IndexWrite,
    page: &BackfillPage,
    reached: u64,
) -> Decision<'a> {
    let skip = || Decision::Apply {
        changes: Vec::new(),
        sources: sources.clone(),
    };
    if reached > page.start {
        return skip();
    }
    let cursor = sources
        .1
        .get(&write.source)
        .filter(|_| reached == page.start);
    let follows = match (&page.after, cursor) {
        (None, _) => true,
        (Some(after), Some(c)) => c.attempt == page.attempt && c.through == *after,
        (Some(_), None) => false,
    };
    if !follows {
        let applied =
            cursor.is_some_and(|c| c.attempt == page.attempt && page.through <= c.through);
        return if applied { skip() } else { Decision::Restart };
    }
    let mut next = sources.clone();
    next.0.insert(write.source, page.start);
    next.1.insert(
        write.source,
        BackfillCursor {
            attempt: page.attempt,
            through: page.through.clone(),
        },
    );
    Decision::Apply {
        changes: write.changes.iter().map(|(_, change)| change).collect(),
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
        Decision::Restart => {
            log.put_records(&[applied])?;
            Ok(Reply::BackfillRestart)
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
/// its items in the indexes `backfilled`; trims its change log below `position`.
pub fn change_progress(
    log: &GroupLog,
    partition: &Partition,
    (position, backfilled): (u64, &[u32]),
    applied: StateRecord,
) -> Result<Reply, StorageError> {
    let position = position.max(delivered(log)?);
    let progress = pb::ChangeProgress {
        position,
        backfilled: Vec::new(),
    }
    .encode_to_vec();
    let mut records = vec![applied, log.state_record(CHANGE_PROGRESS, progress)];
    if !backfilled.is_empty() {
        let tracked = super::tracked::read(log, None, partition.table_id())?;
        records.push(log.state_record(
            super::tracked::TRACKED_INDEXES,
            tracked.backfilled(backfilled).encode(),
        ));
    }
    log.put_records(&records)?;
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
            backfill: None,
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

    fn page(attempt: u64, after: Option<&[u8]>, through: &[u8], keys: &[&[u8]]) -> IndexWrite {
        IndexWrite {
            source: (1, 0),
            gated: false,
            up_to: 10,
            changes: keys.iter().map(|k| (10, put(k))).collect(),
            release: Vec::new(),
            backfill: Some(BackfillPage {
                start: 10,
                attempt,
                after: after.map(<[u8]>::to_vec),
                through: through.to_vec(),
            }),
        }
    }

    fn applied<'a>(d: Decision<'a>) -> (Vec<&'a IndexChange>, Sources) {
        match d {
            Decision::Apply { changes, sources } => (changes, sources),
            other => panic!("not applied: {other:?}"),
        }
    }

    #[test]
    fn backfill_pages_apply_in_order_once_and_give_way_to_the_log() {
        let p1 = page(7, None, b"c", &[b"a", b"c"]);
        let p2 = page(7, Some(b"c"), b"f", &[b"e"]);
        let p3 = page(7, Some(b"f"), b"k", &[b"k"]);
        let (changes, s1) = applied(decide(&Sources::default(), &p1));
        assert_eq!(changes.len(), 2);
        // A page out of order: the backfill starts again.
        assert_eq!(decide(&s1, &p3), Decision::Restart);
        let (changes, s2) = applied(decide(&s1, &p2));
        assert_eq!(changes, [&put(b"e")]);
        // Sent again (a lost answer): nothing twice.
        let (changes, again) = applied(decide(&s2, &p2));
        assert!(changes.is_empty());
        assert_eq!(again, s2);
        // A new attempt starts over from its first page.
        let restart = page(9, None, b"b", &[b"a"]);
        let (changes, s3) = applied(decide(&s2, &restart));
        assert_eq!(changes.len(), 1);
        assert_eq!(s3.1[&(1, 0)].attempt, 9);
        // A page of the old attempt no longer follows.
        assert_eq!(decide(&s3, &p3), Decision::Restart);
        // The log's changes after the start follow the backfill; pages after that are
        // stale and skipped.
        let logged = write((1, 0), false, &[(11, b"z")]);
        let (changes, s4) = applied(decide(&s3, &logged));
        assert_eq!(changes.len(), 1);
        assert!(s4.1.is_empty());
        let stale = page(12, None, b"q", &[b"q"]);
        let (changes, s5) = applied(decide(&s4, &stale));
        assert!(changes.is_empty());
        assert_eq!(s5, s4);
    }

    #[test]
    fn a_split_off_source_backfills_only_once_released() {
        let mut child = page(3, None, b"m", &[b"m"]);
        child.source = (1, 4);
        child.gated = true;
        child.backfill.as_mut().unwrap().start = 0;
        assert_eq!(decide(&Sources::default(), &child), Decision::NotReleased);
        let mut release = write((1, 0), false, &[(9, b"y")]);
        release.release = vec![4];
        let (_, sources) = applied(decide(&Sources::default(), &release));
        let (changes, sources) = applied(decide(&sources, &child));
        assert_eq!(changes.len(), 1);
        let bytes = sources.encode();
        assert_eq!(Sources::decode(Some(&bytes)).unwrap(), sources);
    }
}
