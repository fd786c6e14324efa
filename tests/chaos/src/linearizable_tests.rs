//! Tests of the linearizability search: histories that must pass, that must fail, and
//! random ones with one read mutated.

use super::*;

fn e(id: u64, kind: OpKind, response: Response, invoke: u64, ret: Option<u64>) -> Entry {
    Entry {
        id,
        kind,
        response,
        invoke_ns: invoke,
        return_ns: ret,
    }
}
fn put(id: u64, v: u64, a: u64, b: u64) -> Entry {
    e(
        id,
        OpKind::Put { value: v },
        Response::Ok { value: None },
        a,
        Some(b),
    )
}
fn put_info(id: u64, v: u64, a: u64) -> Entry {
    e(id, OpKind::Put { value: v }, Response::Unknown, a, None)
}
fn del(id: u64, a: u64, b: u64) -> Entry {
    e(id, OpKind::Delete, Response::Ok { value: None }, a, Some(b))
}
fn cas(id: u64, x: u64, y: u64, r: Response, a: u64, b: Option<u64>) -> Entry {
    e(
        id,
        OpKind::Cas {
            expected: x,
            new: y,
        },
        r,
        a,
        b,
    )
}
fn read(id: u64, v: Option<u64>, a: u64, b: u64) -> Entry {
    e(
        id,
        OpKind::Read { consistent: true },
        Response::Ok { value: v },
        a,
        Some(b),
    )
}
fn add(id: u64, n: Option<u64>, a: u64, b: Option<u64>) -> Entry {
    let r = match b {
        Some(_) => Response::Ok { value: n },
        None => Response::Unknown,
    };
    e(id, OpKind::Add, r, a, b)
}
fn ok() -> Response {
    Response::Ok { value: None }
}
fn reg(entries: &[Entry]) -> Verdict {
    check_entries(&RegisterModel, entries, &SearchLimits::default())
}
fn cnt(entries: &[Entry]) -> Verdict {
    check_entries(&CounterModel, entries, &SearchLimits::default())
}
fn assert_rejected(v: &Verdict, stuck: u64) {
    match v {
        Verdict::NotLinearizable { stuck_op, .. } => assert_eq!(*stuck_op, Some(stuck)),
        other => panic!("expected NotLinearizable, got {other:?}"),
    }
}

// ---- must be rejected ----

#[test]
fn stale_read_after_acknowledged_write_is_rejected() {
    let h = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 30),
        read(3, Some(1), 40, 50),
    ];
    assert_rejected(&reg(&h), 3);
}

#[test]
fn two_concurrent_cas_from_same_value_both_succeeding_is_rejected() {
    let h = [
        put(1, 1, 0, 10),
        cas(2, 1, 2, ok(), 20, Some(40)),
        cas(3, 1, 3, ok(), 25, Some(45)),
    ];
    assert!(!reg(&h).is_linearizable());
}

#[test]
fn read_of_never_written_value_is_rejected() {
    let h = [put(1, 1, 0, 10), read(2, Some(99), 5, 20)];
    assert_rejected(&reg(&h), 2);
}

#[test]
fn duplicate_counter_result_is_rejected() {
    let h = [add(1, Some(1), 0, Some(10)), add(2, Some(1), 5, Some(15))];
    assert!(!cnt(&h).is_linearizable());
}

#[test]
fn lost_acknowledged_write_seen_by_final_read_is_rejected() {
    let h = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 30),
        read(3, Some(1), 1_000, 1_010), // final read
    ];
    assert_rejected(&reg(&h), 3);
}

#[test]
fn counter_read_below_acknowledged_adds_is_rejected() {
    let h = [
        add(1, Some(1), 0, Some(10)),
        add(2, Some(2), 20, Some(30)),
        read(3, Some(1), 40, 50),
    ];
    assert_rejected(&cnt(&h), 3);
}

#[test]
fn condition_failed_with_matching_value_is_rejected() {
    let h = [
        put(1, 1, 0, 10),
        cas(2, 1, 5, Response::ConditionFailed, 20, Some(30)),
    ];
    assert_rejected(&reg(&h), 2);
}

// ---- must pass ----

