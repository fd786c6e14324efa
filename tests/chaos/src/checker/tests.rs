//! Unit tests of the checker over small hand-built histories.

use super::*;

fn recovery_ns_alone(ops: &[Op], f: &FaultWindow, options: &CheckOptions) -> Option<u64> {
    recovery_ns(ops, f, options, None)
}

#[test]
fn the_next_fault_ends_the_recovery_window() {
    let f = FaultWindow {
        kind: "k".into(),
        target: "t".into(),
        start_ns: 0,
        end_ns: 2 * S,
        majority_left: false,
    };
    let mut b = B::new();
    // Steady successes until 4 s, then a gap caused by the next fault (at 5 s).
    for i in 0..40 {
        b.put("r1", i + 1, i * 100 * MS, i * 100 * MS + MS);
    }
    b.put("r1", 99, 8 * S, 8 * S + MS);
    let opts = CheckOptions::default();
    assert_eq!(recovery_ns(&b.ops, &f, &opts, Some(5 * S)), Some(0));
    assert_eq!(recovery_ns(&b.ops, &f, &opts, None), Some(8 * S + MS));
}

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

struct B {
    ops: Vec<Op>,
    faults: Vec<FaultWindow>,
}

impl B {
    fn new() -> Self {
        B {
            ops: Vec::new(),
            faults: Vec::new(),
        }
    }
    fn op(&mut self, key: &str, kind: OpKind, a: u64, b: u64, outcome: Outcome) -> &mut Self {
        let id = self.ops.len() as u64 + 1;
        self.ops.push(Op {
            id,
            client: (id % 4) as u32,
            key: key.to_string(),
            kind,
            invoke_ns: a,
            complete_ns: b,
            outcome,
            is_final: false,
            router: None,
        });
        self
    }
    fn put(&mut self, key: &str, v: u64, a: u64, b: u64) -> &mut Self {
        self.op(key, OpKind::Put { value: v }, a, b, ok(None))
    }
    fn put_info(&mut self, key: &str, v: u64, a: u64, b: u64) -> &mut Self {
        self.op(key, OpKind::Put { value: v }, a, b, info())
    }
    fn read(&mut self, key: &str, v: Option<u64>, a: u64, b: u64) -> &mut Self {
        self.op(key, OpKind::Read { consistent: true }, a, b, ok(v))
    }
    fn ec_read(&mut self, key: &str, v: Option<u64>, a: u64, b: u64) -> &mut Self {
        self.op(key, OpKind::Read { consistent: false }, a, b, ok(v))
    }
    fn add(&mut self, key: &str, n: Option<u64>, a: u64, b: u64) -> &mut Self {
        self.op(key, OpKind::Add, a, b, ok(n))
    }
    fn final_read(&mut self, key: &str, v: Option<u64>, a: u64) -> &mut Self {
        self.read(key, v, a, a + MS);
        if let Some(last) = self.ops.last_mut() {
            last.is_final = true;
        }
        self
    }
    fn fault(&mut self, kind: &str, target: &str, a: u64, b: u64) -> &mut Self {
        self.faults.push(FaultWindow {
            kind: kind.into(),
            target: target.into(),
            start_ns: a,
            end_ns: b,
            majority_left: false,
        });
        self
    }
    fn history(&self) -> History {
        History {
            seed: 1,
            faults: self.faults.clone(),
            ops: self.ops.clone(),
        }
    }
    fn check(&self) -> CheckResult {
        let h = self.history();
        assert!(h.validate().is_ok());
        check(&h, &CheckOptions::default())
    }
}

fn ok(value: Option<u64>) -> Outcome {
    Outcome::Ok { value }
}
fn info() -> Outcome {
    Outcome::Info {
        error: "timeout".into(),
    }
}
fn fail() -> Outcome {
    Outcome::Fail {
        error: "throttled".into(),
    }
}

