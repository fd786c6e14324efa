//! Linearizability checking of one key's operations against a sequential
//! [`Model`]: the Wing & Gong backtracking search with Lowe's memoization of
//! (linearized-set, model-state) pairs, as used by Knossos and Porcupine.
//!
//! Keys are independent (P-compositionality), so callers check each key's
//! operations on their own.
//!
//! Indeterminate writes (`Info`) get an infinite return time: the search may
//! linearize them at any point after their invocation, or never, which is the
//! same as placing them after every other operation. The search therefore
//! succeeds as soon as every operation with a finite return time has been
//! linearized, and a model step for an indeterminate write only has to
//! describe the case where the write took effect.

use crate::history::{Op, OpKind, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;

/// Default maximum number of search steps per key.
pub const DEFAULT_MAX_STEPS: u64 = 5_000_000;
/// Default cap on the memory used by the memoization cache per key.
pub const DEFAULT_MAX_CACHE_BYTES: usize = 1 << 30;

/// What the client learned about an operation, as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Completed successfully with this result value.
    Ok { value: Option<u64> },
    /// A Cas that completed without effect because its condition was false.
    ConditionFailed,
    /// Indeterminate: the step is asked to apply the operation's effect.
    Unknown,
}

/// One operation in the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    pub kind: OpKind,
    pub response: Response,
    pub invoke_ns: u64,
    /// None = never returned (indeterminate write).
    pub return_ns: Option<u64>,
}

impl Entry {
    /// The search entry for a recorded op, or None if the op does not take
    /// part in the linearizability check: eventually consistent reads,
    /// failed ops, and indeterminate reads.
    pub fn from_op(op: &Op) -> Option<Entry> {
        let response = match (&op.kind, &op.outcome) {
            (OpKind::Read { consistent: false }, _) => return None,
            (_, Outcome::Fail { .. }) => return None,
            (OpKind::Read { .. }, Outcome::Info { .. }) => return None,
            (_, Outcome::Info { .. }) => Response::Unknown,
            (_, Outcome::Ok { value }) => Response::Ok { value: *value },
            (_, Outcome::ConditionFailed) => Response::ConditionFailed,
        };
        let return_ns = match response {
            Response::Unknown => None,
            _ => Some(op.complete_ns.max(op.invoke_ns)),
        };
        Some(Entry {
            id: op.id,
            kind: op.kind.clone(),
            response,
            invoke_ns: op.invoke_ns,
            return_ns,
        })
    }
}

/// A sequential specification.
///
/// Contract: an operation with [`Response::Unknown`] may always be treated as
/// never having taken effect (the search handles that case by not
/// linearizing it), so `step` only describes its effect when applied.
/// `step` must depend only on the state and the entry's `kind` and
/// `response` (not on its id or times).
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    fn init(&self) -> Self::State;
    /// The state after `entry` runs in `state`, or None if `entry` (with its
    /// observed response) cannot happen in `state`.
    fn step(&self, state: &Self::State, entry: &Entry) -> Option<Self::State>;
}

/// A register holding an optional u64 (`val` of a register key).
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type State = Option<u64>;

    fn init(&self) -> Option<u64> {
        None
    }

    fn step(&self, state: &Option<u64>, entry: &Entry) -> Option<Option<u64>> {
        let applied = matches!(entry.response, Response::Ok { .. } | Response::Unknown);
        match (&entry.kind, &entry.response) {
            (OpKind::Put { value }, _) if applied => Some(Some(*value)),
            (OpKind::Delete, _) if applied => Some(None),
            (OpKind::Cas { expected, new }, _) if applied => {
                (*state == Some(*expected)).then_some(Some(*new))
            }
            (OpKind::Cas { expected, .. }, Response::ConditionFailed) => {
                (*state != Some(*expected)).then_some(*state)
            }
            (OpKind::Read { .. }, Response::Ok { value }) => (state == value).then_some(*state),
            _ => None,
        }
    }
}

/// A counter (`cnt` of a counter key); absent reads as 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterModel;

impl Model for CounterModel {
    type State = u64;

    fn init(&self) -> u64 {
        0
    }

    fn step(&self, state: &u64, entry: &Entry) -> Option<u64> {
        match (&entry.kind, &entry.response) {
            (OpKind::Add, Response::Ok { value: Some(n) }) => {
                (state.checked_add(1) == Some(*n)).then_some(*n)
            }
            (OpKind::Add, Response::Ok { value: None } | Response::Unknown) => state.checked_add(1),
            (OpKind::Read { .. }, Response::Ok { value }) => {
                (*state == value.unwrap_or(0)).then_some(*state)
            }
            _ => None,
        }
    }
}

