//! A partition group's state machine through openraft's own calls: entries applied,
//! a snapshot built into a file, streamed in chunks to another node's state machine and
//! installed there; an install cut short by a crash is finished when the group reopens,
//! so no entry is applied twice on top of it.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, EntryPayload, RaftSnapshotBuilder};
use rotor_model::expr::{ExprInput, Parser};
use rotor_model::keys::item_key;
use rotor_model::table::TokenRange;
use rotor_model::write::{WriteCommand, WriteRequest};
use rotor_model::{AttributeValue, Item, Number};
use rotor_storage::{Engine, GroupLog, Partition};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::state_machine::{Machine, StateMachine};
use super::{Command, LogId, TypeConfig};

const TABLE: u32 = 1;
const GROUP: u64 = 1 << 32;

struct Replica {
    _dir: tempfile::TempDir,
    engine: Arc<Engine>,
    sm: StateMachine,
}

impl Replica {
    fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

fn open_sm(dir: &std::path::Path, engine: &Arc<Engine>) -> StateMachine {
    let partition = Arc::new(Partition::open(engine, TABLE, 0, TokenRange::ALL, false).unwrap());
    // As a partition of a table with global secondary indexes: it keeps a change log.
    partition.set_change_format(Some(Arc::new(crate::changelog::ProtoChangeFormat)));
    let snapshots = dir.join("snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    StateMachine::open(
        GroupLog::new(engine.clone(), GROUP),
        Machine::Partition {
            partition,
            on_split: None,
        },
        snapshots,
    )
    .unwrap()
}

fn replica() -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(&dir.path().join("db")).unwrap());
    let sm = open_sm(dir.path(), &engine);
    Replica {
        _dir: dir,
        engine,
        sm,
    }
}

