//! Splits and copies of a partition on the engine directly: a split reads no item and
//! its estimated statistics are recounted exactly off the apply path; a copy streams out
//! and in with the same items, installs idempotently, leaves the old copy whole when the
//! stream breaks, and never overwrites a split-off half that the same node holds.

use rotor_model::keys::{item_key, token_of_item_key};
use rotor_model::table::{TableStats, TokenRange};
use rotor_model::write::{WriteCommand, WriteOutcome, WriteRequest};
use rotor_model::{AttributeValue, Item};
use rotor_storage::{Engine, ExportSink, Partition, PartitionExport, SplitOutcome, StorageError};

const TABLE: u32 = 1;

fn put(pk: &str, v: &str) -> WriteRequest {
    WriteRequest {
        table_id: TABLE,
        item_key: item_key(TABLE, &AttributeValue::S(pk.to_owned()), None),
        command: WriteCommand::Put {
            item: Item::from([
                ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
                ("v".to_owned(), AttributeValue::S(v.to_owned())),
            ]),
            condition: None,
        },
    }
}

fn token(req: &WriteRequest) -> u64 {
    token_of_item_key(&req.item_key).unwrap()
}

/// Partition 0 of the table over the whole ring, with `n` items `k0..k{n-1}`.
fn filled(engine: &Engine, n: usize) -> (Partition, Vec<WriteRequest>) {
    let p = Partition::open(engine, TABLE, 0, TokenRange::ALL, false).unwrap();
    let writes: Vec<WriteRequest> = (0..n).map(|i| put(&format!("k{i}"), "first")).collect();
    for w in &writes {
        p.apply(engine, w).unwrap();
    }
    (p, writes)
}