/// Limits on one key's search; exceeding either gives [`Verdict::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchLimits {
    pub max_steps: u64,
    pub max_cache_bytes: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_steps: DEFAULT_MAX_STEPS,
            max_cache_bytes: DEFAULT_MAX_CACHE_BYTES,
        }
    }
}

/// The result of checking one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Linearizable,
    NotLinearizable {
        /// Op ids of the longest linearizable prefix found, in order.
        linearized_prefix: Vec<u64>,
        /// The op whose return was reached, at that deepest point, without
        /// any way to linearize it.
        stuck_op: Option<u64>,
        /// The model state (Debug form) when it got stuck.
        stuck_state: String,
        explanation: String,
    },
    Unknown {
        reason: String,
    },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// Compact set of entry indices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn new(n: usize) -> Self {
        Bitset(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Symmetry reduction for interchangeable indeterminate ops: for each entry
/// without a return, the previous one (in invocation order) with the same
/// kind and response. Two such ops have the same effect and both stay open
/// forever, so any linearization can swap them to use the earlier-invoked
/// one first; the search only linearizes an op once its predecessor is.
/// Without this, k timed-out counter Adds multiply the search by up to 2^k.
fn interchangeable_predecessors(entries: &[Entry]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].return_ns.is_none())
        .collect();
    order.sort_by_key(|&i| (entries[i].invoke_ns, i));
    let mut last: HashMap<(&OpKind, &Response), usize> = HashMap::new();
    let mut pred = vec![None; entries.len()];
    for i in order {
        let e = &entries[i];
        pred[i] = last.insert((&e.kind, &e.response), i);
    }
    pred
}

const NIL: usize = usize::MAX;

/// Doubly linked list of call/return events in time order, with a sentinel
/// head at node 0. Lifting an operation unlinks its call and return nodes;
/// unlifting relinks them (dancing links, restored in LIFO order).
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Entry index for each node (unused for the sentinel).
    entry: Vec<usize>,
    is_return: Vec<bool>,
    /// Return node of each entry, if it has a finite return time.
    return_node: Vec<Option<usize>>,
}

impl Events {
    fn new(entries: &[Entry]) -> Self {
        let mut evs: Vec<(u64, bool, usize)> = Vec::with_capacity(entries.len() * 2);
        for (i, e) in entries.iter().enumerate() {
            evs.push((e.invoke_ns, false, i));
            if let Some(r) = e.return_ns {
                evs.push((r.max(e.invoke_ns), true, i));
            }
        }
        // Calls before returns at equal times: ties count as concurrent.
        evs.sort_unstable();
        let total = evs.len() + 1;
        let mut ev = Events {
            next: (0..total)
                .map(|i| if i + 1 < total { i + 1 } else { NIL })
                .collect(),
            prev: (0..total).map(|i| i.wrapping_sub(1)).collect(),
            entry: vec![0; total],
            is_return: vec![false; total],
            return_node: vec![None; entries.len()],
        };
        for (k, &(_, ret, i)) in evs.iter().enumerate() {
            let node = k + 1;
            ev.entry[node] = i;
            ev.is_return[node] = ret;
            if ret {
                ev.return_node[i] = Some(node);
            }
        }
        ev
    }

    fn unlink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        if n != NIL {
            self.prev[n] = x;
        }
    }

    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if let Some(r) = self.return_node[self.entry[call]] {
            self.unlink(r);
        }
    }

    fn unlift(&mut self, call: usize) {
        if let Some(r) = self.return_node[self.entry[call]] {
            self.relink(r);
        }
        self.relink(call);
    }
}