fn log_id(index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn key(pk: &str) -> Item {
    Item::from([("pk".to_owned(), AttributeValue::S(pk.to_owned()))])
}

/// `ADD n :one` on item `pk`.
fn add_one(pk: &str) -> WriteRequest {
    let values = BTreeMap::from([(":one".to_owned(), AttributeValue::N(Number::from_i64(1)))]);
    let update = Parser::new(ExprInput {
        names: None,
        values: Some(&values),
    })
    .update("ADD n :one")
    .unwrap();
    WriteRequest {
        table_id: TABLE,
        item_key: item_key(TABLE, &AttributeValue::S(pk.to_owned()), None),
        command: WriteCommand::Update {
            key: key(pk),
            update: Some(update),
            condition: None,
        },
    }
}

async fn apply(sm: &mut StateMachine, from: u64, writes: Vec<WriteRequest>) {
    let entries: Vec<openraft::Entry<TypeConfig>> = writes
        .into_iter()
        .enumerate()
        .map(|(i, w)| openraft::Entry {
            log_id: log_id(from + i as u64),
            payload: EntryPayload::Normal(Command::Write(w)),
        })
        .collect();
    sm.apply(entries).await.unwrap();
}

fn counter(engine: &Engine, pk: &str) -> Option<String> {
    let k = item_key(TABLE, &AttributeValue::S(pk.to_owned()), None);
    let item = rotor_storage::items::get(engine, &k).unwrap()?;
    match item.get("n") {
        Some(AttributeValue::N(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Builds a snapshot on `from` and streams it to `to` in 64 KB chunks, as openraft's
/// chunked transport does; returns its meta.
async fn ship(
    from: &mut StateMachine,
    to: &mut StateMachine,
) -> openraft::SnapshotMeta<u64, openraft::BasicNode> {
    let built = from
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let mut source = built.snapshot;
    let mut sink = to.begin_receiving_snapshot().await.unwrap();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = source.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        sink.write_all(&chunk[..n]).await.unwrap();
    }
    sink.flush().await.unwrap();
    to.install_snapshot(&built.meta, sink).await.unwrap();
    built.meta
}

#[tokio::test]
async fn a_snapshot_moves_a_partition_to_another_replica_through_a_file() {
    let mut a = replica();
    // 300 counters, each added to twice.
    let writes: Vec<WriteRequest> = (0..600)
        .map(|i| add_one(&format!("c{}", i % 300)))
        .collect();
    apply(&mut a.sm, 1, writes).await;
    let mut b = replica();
    apply(&mut b.sm, 1, vec![add_one("only-on-b")]).await;

    let meta = ship(&mut a.sm, &mut b.sm).await;
    assert_eq!(meta.last_log_id, Some(log_id(600)));
    let (applied, _) = b.sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(600)));
    assert_eq!(counter(&b.engine, "c7").as_deref(), Some("2"));
    assert_eq!(
        counter(&b.engine, "only-on-b"),
        None,
        "the copy replaced b's items"
    );
    // The received file is b's current snapshot now; nothing else is left behind.
    let current = b.sm.get_current_snapshot().await.unwrap().expect("kept");
    assert_eq!(current.meta, meta);
    let files: Vec<String> = std::fs::read_dir(b.dir().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, vec![format!("{GROUP:016x}.snap")]);
}

#[tokio::test]
async fn a_snapshot_carries_the_change_log_and_the_index_records() {
    use crate::index::apply::{delivered, CHANGE_PROGRESS};
    use crate::index::sources::{Sources, INDEX_SOURCES};
    use rotor_model::global_index::IndexWrite;
    let mut a = replica();
    apply(
        &mut a.sm,
        1,
        (0..5).map(|i| add_one(&format!("c{i}"))).collect(),
    )
    .await;
    let commands = vec![
        Command::ChangeProgress {
            position: 3,
            backfilled: Vec::new(),
        },
        Command::IndexWrite(Box::new(IndexWrite {
            source: (7, 0),
            up_to: 9,
            ..IndexWrite::default()
        })),
        Command::TrackIndexes(vec![tracked_shape()]),
    ];
    let entries: Vec<openraft::Entry<TypeConfig>> = commands
        .into_iter()
        .enumerate()
        .map(|(i, c)| openraft::Entry {
            log_id: log_id(6 + i as u64),
            payload: EntryPayload::Normal(c),
        })
        .collect();
    a.sm.apply(entries).await.unwrap();
    let log_a = GroupLog::new(a.engine.clone(), GROUP);
    assert_eq!(delivered(&log_a).unwrap(), 3);
    let mut b = replica();
    ship(&mut a.sm, &mut b.sm).await;
    let log_b = GroupLog::new(b.engine.clone(), GROUP);
    // The records below the delivered position were trimmed; the rest came along.
    let format = crate::changelog::ProtoChangeFormat;
    let changes =
        rotor_storage::changelog::read_changes(&b.engine, &format, (TABLE, 0), 0, 100).unwrap();
    assert_eq!(changes.iter().map(|c| c.0).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(delivered(&log_b).unwrap(), 3);
    let sources = Sources::decode(log_b.record(INDEX_SOURCES).unwrap().as_deref()).unwrap();
    assert_eq!(sources.0.get(&(7, 0)), Some(&9));
    // The indexes the partition feeds, and from where, came too.
    let tracked = crate::index::tracked::read(&log_b, None, TABLE).unwrap();
    assert_eq!(tracked.shapes(), [tracked_shape()]);
    assert_eq!((tracked.0[0].start, tracked.0[0].backfilled), (8, false));
    // A snapshot without them takes them away: b then holds what a held.
    let mut c = replica();
    apply(&mut c.sm, 1, vec![add_one("x")]).await;
    ship(&mut c.sm, &mut b.sm).await;
    assert!(log_b.record(INDEX_SOURCES).unwrap().is_none());
    assert!(log_b.record(CHANGE_PROGRESS).unwrap().is_none());
    assert!(log_b
        .record(crate::index::tracked::TRACKED_INDEXES)
        .unwrap()
        .is_none());
    let changes =
        rotor_storage::changelog::read_changes(&b.engine, &format, (TABLE, 0), 0, 100).unwrap();
    assert_eq!(changes.iter().map(|c| c.0).collect::<Vec<_>>(), [1]);
}

#[tokio::test]
async fn an_install_cut_short_by_a_crash_is_finished_on_reopen_and_nothing_applies_twice() {
    let mut a = replica();
    apply(&mut a.sm, 1, (0..10).map(|_| add_one("hits")).collect()).await;
    let mut b = replica();
    apply(&mut b.sm, 1, (0..4).map(|_| add_one("hits")).collect()).await;
    let meta = ship(&mut a.sm, &mut b.sm).await;
    assert_eq!(counter(&b.engine, "hits").as_deref(), Some("10"));

    // The state a crash leaves between the install's item writes and its last batch:
    // the snapshot's items, the old applied position, the installing record.
    let log = GroupLog::new(b.engine.clone(), GROUP);
    use super::records::Record;
    let old_applied = Some(log_id(4)).to_bytes();
    log.put_records(&[
        log.state_record("applied", old_applied),
        log.state_record("installing", meta.to_bytes()),
    ])
    .unwrap();
    let Replica {
        _dir: dir,
        engine,
        sm,
    } = b;
    drop(sm);

    let mut reopened = open_sm(dir.path(), &engine);
    let (applied, _) = reopened.applied_state().await.unwrap();
    assert_eq!(
        applied,
        Some(log_id(10)),
        "the install was finished on reopen"
    );
    assert!(log.record("installing").unwrap().is_none());
    // openraft applies what follows the snapshot: entry 11, counted once.
    apply(&mut reopened, 11, vec![add_one("hits")]).await;
    assert_eq!(counter(&engine, "hits").as_deref(), Some("11"));
}

#[tokio::test]
async fn a_transfer_abandoned_midway_leaves_the_replica_as_it_was() {
    let mut a = replica();
    apply(
        &mut a.sm,
        1,
        (0..200).map(|i| add_one(&format!("k{i}"))).collect(),
    )
    .await;
    let mut b = replica();
    apply(&mut b.sm, 1, vec![add_one("mine")]).await;
    let built =
        a.sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
    // Half the file arrives, then the leader starts over with a new transfer.
    let mut source = built.snapshot;
    let mut half = vec![0u8; 4096];
    source.read_exact(&mut half).await.unwrap();
    let mut first = b.sm.begin_receiving_snapshot().await.unwrap();
    first.write_all(&half).await.unwrap();
    drop(first);
    let meta = ship(&mut a.sm, &mut b.sm).await;
    assert_eq!(meta.last_log_id, Some(log_id(200)));
    assert_eq!(counter(&b.engine, "k5").as_deref(), Some("1"));
    let leftovers = std::fs::read_dir(b.dir().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 1, "the abandoned transfer's file was removed");
}

#[tokio::test]
async fn a_kept_snapshot_in_an_older_format_is_rebuilt_when_the_group_opens() {
    let mut a = replica();
    apply(
        &mut a.sm,
        1,
        (0..50).map(|i| add_one(&format!("k{i}"))).collect(),
    )
    .await;
    a.sm.get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    apply(&mut a.sm, 51, vec![add_one("later")]).await;
    // The file as the release before framed snapshots wrote it (a bincode enum).
    let path = a.dir().join("snapshots").join(format!("{GROUP:016x}.snap"));
    std::fs::write(&path, [0u8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let Replica {
        _dir: dir,
        engine,
        sm,
    } = a;
    drop(sm);

    let mut reopened = open_sm(dir.path(), &engine);
    let kept = reopened
        .get_current_snapshot()
        .await
        .unwrap()
        .expect("a snapshot is kept");
    assert_eq!(
        kept.meta.last_log_id,
        Some(log_id(51)),
        "rebuilt from the applied state"
    );
    let mut b = replica();
    let mut sink = b.sm.begin_receiving_snapshot().await.unwrap();
    let mut source = kept.snapshot;
    tokio::io::copy(&mut source, &mut *sink).await.unwrap();
    b.sm.install_snapshot(&kept.meta, sink).await.unwrap();
    assert_eq!(counter(&b.engine, "later").as_deref(), Some("1"));
}

/// An index a base partition feeds, for the snapshot tests.
fn tracked_shape() -> rotor_model::global_index::GlobalIndexShape {
    use rotor_model::index::Projection;
    use rotor_model::table::{KeyAttribute, KeySchema, ScalarType};
    let key = |name: &str| KeySchema {
        partition: KeyAttribute {
            name: name.into(),
            ty: ScalarType::S,
        },
        sort: None,
    };
    rotor_model::global_index::GlobalIndexShape {
        table_id: 9,
        name: "by_city".into(),
        index_key: key("city"),
        base_key: key("pk"),
        projection: Projection::KeysOnly,
    }
}
