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
#[path = "linearizable_tests.rs"]
mod tests;