#[test]
fn clean_register_history_passes() {
    let r = B::new()
        .put("r1", 1, 0, 10)
        .put("r1", 2, 5, 20)
        .read("r1", Some(2), 30, 40)
        .ec_read("r1", Some(1), 35, 45)
        .op("r1", OpKind::Put { value: 3 }, 50, 60, fail())
        .final_read("r1", Some(2), S)
        .check();
    assert!(r.passed(), "{r:#?}");
    assert_eq!(r.linearizability.len(), 1);
    assert_eq!(r.linearizability[0].model, KeyModel::Register);
    assert_eq!(r.linearizability[0].ops_checked, 4); // ec read and fail left out
    assert_eq!(r.counts.failed, 1);
}

#[test]
fn lost_write_detected_and_attributed() {
    let r = B::new()
        .fault("partition", "n2", 100, 200)
        .put("r1", 1, 0, 10)
        .put("r1", 2, 150, 160) // acknowledged during the fault
        .final_read("r1", Some(1), S)
        .check();
    assert!(!r.passed());
    assert_eq!(r.lost_writes.len(), 1);
    match &r.lost_writes[0] {
        LostWrite::Register {
            op_id,
            window,
            final_value,
            ..
        } => {
            assert_eq!(*op_id, 2);
            assert_eq!(*window, Some(0));
            assert_eq!(*final_value, Some(1));
        }
        other => panic!("{other:?}"),
    }
    let w = r
        .windows
        .iter()
        .find(|w| w.fault_index == Some(0))
        .expect("window");
    assert_eq!(w.lost_writes, 1);
    // The linearizability check also fails (final read is stuck).
    assert!(!r.linearizability[0].verdict.is_linearizable());
}

#[test]
fn final_value_from_concurrent_or_info_write_is_not_lost() {
    // Concurrent writes: either may win.
    let r = B::new()
        .put("r1", 1, 0, 20)
        .put("r1", 2, 10, 30)
        .final_read("r1", Some(1), S)
        .check();
    assert!(r.lost_writes.is_empty() && r.passed(), "{r:#?}");
    // Info write could land any time later.
    let r = B::new()
        .put_info("r1", 1, 0, 5)
        .put("r1", 2, 10, 30)
        .final_read("r1", Some(1), S)
        .check();
    assert!(r.lost_writes.is_empty() && r.passed(), "{r:#?}");
}

#[test]
fn absent_final_value() {
    // Delete after the put: fine.
    let r = B::new()
        .put("r1", 1, 0, 10)
        .op("r1", OpKind::Delete, 20, 30, ok(None))
        .final_read("r1", None, S)
        .check();
    assert!(r.passed(), "{r:#?}");
    // No delete at all: the put is lost.
    let r = B::new()
        .put("r1", 1, 0, 10)
        .final_read("r1", None, S)
        .check();
    assert_eq!(r.lost_writes.len(), 1);
    // Acknowledged delete, then the old value is back: delete lost.
    let r = B::new()
        .put("r1", 1, 0, 10)
        .op("r1", OpKind::Delete, 20, 30, ok(None))
        .final_read("r1", Some(1), S)
        .check();
    assert!(matches!(
        &r.lost_writes[..],
        [LostWrite::Register {
            kind: OpKind::Delete,
            ..
        }]
    ));
}

#[test]
fn phantom_final_value() {
    let r = B::new()
        .put("r1", 1, 0, 10)
        .op("r1", OpKind::Put { value: 2 }, 20, 30, fail())
        .final_read("r1", Some(2), S)
        .check();
    assert_eq!(r.phantom_values.len(), 1);
    assert_eq!(r.phantom_values[0].value, 2);
    assert!(r.lost_writes.is_empty());
    assert!(!r.passed());
}

#[test]
fn cas_condition_failed_is_not_a_write() {
    let r = B::new()
        .put("r1", 1, 0, 10)
        .op(
            "r1",
            OpKind::Cas {
                expected: 9,
                new: 2,
            },
            20,
            30,
            Outcome::ConditionFailed,
        )
        .op(
            "r1",
            OpKind::Cas {
                expected: 1,
                new: 3,
            },
            40,
            50,
            ok(None),
        )
        .final_read("r1", Some(3), S)
        .check();
    assert!(r.passed(), "{r:#?}");
    let r = B::new()
        .put("r1", 1, 0, 10)
        .op(
            "r1",
            OpKind::Cas {
                expected: 1,
                new: 2,
            },
            20,
            30,
            Outcome::ConditionFailed,
        )
        .final_read("r1", Some(2), S)
        .check();
    assert_eq!(r.phantom_values.len(), 1);
}

