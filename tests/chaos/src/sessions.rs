//! What one application sees through one router, checked over a history: its own writes
//! read back (read-your-writes), reads that never go back in time (monotonic reads), an
//! item that existed throughout never missing from an eventually consistent read, and
//! no fault window without a single success while the fault left a majority up.
//!
//! Values are unique per write (the workload makes them so), so "older" is real time:
//! a value is older than a write when the request that wrote it completed before that
//! write was invoked, and every linearization puts it first.

use std::collections::BTreeMap;

use crate::checker::{window_of, BadRead};
use crate::history::{FaultWindow, History, Op, OpKind, Outcome};

/// An item written this long before the first fault started counts as existing
/// throughout (every replica has applied it by then). A run without faults has no such
/// items: eventually consistent reads may lag.
pub const SETTLED_NS: u64 = 2_000_000_000;

/// What the session checks found.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionFindings {
    /// Eventually consistent reads that found nothing where an item existed throughout.
    pub missing_items: Vec<BadRead>,
    /// A client's read through a router older than its own acknowledged write there.
    pub read_your_writes: Vec<BadRead>,
    /// A client's read through a router older than its previous read there.
    pub monotonic_reads: Vec<BadRead>,
    /// Fault windows (indexes into `History::faults`) that left a majority but in which
    /// requests were made and none succeeded.
    pub dead_windows: Vec<usize>,
}

impl SessionFindings {
    pub fn is_empty(&self) -> bool {
        self.missing_items.is_empty()
            && self.read_your_writes.is_empty()
            && self.monotonic_reads.is_empty()
            && self.dead_windows.is_empty()
    }
}

/// The writes of one key, indexed for "is this value older than that write".
struct KeyWrites<'a> {
    /// Writer of each value.
    by_value: BTreeMap<u64, &'a Op>,
    /// Deletes that may have applied.
    deletes: Vec<&'a Op>,
}

impl<'a> KeyWrites<'a> {
    fn of(ops: &[&'a Op]) -> KeyWrites<'a> {
        let mut by_value = BTreeMap::new();
        let mut deletes = Vec::new();
        for op in ops.iter().copied().filter(|o| o.may_have_applied()) {
            match op.kind.written_value() {
                Some(v) => {
                    by_value.insert(v, op);
                }
                None if matches!(op.kind, OpKind::Delete) => deletes.push(op),
                None => {}
            }
        }
        KeyWrites { by_value, deletes }
    }

    /// Whether value `v` was written strictly before `after` began.
    fn older_than(&self, v: u64, after: &Op) -> bool {
        self.by_value
            .get(&v)
            .is_some_and(|w| !w.outcome.is_info() && w.complete_ns < after.invoke_ns)
    }

    /// Whether a delete may fall after `after` began and before `until` (an instant).
    fn deleted_between(&self, after: &Op, until: u64) -> bool {
        self.deletes
            .iter()
            .any(|d| d.effective_complete_ns() > after.invoke_ns && d.invoke_ns < until)
    }
}

fn read_value(op: &Op) -> Option<Option<u64>> {
    match (&op.kind, &op.outcome) {
        (OpKind::Read { consistent: false }, Outcome::Ok { value }) if !op.is_final => Some(*value),
        _ => None,
    }
}

fn bad(key: &str, read: &Op, faults: &[FaultWindow], reason: String) -> BadRead {
    BadRead {
        key: key.to_owned(),
        read_id: read.id,
        value: read_value(read).flatten(),
        reason,
        window: window_of(faults, read.invoke_ns),
    }
}

/// Every session check over `history`.
pub fn check_sessions(history: &History) -> SessionFindings {
    let mut found = SessionFindings::default();
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &history.ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let first_fault = history.faults.iter().map(|f| f.start_ns).min();
    for (key, ops) in &by_key {
        let counter = ops.iter().any(|o| matches!(o.kind, OpKind::Add));
        let register = ops.iter().any(|o| o.kind.written_value().is_some());
        match (counter, register) {
            (true, false) => check_counter(key, ops, first_fault, &history.faults, &mut found),
            (false, _) => check_register(key, ops, first_fault, &history.faults, &mut found),
            (true, true) => {}
        }
    }
    found.dead_windows = dead_windows(history);
    found
}

/// Each (client, router)'s ops on one key, in invocation order (ops of a client do not
/// overlap: it waits for each answer).
fn sessions<'a>(ops: &[&'a Op]) -> BTreeMap<(u32, u32), Vec<&'a Op>> {
    let mut out: BTreeMap<(u32, u32), Vec<&'a Op>> = BTreeMap::new();
    for op in ops.iter().copied().filter(|o| !o.is_final) {
        if let Some(router) = op.router {
            out.entry((op.client, router)).or_default().push(op);
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|o| o.invoke_ns);
    }
    out
}