#[test]
fn concurrent_write_and_read_in_either_order() {
    // Read overlaps the write: may see the old or the new value.
    let old = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 40),
        read(3, Some(1), 25, 35),
    ];
    let new = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 40),
        read(3, Some(2), 25, 35),
    ];
    assert_eq!(reg(&old), Verdict::Linearizable);
    assert_eq!(reg(&new), Verdict::Linearizable);
    // Two overlapping writes may be ordered either way...
    for last in [1, 2] {
        let h = [
            put(1, 1, 0, 30),
            put(2, 2, 10, 20),
            read(3, Some(last), 35, 40),
        ];
        assert_eq!(reg(&h), Verdict::Linearizable, "last write {last}");
    }
    // ...but not both ways at once once both have completed.
    let h = [
        put(1, 1, 0, 30),
        put(2, 2, 10, 20),
        read(3, Some(1), 35, 40),
        read(4, Some(2), 45, 50),
        read(5, Some(1), 55, 60),
    ];
    assert!(!reg(&h).is_linearizable());
}

#[test]
fn equal_timestamps_count_as_concurrent() {
    let h = [
        put(1, 1, 0, 10),
        put(2, 2, 10, 20),
        read(3, Some(1), 20, 30),
    ];
    assert_eq!(reg(&h), Verdict::Linearizable);
}

#[test]
fn info_writes_that_did_or_did_not_take_effect() {
    let took_effect = [
        put(1, 1, 0, 10),
        put_info(2, 2, 20),
        read(3, Some(2), 1_000, 1_010),
    ];
    let did_not = [
        put(1, 1, 0, 10),
        put_info(2, 2, 20),
        read(3, Some(1), 1_000, 1_010),
    ];
    // Took effect late: read 1, then read 2.
    let late = [
        put(1, 1, 0, 10),
        put_info(2, 2, 20),
        read(3, Some(1), 100, 110),
        read(4, Some(2), 200, 210),
    ];
    assert_eq!(reg(&took_effect), Verdict::Linearizable);
    assert_eq!(reg(&did_not), Verdict::Linearizable);
    assert_eq!(reg(&late), Verdict::Linearizable);
    // But it cannot take effect before it was invoked.
    let early = [read(1, Some(2), 0, 10), put_info(2, 2, 20)];
    assert_rejected(&reg(&early), 1);
    // And it cannot take effect twice.
    let twice = [
        put_info(1, 1, 0),
        read(2, Some(1), 10, 20),
        put(3, 3, 30, 40),
        read(4, Some(1), 50, 60),
    ];
    assert_rejected(&reg(&twice), 4);
}

#[test]
fn info_cas_may_apply_or_not() {
    let applied = [
        put(1, 1, 0, 10),
        cas(2, 1, 2, Response::Unknown, 20, None),
        read(3, Some(2), 100, 110),
    ];
    let not_applied = [
        put(1, 1, 0, 10),
        cas(2, 1, 2, Response::Unknown, 20, None),
        read(3, Some(1), 100, 110),
    ];
    assert_eq!(reg(&applied), Verdict::Linearizable);
    assert_eq!(reg(&not_applied), Verdict::Linearizable);
    // Cannot apply when the expected value was never there.
    let impossible = [
        put(1, 5, 0, 10),
        cas(2, 1, 2, Response::Unknown, 20, None),
        read(3, Some(2), 100, 110),
    ];
    assert!(!reg(&impossible).is_linearizable());
}

#[test]
fn condition_failed_placed_correctly() {
    // Cas(1->3) fails because the concurrent put 2 went first.
    let h = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 40),
        cas(3, 1, 3, Response::ConditionFailed, 25, Some(35)),
        read(4, Some(2), 50, 60),
    ];
    assert_eq!(reg(&h), Verdict::Linearizable);
    // Concurrent Cas pair from the same value: one wins, one fails.
    let h = [
        put(1, 1, 0, 10),
        cas(2, 1, 2, ok(), 20, Some(40)),
        cas(3, 1, 3, Response::ConditionFailed, 25, Some(45)),
        read(4, Some(2), 50, 60),
    ];
    assert_eq!(reg(&h), Verdict::Linearizable);
    // On an absent item every Cas fails.
    let h = [
        del(1, 0, 10),
        cas(2, 1, 2, Response::ConditionFailed, 20, Some(30)),
    ];
    assert_eq!(reg(&h), Verdict::Linearizable);
}