#[test]
fn eventually_consistent_reads() {
    // Stale values are allowed; values from the future or from nowhere
    // are not.
    let r = B::new()
        .put("r1", 1, 0, 10)
        .put("r1", 2, 20, 30)
        .ec_read("r1", Some(1), 40, 50)
        .ec_read("r1", None, 40, 50)
        .check();
    assert!(r.passed(), "{r:#?}");
    let r = B::new()
        .ec_read("r1", Some(2), 0, 10)
        .put("r1", 2, 20, 30)
        .ec_read("r1", Some(7), 40, 50)
        .op("r1", OpKind::Put { value: 8 }, 60, 70, fail())
        .ec_read("r1", Some(8), 80, 90)
        .check();
    let ids: Vec<u64> = r.stale_or_phantom_reads.iter().map(|b| b.read_id).collect();
    assert_eq!(ids, vec![1, 3, 5]);
    assert!(r.stale_or_phantom_reads[0]
        .reason
        .contains("after the read completed"));
    assert!(!r.passed());
    // Counter: count may not exceed the adds invoked so far.
    let r = B::new()
        .add("c1", Some(1), 0, 10)
        .op("c1", OpKind::Add, 5, 15, info())
        .op(
            "c1",
            OpKind::Read { consistent: false },
            20,
            30,
            ok(Some(2)),
        )
        .op(
            "c1",
            OpKind::Read { consistent: false },
            20,
            30,
            ok(Some(3)),
        )
        .check();
    let ids: Vec<u64> = r.stale_or_phantom_reads.iter().map(|b| b.read_id).collect();
    assert_eq!(ids, vec![4]);
}

#[test]
fn counter_bounds() {
    let base = || {
        let mut b = B::new();
        b.add("c1", Some(1), 0, 10)
            .add("c1", Some(2), 20, 30)
            .op("c1", OpKind::Add, 40, 50, info())
            .op("c1", OpKind::Add, 45, 55, fail());
        b
    };
    for (c, expected) in [
        (2, CounterVerdict::WithinBounds),
        (3, CounterVerdict::WithinBounds),
        (1, CounterVerdict::Lost { lost: 1 }),
        (4, CounterVerdict::OverCounted { excess: 1 }),
    ] {
        let r = base().final_read("c1", Some(c), S).check();
        assert_eq!(r.counters.len(), 1);
        let s = &r.counters[0];
        assert_eq!((s.acked, s.indeterminate, s.final_count), (2, 1, Some(c)));
        assert_eq!(s.verdict, expected, "final {c}");
        assert_eq!(r.passed(), s.in_bounds(), "final {c}");
        assert_eq!(r.lost_writes.len(), usize::from(c == 1));
    }
    let r = base().check();
    assert_eq!(r.counters[0].verdict, CounterVerdict::NoFinalRead);
    assert!(r.passed());
    assert_eq!(r.linearizability[0].model, KeyModel::Counter);
}

#[test]
fn counter_duplicate_result_not_linearizable() {
    let r = B::new()
        .add("c1", Some(1), 0, 10)
        .add("c1", Some(1), 5, 15)
        .final_read("c1", Some(2), S)
        .check();
    assert!(r.counters[0].in_bounds());
    assert!(!r.linearizability[0].verdict.is_linearizable());
    assert!(!r.passed());
}

#[test]
fn mixed_key_is_unknown() {
    let r = B::new()
        .put("x", 1, 0, 10)
        .add("x", Some(1), 20, 30)
        .check();
    assert_eq!(r.linearizability[0].model, KeyModel::Mixed);
    assert!(matches!(
        r.linearizability[0].verdict,
        Verdict::Unknown { .. }
    ));
    assert!(!r.passed());
    assert_eq!(r.windows[0].linearizability, WindowLinearizability::Unknown);
}