fn check_register(
    key: &str,
    ops: &[&Op],
    first_fault: Option<u64>,
    faults: &[FaultWindow],
    found: &mut SessionFindings,
) {
    let writes = KeyWrites::of(ops);
    // Present throughout: acknowledged long before the first fault, never deleted since.
    let settled = first_fault.map_or(0, |f| f.saturating_sub(SETTLED_NS));
    let anchors: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|w| w.outcome.is_ok() && w.kind.written_value().is_some())
        .filter(|w| w.complete_ns <= settled)
        .collect();
    for read in ops.iter().copied() {
        if read_value(read) != Some(None) {
            continue;
        }
        let missing = anchors.iter().find(|w| {
            w.complete_ns < read.invoke_ns && !writes.deleted_between(w, read.complete_ns)
        });
        if let Some(w) = missing {
            found.missing_items.push(bad(
                key,
                read,
                faults,
                format!(
                    "found nothing, but op {} wrote the item before the faults began and nothing deleted it",
                    w.id
                ),
            ));
        }
    }
    for list in sessions(ops).values() {
        // The client's latest acknowledged write, and its latest read value, so far.
        let mut own: Option<&Op> = None;
        let mut last_read: Option<(&Op, u64)> = None;
        for op in list.iter().copied() {
            if op.kind.is_write() && op.outcome.is_ok() {
                own = Some(op);
                continue;
            }
            let Some(value) = read_value(op) else {
                continue;
            };
            if let Some(w) = own {
                let stale = match value {
                    None => {
                        w.kind.written_value().is_some()
                            && !writes.deleted_between(w, op.complete_ns)
                    }
                    Some(v) => writes.older_than(v, w),
                };
                if stale {
                    found.read_your_writes.push(bad(
                        key,
                        op,
                        faults,
                        format!(
                            "read {} after this client's own write (op {}) through the same router",
                            show(value),
                            w.id
                        ),
                    ));
                }
            }
            if let Some((earlier, seen)) = last_read {
                let Some(writer) = writes.by_value.get(&seen) else {
                    continue;
                };
                let back = match value {
                    None => !writes.deleted_between(writer, op.complete_ns),
                    Some(v) => v != seen && writes.older_than(v, writer),
                };
                if back {
                    found.monotonic_reads.push(bad(
                        key,
                        op,
                        faults,
                        format!(
                            "read {} after this client read {seen} (op {}) through the same router",
                            show(value),
                            earlier.id
                        ),
                    ));
                }
            }
            if let Some(v) = value {
                last_read = Some((op, v));
            }
        }
    }
}