/// Checks whether `entries` (all of one key) are linearizable with respect
/// to `model`.
pub fn check_entries<M: Model>(model: &M, entries: &[Entry], limits: &SearchLimits) -> Verdict {
    let n = entries.len();
    let mut remaining_finite = entries.iter().filter(|e| e.return_ns.is_some()).count();
    if remaining_finite == 0 {
        return Verdict::Linearizable;
    }
    let mut events = Events::new(entries);
    let predecessor = interchangeable_predecessors(entries);
    let mut state = model.init();
    let mut linearized = Bitset::new(n);
    let mut cache: HashSet<(Bitset, M::State)> = HashSet::new();
    let entry_bytes = std::mem::size_of::<(Bitset, M::State)>() + linearized.0.len() * 8 + 16;
    // Stack of (call node, state before it was linearized).
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    // Longest prefix seen, maintained incrementally: best[..common] always
    // equals the current stack's entries.
    let mut best: Vec<u64> = Vec::new();
    let mut common = 0usize;
    let mut stuck: Option<(u64, String)> = None;

    let mut node = events.next[0];
    let mut steps: u64 = 0;
    loop {
        if remaining_finite == 0 {
            return Verdict::Linearizable;
        }
        steps += 1;
        if steps > limits.max_steps
            || cache.len().saturating_mul(entry_bytes) > limits.max_cache_bytes
        {
            let what = if steps > limits.max_steps {
                format!("search budget of {} steps exhausted", limits.max_steps)
            } else {
                format!("memo cache exceeded {} bytes", limits.max_cache_bytes)
            };
            return Verdict::Unknown {
                reason: format!("{what}; at most {} of {n} ops were linearized", best.len()),
            };
        }
        if node != NIL && !events.is_return[node] {
            let i = events.entry[node];
            let blocked = predecessor[i].is_some_and(|p| !linearized.get(p));
            if blocked {
                node = events.next[node];
                continue;
            }
            if let Some(next_state) = model.step(&state, &entries[i]) {
                linearized.set(i);
                if cache.insert((linearized.clone(), next_state.clone())) {
                    stack.push((node, std::mem::replace(&mut state, next_state)));
                    events.lift(node);
                    if entries[i].return_ns.is_some() {
                        remaining_finite -= 1;
                    }
                    if stack.len() > best.len() {
                        best.truncate(common);
                        best.extend(
                            stack[common..]
                                .iter()
                                .map(|(c, _)| entries[events.entry[*c]].id),
                        );
                        common = stack.len();
                        stuck = None;
                    }
                    node = events.next[0];
                    continue;
                }
                linearized.clear(i);
            }
            node = events.next[node];
            continue;
        }
        // A return event (or the end of the list): the op it belongs to had
        // to be linearized by now. Backtrack.
        if node != NIL && stuck.is_none() && stack.len() == best.len() {
            stuck = Some((entries[events.entry[node]].id, format!("{state:?}")));
        }
        let Some((call, previous)) = stack.pop() else {
            let (stuck_op, stuck_state) = match stuck {
                Some((id, s)) => (Some(id), s),
                None => (None, String::new()),
            };
            let explanation = match stuck_op {
                Some(id) => format!(
                    "linearized at most {} of {n} ops; op {id} could not be placed \
                     (model state {stuck_state}) before it returned",
                    best.len()
                ),
                None => format!("linearized at most {} of {n} ops", best.len()),
            };
            return Verdict::NotLinearizable {
                linearized_prefix: best,
                stuck_op,
                stuck_state,
                explanation,
            };
        };
        common = common.min(stack.len());
        let i = events.entry[call];
        linearized.clear(i);
        events.unlift(call);
        if entries[i].return_ns.is_some() {
            remaining_finite += 1;
        }
        state = previous;
        node = events.next[call];
    }
}

/// Convenience: checks the ops that take part in the linearizability check
/// (see [`Entry::from_op`]) with the given model.
///
/// Writes of unknown outcome may never have taken effect, so a linearization of the
/// history without some of them is one of the whole history. The search first tries
/// the history without those whose value no operation observed (no read returned it,
/// no successful Cas expected it): each of them widens the search a lot, as it may
/// take effect anywhere after its call, and the whole history is searched only when
/// that first try finds no linearization.
pub fn check_ops<'a, M: Model>(
    model: &M,
    ops: impl IntoIterator<Item = &'a Op>,
    limits: &SearchLimits,
) -> Verdict {
    let entries: Vec<Entry> = ops.into_iter().filter_map(Entry::from_op).collect();
    check_observed_first(model, &entries, limits)
}

/// [`check_entries`], first without the writes of unknown outcome whose value nothing
/// observed (see [`check_ops`]).
pub fn check_observed_first<M: Model>(
    model: &M,
    entries: &[Entry],
    limits: &SearchLimits,
) -> Verdict {
    let observed = observed_values(entries);
    let unobserved = |e: &Entry| {
        e.response == Response::Unknown
            && match e.kind {
                OpKind::Put { value } => !observed.contains(&value),
                OpKind::Cas { new, .. } => !observed.contains(&new),
                _ => false,
            }
    };
    if entries.iter().any(unobserved) {
        let observed_only: Vec<Entry> =
            entries.iter().filter(|e| !unobserved(e)).cloned().collect();
        if let verdict @ Verdict::Linearizable = check_entries(model, &observed_only, limits) {
            return verdict;
        }
    }
    check_entries(model, entries, limits)
}

/// Every value an operation saw: returned by a read, expected by a successful Cas.
fn observed_values(entries: &[Entry]) -> HashSet<u64> {
    entries
        .iter()
        .filter_map(|e| match (&e.kind, &e.response) {
            (OpKind::Read { .. }, Response::Ok { value }) => *value,
            (OpKind::Cas { expected, .. }, Response::Ok { .. }) => Some(*expected),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
}