/// The value of `v` of the item a write wrote, as the engine holds it now.
fn value_of(engine: &Engine, req: &WriteRequest) -> Option<String> {
    let item = rotor_storage::items::get(engine, &req.item_key).unwrap()?;
    match item.get("v") {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An export gathered in memory (the tests' partitions are small).
#[derive(Default)]
struct Gathered {
    state: Option<PartitionExport>,
    items: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ExportSink for Gathered {
    fn begin(&mut self, export: &PartitionExport) -> rotor_storage::error::Result<()> {
        self.state = Some(export.clone());
        Ok(())
    }
    fn item(&mut self, key: &[u8], value: &[u8]) -> rotor_storage::error::Result<()> {
        self.items.push((key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn change(&mut self, _position: u64, _record: &[u8]) -> rotor_storage::error::Result<()> {
        // These partitions keep no change log.
        Ok(())
    }
}

fn export(engine: &Engine, p: &Partition) -> Gathered {
    let mut out = Gathered::default();
    let n = p.export(engine, &[], &mut out).unwrap();
    assert_eq!(n as usize, out.items.len());
    out
}

fn import(engine: &Engine, p: &Partition, copy: &Gathered, dir: &std::path::Path) -> TableStats {
    let range = copy.state.as_ref().unwrap().range;
    let mut items = copy.items.iter().cloned().map(Ok);
    p.import(engine, range, &mut items, &dir.join("in.sst"), &[])
        .unwrap()
        .stats
}

/// How many times this thread's iterators stepped (RocksDB's `iter_next_count`, which
/// the perf context reports but does not name in its enum).
fn iterator_steps(perf: &rocksdb::perf::PerfContext) -> u64 {
    perf.report(false)
        .split(',')
        .find_map(|field| {
            let (name, value) = field.split_once('=')?;
            (name.trim() == "iter_next_count").then(|| value.trim().parse().ok())?
        })
        .expect("the perf report counts iterator steps")
}

#[test]
fn a_split_reads_no_item_and_its_statistics_are_recounted_exactly() {
    use rocksdb::perf::{set_perf_stats, PerfContext, PerfStatsLevel};
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let (parent, writes) = filled(&engine, 2000);
    engine.db().flush_cf(engine.cf("items").unwrap()).unwrap();
    let mut tokens: Vec<u64> = writes.iter().map(token).collect();
    tokens.sort();
    let at = tokens[800];
    let before = parent.stats();

    set_perf_stats(PerfStatsLevel::EnableCount);
    let mut perf = PerfContext::default();
    // The measure sees a scan: finding the size median reads every item.
    perf.reset();
    parent.size_median(&engine).unwrap();
    assert!(iterator_steps(&perf) >= 2000, "{}", perf.report(true));
    perf.reset();
    let outcome = parent.split(&engine, (at, 1), None, &[], &[]).unwrap();
    assert_eq!(
        iterator_steps(&perf),
        0,
        "applying a split stepped through items: {}",
        perf.report(true)
    );
    let SplitOutcome::Split { child: estimate } = outcome else {
        panic!("not split: {outcome:?}")
    };
    // An estimate from RocksDB's sizes of the two key ranges: near 1,200 of 2,000.
    assert!(
        (900..1500).contains(&estimate.item_count),
        "estimated {} items above the cut",
        estimate.item_count
    );
    assert!(parent.stats_estimated(&engine).unwrap());
    assert_eq!(
        parent.split(&engine, (at, 1), None, &[], &[]).unwrap(),
        SplitOutcome::AlreadySplit,
        "applying the same split again changes nothing"
    );

    // Writes while the counts are estimates still move them; the recount adds them.
    let lower = writes.iter().find(|w| token(w) < at).unwrap();
    let upper = writes.iter().find(|w| token(w) >= at).unwrap();
    parent.apply(&engine, &put("a-new-one", "x")).ok();
    let parent_exact = parent.recount_stats(&engine).unwrap().expect("recounted");
    let lower_items = writes.iter().filter(|w| token(w) < at).count() as u64;
    let new_below = u64::from(token(&put("a-new-one", "x")) < at);
    assert_eq!(parent_exact.item_count, lower_items + new_below);
    assert!(!parent.stats_estimated(&engine).unwrap());
    let child = Partition::open(&engine, TABLE, 1, TokenRange::ALL, true).unwrap();
    assert!(child.is_seeded());
    assert_eq!(
        child.range(),
        TokenRange {
            start: at,
            end: None
        }
    );
    assert!(child.stats_estimated(&engine).unwrap());
    let child_exact = child.recount_stats(&engine).unwrap().expect("recounted");
    assert_eq!(child_exact.item_count, 2000 - lower_items);
    let new_bytes = match &put("a-new-one", "x").command {
        WriteCommand::Put { item, .. } => rotor_model::value::item_size(item) as u64,
        _ => unreachable!(),
    };
    assert_eq!(
        parent_exact.size_bytes + child_exact.size_bytes,
        before.size_bytes + new_below * new_bytes,
        "the halves' bytes add up to the whole"
    );

    // The parent refuses the keys it gave away; reopening keeps both ranges.
    assert!(matches!(
        parent.apply(&engine, upper),
        Err(StorageError::OutsideRange { .. })
    ));
    parent.apply(&engine, lower).unwrap();
    child.apply(&engine, upper).unwrap();
    let reopened = Partition::open(&engine, TABLE, 0, TokenRange::ALL, false).unwrap();
    assert_eq!(
        reopened.range(),
        TokenRange {
            start: 0,
            end: Some(at)
        }
    );
    assert_eq!(reopened.stats(), parent.stats());
    // A half made elsewhere (no seed here) waits for a snapshot.
    let unseeded = Partition::open(&engine, TABLE, 7, TokenRange::ALL, true).unwrap();
    assert!(!unseeded.is_seeded());
}

#[test]
fn a_copy_streams_out_and_in_with_the_same_items_and_installs_idempotently() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        Engine::open(dir_a.path()).unwrap(),
        Engine::open(dir_b.path()).unwrap(),
    );
    let (source, writes) = filled(&a, 500);
    let copy = export(&a, &source);
    assert_eq!(copy.items.len(), 500);

    // The receiver held other (older) items of the partition: they are replaced.
    let target = Partition::open(&b, TABLE, 0, TokenRange::ALL, false).unwrap();
    target.apply(&b, &put("stale-only-here", "old")).unwrap();
    let stats = import(&b, &target, &copy, dir_b.path());
    assert_eq!(stats, source.stats());
    assert_eq!(target.stats(), source.stats());
    assert_eq!(value_of(&b, &put("stale-only-here", "")), None);
    assert_eq!(export(&b, &target).items, copy.items);
    // A crash after the items but before the records is redone by importing again.
    let again = import(&b, &target, &copy, dir_b.path());
    assert_eq!(again, stats);
    assert_eq!(export(&b, &target).items, copy.items);
    assert!(writes
        .iter()
        .all(|w| value_of(&b, w).as_deref() == Some("first")));
}

#[test]
fn a_broken_stream_leaves_the_old_copy_whole() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        Engine::open(dir_a.path()).unwrap(),
        Engine::open(dir_b.path()).unwrap(),
    );
    let (source, _) = filled(&a, 300);
    let copy = export(&a, &source);
    let (target, old) = filled(&b, 50);
    let before = target.stats();
    let range = copy.state.as_ref().unwrap().range;
    let mut broken = copy
        .items
        .iter()
        .take(100)
        .cloned()
        .map(Ok)
        .chain(std::iter::once(Err(StorageError::Transfer(
            "connection reset".into(),
        ))));
    let err = target
        .import(&b, range, &mut broken, &dir_b.path().join("in.sst"), &[])
        .unwrap_err();
    assert!(err.to_string().contains("connection reset"), "{err}");
    assert_eq!(target.stats(), before);
    assert!(old
        .iter()
        .all(|w| value_of(&b, w).as_deref() == Some("first")));
    // Keys out of order (a damaged stream) are refused the same way.
    let mut reversed = copy.items.iter().rev().cloned().map(Ok);
    assert!(target
        .import(&b, range, &mut reversed, &dir_b.path().join("in2.sst"), &[])
        .is_err());
    assert_eq!(target.stats(), before);
}

/// A node holds a partition and the half split off it; its copy of the parent is behind
/// the split (it missed it) and installs a snapshot taken before the split, then
/// replays the entries up to it. The half's newer items must survive both.
#[test]
fn a_snapshot_from_before_a_split_never_overwrites_the_split_off_half() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        Engine::open(dir_a.path()).unwrap(),
        Engine::open(dir_b.path()).unwrap(),
    );
    // The snapshot of the parent, taken before the split on another replica.
    let (source, writes) = filled(&a, 400);
    let before_split = export(&a, &source);
    let mut tokens: Vec<u64> = writes.iter().map(token).collect();
    tokens.sort();
    let at = tokens[200];
    let upper: Vec<&WriteRequest> = writes.iter().filter(|w| token(w) >= at).collect();

    // Node B: the half split off (partition 1) arrived by its own snapshot, with
    // writes made after the split; B's parent copy is behind.
    let parent = Partition::open(&b, TABLE, 0, TokenRange::ALL, false).unwrap();
    let child = Partition::open(
        &b,
        TABLE,
        1,
        TokenRange {
            start: at,
            end: None,
        },
        true,
    )
    .unwrap();
    let mut child_copy = Gathered::default();
    {
        let (dir_c, c) = {
            let d = tempfile::tempdir().unwrap();
            let e = Engine::open(d.path()).unwrap();
            (d, e)
        };
        let (src, _) = filled(&c, 400);
        src.split(&c, (at, 1), None, &[], &[]).unwrap();
        let half = Partition::open(&c, TABLE, 1, TokenRange::ALL, true).unwrap();
        for w in &upper {
            let mut newer = put("", "after-split");
            newer.item_key = w.item_key.clone();
            if let WriteCommand::Put { item, .. } = &mut newer.command {
                item.insert("pk".into(), AttributeValue::S("x".into()));
            }
            half.apply(&c, &newer).unwrap();
        }
        let n = half.export(&c, &[], &mut child_copy).unwrap();
        assert_eq!(n as usize, upper.len());
        drop(dir_c);
    }
    let range = child_copy.state.as_ref().unwrap().range;
    let mut items = child_copy.items.iter().cloned().map(Ok);
    child
        .import(&b, range, &mut items, &dir_b.path().join("c.sst"), &[])
        .unwrap();
    assert!(upper
        .iter()
        .all(|w| value_of(&b, w).as_deref() == Some("after-split")));

    // The parent installs the snapshot from before the split: the half's items stay.
    let summary = {
        let range = before_split.state.as_ref().unwrap().range;
        let mut items = before_split.items.iter().cloned().map(Ok);
        parent
            .import(&b, range, &mut items, &dir_b.path().join("p.sst"), &[])
            .unwrap()
    };
    assert_eq!(summary.skipped as usize, upper.len());
    assert!(
        upper
            .iter()
            .all(|w| value_of(&b, w).as_deref() == Some("after-split")),
        "the pre-split snapshot overwrote the split-off half"
    );
    // Replaying a pre-split write into the half's tokens leaves them alone too.
    let replayed = put("", "replayed-before-split");
    let mut replayed = replayed;
    replayed.item_key = upper[0].item_key.clone();
    let outcome = parent.apply(&b, &replayed).unwrap();
    assert!(matches!(outcome, WriteOutcome::Applied { .. }));
    assert_eq!(value_of(&b, upper[0]).as_deref(), Some("after-split"));
    // Then the parent reaches the split: it keeps its lower half, the child its items.
    assert!(matches!(
        parent.split(&b, (at, 1), None, &[], &[]).unwrap(),
        SplitOutcome::Split { .. }
    ));
    assert_eq!(
        child.range(),
        TokenRange {
            start: at,
            end: None
        }
    );
    assert!(upper
        .iter()
        .all(|w| value_of(&b, w).as_deref() == Some("after-split")));
    let exact = parent.recount_stats(&b).unwrap().expect("recounted");
    assert_eq!(exact.item_count, 200);
}