fn check_counter(
    key: &str,
    ops: &[&Op],
    first_fault: Option<u64>,
    faults: &[FaultWindow],
    found: &mut SessionFindings,
) {
    let settled = first_fault.map_or(0, |f| f.saturating_sub(SETTLED_NS));
    let early_add = ops
        .iter()
        .copied()
        .filter(|o| matches!(o.kind, OpKind::Add) && o.outcome.is_ok())
        .filter(|o| o.complete_ns <= settled)
        .min_by_key(|o| o.complete_ns);
    for read in ops.iter().copied() {
        if let (Some(add), Some(count)) = (early_add, read_value(read)) {
            if count.unwrap_or(0) == 0 && add.complete_ns < read.invoke_ns {
                found.missing_items.push(bad(
                    key,
                    read,
                    faults,
                    format!(
                        "found no count, but op {} added to it before the faults began",
                        add.id
                    ),
                ));
            }
        }
    }
    for list in sessions(ops).values() {
        let mut floor: Option<(&Op, u64, &str)> = None;
        for op in list.iter().copied() {
            match (&op.kind, &op.outcome) {
                (OpKind::Add, Outcome::Ok { value: Some(n) }) => {
                    floor = Some((op, *n, "its own add"));
                }
                _ => {
                    let Some(value) = read_value(op) else {
                        continue;
                    };
                    let count = value.unwrap_or(0);
                    if let Some((earlier, min, what)) = floor {
                        if count < min {
                            let list = if what == "its own add" {
                                &mut found.read_your_writes
                            } else {
                                &mut found.monotonic_reads
                            };
                            list.push(bad(
                                key,
                                op,
                                faults,
                                format!(
                                    "read count {count} after {what} (op {}) saw {min}, through the same router",
                                    earlier.id
                                ),
                            ));
                        }
                    }
                    if floor.is_none_or(|(_, min, _)| count >= min) {
                        floor = Some((op, count, "its read"));
                    }
                }
            }
        }
    }
}

/// Fault windows that left a majority up, saw requests, and no success.
fn dead_windows(history: &History) -> Vec<usize> {
    history
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| f.majority_left)
        .filter(|(_, f)| {
            let inside: Vec<&Op> = history
                .ops
                .iter()
                .filter(|o| !o.is_final && f.start_ns <= o.invoke_ns && o.invoke_ns <= f.end_ns)
                .collect();
            !inside.is_empty() && !inside.iter().any(|o| o.outcome.is_ok())
        })
        .map(|(i, _)| i)
        .collect()
}