#[test]
fn window_availability_and_recovery() {
    let mut b = B::new();
    b.fault("partition", "n1", 10 * S, 20 * S);
    // Before the fault: steady successes.
    for i in 0..10 {
        b.put("r1", i + 1, i * S, i * S + MS);
    }
    // During the fault: failures and timeouts, then a success at 13 s,
    // another gap, and steady successes from 16 s every 100 ms.
    b.op("r1", OpKind::Put { value: 100 }, 10 * S, 11 * S, fail());
    b.put_info("r1", 101, 10 * S + MS, 12 * S);
    b.put("r1", 102, 13 * S - MS, 13 * S);
    let mut v = 200;
    let mut t = 16 * S;
    while t < 22 * S {
        b.put("r1", v, t - MS, t);
        v += 1;
        t += 100 * MS;
    }
    let r = b.check();
    assert_eq!(r.windows.len(), 2);
    let none = &r.windows[0];
    assert_eq!((none.fault.as_str(), none.fault_index), ("none", None));
    assert_eq!(none.recovery_ns, None);
    let w = &r.windows[1];
    assert_eq!(w.fault_index, Some(0));
    assert_eq!((w.failed, w.indeterminate), (1, 1));
    assert_eq!(w.requests, 3 + 41); // invoked 16.0 s ..= 20.0 s
    assert!(w
        .success_fraction
        .is_some_and(|f| (f - 42.0 / 44.0).abs() < 1e-9));
    assert_eq!(w.recovery_ns, Some(6 * S)); // last long gap ends at 16 s
    assert_eq!(w.recovery_secs(), Some(6.0));
    assert_eq!(w.linearizability, WindowLinearizability::Ok);
}

#[test]
fn recovery_edge_cases() {
    let opts = CheckOptions::default();
    let f = FaultWindow {
        kind: "kill".into(),
        target: "n3".into(),
        start_ns: 10 * S,
        end_ns: 12 * S,
        majority_left: false,
    };
    let mk = |times: &[u64]| -> Vec<Op> {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| Op {
                id: i as u64,
                client: 0,
                key: "r".into(),
                kind: OpKind::Read { consistent: true },
                invoke_ns: t.saturating_sub(MS),
                complete_ns: t,
                outcome: ok(None),
                is_final: false,
                router: None,
            })
            .collect()
    };
    // No success in range: never.
    assert_eq!(recovery_ns_alone(&mk(&[S, 30 * S]), &f, &opts), None);
    // No gap at all: 0.
    let steady: Vec<u64> = (0..40).map(|i| 10 * S + i * 100 * MS).collect();
    assert_eq!(recovery_ns_alone(&mk(&steady), &f, &opts), Some(0));
    // First success 2 s after the start, then steady: 2 s.
    let late: Vec<u64> = (0..40).map(|i| 12 * S + i * 100 * MS).collect();
    assert_eq!(recovery_ns_alone(&mk(&late), &f, &opts), Some(2 * S));
}

#[test]
fn overlapping_windows_attribute_to_latest_start() {
    let faults = vec![
        FaultWindow {
            kind: "a".into(),
            target: "x".into(),
            start_ns: 0,
            end_ns: 100,
            majority_left: false,
        },
        FaultWindow {
            kind: "b".into(),
            target: "y".into(),
            start_ns: 50,
            end_ns: 80,
            majority_left: false,
        },
    ];
    assert_eq!(window_of(&faults, 10), Some(0));
    assert_eq!(window_of(&faults, 60), Some(1));
    assert_eq!(window_of(&faults, 90), Some(0));
    assert_eq!(window_of(&faults, 101), None);
}

#[test]
fn linearizability_violation_attributed_to_stuck_op_window() {
    let r = B::new()
        .fault("clock-skew", "n1", 100, 200)
        .put("r1", 1, 0, 10)
        .put("r1", 2, 20, 30)
        .read("r1", Some(1), 150, 160)
        .check();
    assert!(!r.passed());
    assert_eq!(r.linearizability[0].window, Some(0));
    let w = r
        .windows
        .iter()
        .find(|w| w.fault_index == Some(0))
        .expect("window");
    assert_eq!(w.linearizability, WindowLinearizability::Violation);
    assert_eq!(r.windows[0].linearizability, WindowLinearizability::Ok); // "none"
}