#[test]
fn counter_with_info_adds() {
    let h = [
        add(1, Some(1), 0, Some(10)),
        add(2, None, 5, None),
        add(3, Some(3), 20, Some(30)),
        read(4, Some(3), 40, 50),
    ];
    assert_eq!(cnt(&h), Verdict::Linearizable);
    let h = [
        add(1, Some(1), 0, Some(10)),
        add(2, None, 5, None),
        read(3, Some(1), 40, 50),
    ];
    assert_eq!(cnt(&h), Verdict::Linearizable);
    let h = [add(1, Some(1), 0, Some(10)), read(2, None, 40, 50)];
    assert!(!cnt(&h).is_linearizable());
}

#[test]
fn budget_exhaustion_is_unknown_not_ok() {
    let h = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 30),
        read(3, Some(2), 40, 50),
    ];
    let limits = SearchLimits {
        max_steps: 2,
        ..SearchLimits::default()
    };
    assert!(matches!(
        check_entries(&RegisterModel, &h, &limits),
        Verdict::Unknown { .. }
    ));
}

#[test]
fn prefix_reports_the_longest_linearization() {
    let h = [
        put(1, 1, 0, 10),
        put(2, 2, 20, 30),
        read(3, Some(1), 40, 50),
    ];
    match reg(&h) {
        Verdict::NotLinearizable {
            linearized_prefix,
            stuck_state,
            ..
        } => {
            assert_eq!(linearized_prefix, vec![1, 2]);
            assert_eq!(stuck_state, "Some(2)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn many_indeterminate_adds_stay_cheap() {
    // 60 acknowledged adds interleaved with 40 timed-out ones, reads in
    // between; then the same with one read off by one.
    let mut h = Vec::new();
    let mut count = 0u64;
    let mut id = 0u64;
    for i in 0..100u64 {
        let t = i * 100;
        id += 1;
        if i % 5 < 2 {
            h.push(add(id, None, t, None)); // never applied
        } else {
            count += 1;
            h.push(add(id, Some(count), t, Some(t + 50)));
            id += 1;
            h.push(read(id, Some(count), t + 60, t + 90));
        }
    }
    let limits = SearchLimits {
        max_steps: 200_000,
        ..SearchLimits::default()
    };
    assert_eq!(
        check_entries(&CounterModel, &h, &limits),
        Verdict::Linearizable
    );
    let last_read = h.len() - 1;
    h[last_read].response = Response::Ok {
        value: Some(count + 41),
    };
    assert!(matches!(
        check_entries(&CounterModel, &h, &limits),
        Verdict::NotLinearizable { .. }
    ));
    h[last_read].response = Response::Ok {
        value: Some(count + 40),
    };
    assert_eq!(
        check_entries(&CounterModel, &h, &limits),
        Verdict::Linearizable
    );
}

// ---- randomized ----

/// xorshift64*: a tiny deterministic generator for tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs a sequential register, then widens each op's interval randomly
/// around its linearization point (spaced `gap` apart).
fn random_register_history(seed: u64, n: usize, info_every: u64) -> Vec<Entry> {
    let mut rng = Rng(seed);
    let mut state: Option<u64> = None;
    let mut written: Vec<u64> = Vec::new();
    let mut next_value = 1u64;
    let gap = 100u64;
    let width = 350u64; // up to ~7 ops concurrent
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = 1_000 + i as u64 * gap;
        let invoke = t - rng.below(width);
        let ret = t + rng.below(width);
        let info = info_every > 0 && rng.below(info_every) == 0;
        let id = i as u64 + 1;
        let entry = match rng.below(10) {
            0..=2 => {
                let v = next_value;
                next_value += 1;
                written.push(v);
                if info {
                    if rng.below(2) == 0 {
                        state = Some(v);
                    }
                    put_info(id, v, invoke)
                } else {
                    state = Some(v);
                    put(id, v, invoke, ret)
                }
            }
            3 if !info => {
                state = None;
                del(id, invoke, ret)
            }
            4..=5 => {
                let new = next_value;
                next_value += 1;
                written.push(new);
                let succeed = rng.below(2) == 0 && state.is_some();
                let expected = match (succeed, state) {
                    (true, Some(v)) => v,
                    _ if !written.is_empty() => {
                        let w = written[rng.below(written.len() as u64) as usize];
                        if Some(w) == state {
                            w + 1_000_000
                        } else {
                            w
                        }
                    }
                    _ => 1_000_000,
                };
                if info {
                    let applied = Some(expected) == state && rng.below(2) == 0;
                    if applied {
                        state = Some(new);
                    }
                    cas(id, expected, new, Response::Unknown, invoke, None)
                } else if Some(expected) == state {
                    state = Some(new);
                    cas(id, expected, new, ok(), invoke, Some(ret))
                } else {
                    cas(
                        id,
                        expected,
                        new,
                        Response::ConditionFailed,
                        invoke,
                        Some(ret),
                    )
                }
            }
            _ => read(id, state, invoke, ret),
        };
        out.push(entry);
    }
    out
}

#[test]
fn random_linearizable_histories_pass() {
    for seed in 1..=6u64 {
        let h = random_register_history(seed * 7919, 300, 10);
        assert_eq!(reg(&h), Verdict::Linearizable, "seed {seed}");
    }
}

#[test]
fn random_histories_with_one_mutated_read_fail() {
    for seed in 1..=4u64 {
        let mut h = random_register_history(seed * 104_729, 300, 10);
        // Make a read in the middle return a value that was never written.
        let idx = h[..h.len() / 2]
            .iter()
            .rposition(|e| matches!(e.kind, OpKind::Read { .. }))
            .expect("has reads");
        h[idx].response = Response::Ok {
            value: Some(987_654_321),
        };
        assert_rejected(&reg(&h), h[idx].id);
    }
}

#[test]
fn random_history_with_stale_read_fails() {
    let mut h = random_register_history(4242, 300, 0);
    // Find w_u -> w' (w' overwrote u, strictly after w_u in real time)
    // and a read strictly after w'; make that read return u.
    let mut found = None;
    'outer: for (a, wu) in h.iter().enumerate() {
        let Some(u) = wu.kind.written_value() else {
            continue;
        };
        if !matches!(wu.response, Response::Ok { .. }) {
            continue;
        }
        for (b, w2) in h.iter().enumerate().skip(a + 1) {
            if !w2.kind.is_write() || !matches!(w2.response, Response::Ok { .. }) {
                continue;
            }
            let (Some(wu_ret), Some(w2_ret)) = (wu.return_ns, w2.return_ns) else {
                continue;
            };
            if wu_ret >= w2.invoke_ns {
                continue;
            }
            if let Some(r) = h
                .iter()
                .skip(b + 1)
                .position(|r| matches!(r.kind, OpKind::Read { .. }) && r.invoke_ns > w2_ret)
            {
                found = Some((b + 1 + r, u));
                break 'outer;
            }
        }
    }
    let (idx, u) = found.expect("a stale-read candidate exists");
    h[idx].response = Response::Ok { value: Some(u) };
    assert!(!reg(&h).is_linearizable());
}

#[test]
fn unobserved_writes_of_unknown_outcome_are_tried_without_first() {
    // Twenty writes of unknown outcome nobody saw, around reads of one value.
    let mut entries = vec![put(1, 5, 0, 10)];
    for i in 0..20 {
        entries.push(put_info(100 + i, 1000 + i, 20 + i));
    }
    for i in 0..30 {
        entries.push(read(200 + i, Some(5), 50 + 10 * i, 55 + 10 * i));
    }
    let limits = SearchLimits::default();
    assert!(check_observed_first(&RegisterModel, &entries, &limits).is_linearizable());
    // A failed Cas that only an unseen write explains: found by the whole search.
    let explained = vec![
        put(1, 5, 0, 10),
        put_info(2, 6, 20),
        cas(3, 5, 7, Response::ConditionFailed, 40, Some(50)),
    ];
    assert!(check_observed_first(&RegisterModel, &explained, &limits).is_linearizable());
    // A stale read stays a violation.
    let stale = vec![
        put(1, 5, 0, 10),
        put(2, 6, 20, 30),
        put_info(3, 9, 35),
        read(4, Some(5), 40, 50),
    ];
    assert!(!check_observed_first(&RegisterModel, &stale, &limits).is_linearizable());
}