fn show(value: Option<u64>) -> String {
    value.map_or("nothing".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    struct Ops(Vec<Op>);

    impl Ops {
        fn add(&mut self, client: u32, router: u32, kind: OpKind, at: u64, outcome: Outcome) {
            let id = self.0.len() as u64;
            self.0.push(Op {
                id,
                client,
                key: "k".into(),
                kind,
                invoke_ns: at,
                complete_ns: at + 10_000_000,
                outcome,
                is_final: false,
                router: Some(router),
            });
        }
        fn history(self, faults: Vec<FaultWindow>) -> History {
            History {
                seed: 1,
                faults,
                ops: self.0,
            }
        }
    }

    fn ok(value: Option<u64>) -> Outcome {
        Outcome::Ok { value }
    }

    fn ec() -> OpKind {
        OpKind::Read { consistent: false }
    }

    fn fault(start: u64, end: u64, majority_left: bool) -> FaultWindow {
        FaultWindow {
            kind: "kill-node".into(),
            target: "node 2".into(),
            start_ns: start,
            end_ns: end,
            majority_left,
        }
    }

    #[test]
    fn a_settled_item_missing_from_a_read_is_found_and_a_deleted_one_is_not() {
        let mut ops = Ops(Vec::new());
        ops.add(1, 0, OpKind::Put { value: 7 }, 0, ok(None));
        ops.add(2, 1, ec(), 10 * S, ok(None));
        let found = check_sessions(&ops.history(vec![fault(5 * S, 6 * S, true)]));
        assert_eq!(found.missing_items.len(), 1, "{found:?}");

        let mut ops = Ops(Vec::new());
        ops.add(1, 0, OpKind::Put { value: 7 }, 0, ok(None));
        ops.add(
            3,
            0,
            OpKind::Delete,
            8 * S,
            Outcome::Info {
                error: "timeout".into(),
            },
        );
        ops.add(2, 1, ec(), 10 * S, ok(None));
        assert!(check_sessions(&ops.history(vec![fault(5 * S, 6 * S, true)])).is_empty());

        // Written just before the faults: a lagging replica may not have it yet.
        let mut ops = Ops(Vec::new());
        ops.add(1, 0, OpKind::Put { value: 7 }, 4 * S, ok(None));
        ops.add(2, 1, ec(), 10 * S, ok(None));
        assert!(check_sessions(&ops.history(vec![fault(5 * S, 6 * S, true)])).is_empty());
    }

    #[test]
    fn an_own_write_unread_through_the_same_router_is_found() {
        let mut ops = Ops(Vec::new());
        ops.add(2, 0, OpKind::Put { value: 1 }, 0, ok(None));
        ops.add(1, 0, OpKind::Put { value: 2 }, S, ok(None));
        ops.add(1, 0, ec(), 2 * S, ok(Some(1)));
        let found = check_sessions(&ops.history(vec![]));
        assert_eq!(found.read_your_writes.len(), 1, "{found:?}");
        // Through another router the same read is only stale, which is allowed.
        let mut ops = Ops(Vec::new());
        ops.add(2, 0, OpKind::Put { value: 1 }, 0, ok(None));
        ops.add(1, 0, OpKind::Put { value: 2 }, S, ok(None));
        ops.add(1, 1, ec(), 2 * S, ok(Some(1)));
        assert!(check_sessions(&ops.history(vec![]))
            .read_your_writes
            .is_empty());
        // A concurrent write by another client may be what it read.
        let mut ops = Ops(Vec::new());
        ops.add(1, 0, OpKind::Put { value: 2 }, S, ok(None));
        ops.add(2, 0, OpKind::Put { value: 3 }, S, ok(None));
        ops.add(1, 0, ec(), 2 * S, ok(Some(3)));
        assert!(check_sessions(&ops.history(vec![])).is_empty());
    }

    #[test]
    fn a_read_going_back_in_time_is_found() {
        let mut ops = Ops(Vec::new());
        ops.add(2, 0, OpKind::Put { value: 1 }, 0, ok(None));
        ops.add(2, 0, OpKind::Put { value: 2 }, S, ok(None));
        ops.add(1, 3, ec(), 2 * S, ok(Some(2)));
        ops.add(1, 3, ec(), 3 * S, ok(Some(1)));
        let found = check_sessions(&ops.history(vec![]));
        assert_eq!(found.monotonic_reads.len(), 1, "{found:?}");
    }

    #[test]
    fn counters_never_go_below_an_own_add_or_an_earlier_read() {
        let mut ops = Ops(Vec::new());
        ops.add(1, 0, OpKind::Add, 0, ok(Some(5)));
        ops.add(1, 0, ec(), S, ok(Some(4)));
        ops.add(2, 1, ec(), S, ok(Some(6)));
        ops.add(2, 1, ec(), 2 * S, ok(Some(5)));
        let found = check_sessions(&ops.history(vec![]));
        assert_eq!(found.read_your_writes.len(), 1, "{found:?}");
        assert_eq!(found.monotonic_reads.len(), 1, "{found:?}");
    }

    #[test]
    fn a_window_without_a_success_counts_only_when_a_majority_was_left() {
        let mut ops = Ops(Vec::new());
        ops.add(
            1,
            0,
            OpKind::Put { value: 1 },
            S,
            Outcome::Info {
                error: "timeout".into(),
            },
        );
        ops.add(
            1,
            0,
            OpKind::Put { value: 2 },
            6 * S,
            Outcome::Info {
                error: "timeout".into(),
            },
        );
        let history = ops.history(vec![fault(0, 2 * S, true), fault(5 * S, 7 * S, false)]);
        assert_eq!(check_sessions(&history).dead_windows, vec![0]);
    }
}
