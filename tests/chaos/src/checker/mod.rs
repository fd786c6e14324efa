//! All checks over one history: per-key linearizability, lost acknowledged
//! writes, phantom final values, eventually consistent read sanity, counter
//! bounds and per-fault-window availability/recovery, combined into a
//! [`CheckResult`].
//!
//! Window attribution: an op belongs to the fault window whose
//! `[start_ns, end_ns]` contains its invocation time (the latest-starting
//! one if several overlap), otherwise to the no-fault window "none" (before
//! the first fault, between faults and after the last heal). Final reads are
//! not counted as requests of any window.

mod values;
mod windows;

#[cfg(test)]
mod tests;

use crate::history::{FaultWindow, History, Op, OpKind, Outcome};
use crate::linearizable::{SearchLimits, Verdict};
use serde::{Deserialize, Serialize};

use crate::sessions::SessionFindings;
use std::collections::BTreeMap;
use values::{
    check_counter_ec_reads, check_counter_final, check_key_linearizability,
    check_register_ec_reads, check_register_final,
};
use windows::{recovery_ns, window_stats};

/// Tunables of [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOptions {
    /// Per-key limits of the linearizability search.
    pub search: SearchLimits,
    /// How long after a fault heals successes still count for its recovery.
    pub recovery_grace_ns: u64,
    /// A gap between successes longer than this counts as unavailability.
    pub gap_ns: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            search: SearchLimits::default(),
            recovery_grace_ns: 10_000_000_000,
            gap_ns: 500_000_000,
        }
    }
}

/// Which sequential model a key was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyModel {
    Register,
    Counter,
    /// Both Add and register writes: not checkable, verdict Unknown.
    Mixed,
}

/// Linearizability verdict for one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVerdict {
    pub key: String,
    pub model: KeyModel,
    /// Ops that entered the search.
    pub ops_checked: usize,
    pub verdict: Verdict,
    /// Fault window (index into `History::faults`) of the stuck op when not
    /// linearizable; None = no fault.
    pub window: Option<usize>,
}

/// An acknowledged write that the final read shows was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostWrite {
    Register {
        key: String,
        op_id: u64,
        kind: OpKind,
        invoke_ns: u64,
        complete_ns: u64,
        final_read_id: u64,
        final_value: Option<u64>,
        window: Option<usize>,
    },
    /// `acked - final_count` acknowledged Adds are missing.
    Counter {
        key: String,
        acked: u64,
        indeterminate: u64,
        final_count: u64,
        lost: u64,
        final_read_id: u64,
        /// Window of the first acknowledged Add whose returned count exceeds
        /// the final count (else of the last acknowledged Add).
        window: Option<usize>,
    },
}

impl LostWrite {
    pub fn window(&self) -> Option<usize> {
        match self {
            LostWrite::Register { window, .. } | LostWrite::Counter { window, .. } => *window,
        }
    }
    /// Number of writes lost.
    pub fn count(&self) -> u64 {
        match self {
            LostWrite::Register { .. } => 1,
            LostWrite::Counter { lost, .. } => *lost,
        }
    }
}

/// A final read of a value that no write (Ok or Info) ever wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhantomValue {
    pub key: String,
    pub read_id: u64,
    pub value: u64,
    pub window: Option<usize>,
}

/// An eventually consistent read that returned something impossible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRead {
    pub key: String,
    pub read_id: u64,
    pub value: Option<u64>,
    pub reason: String,
    pub window: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterVerdict {
    /// `acked <= final <= acked + indeterminate`.
    WithinBounds,
    Lost {
        lost: u64,
    },
    OverCounted {
        excess: u64,
    },
    /// No successful final read: bounds not checked.
    NoFinalRead,
}

/// Per counter key: A (Ok Adds), I (Info Adds), final count c, verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSummary {
    pub key: String,
    pub acked: u64,
    pub indeterminate: u64,
    pub final_count: Option<u64>,
    pub verdict: CounterVerdict,
}

impl CounterSummary {
    pub fn in_bounds(&self) -> bool {
        !matches!(
            self.verdict,
            CounterVerdict::Lost { .. } | CounterVerdict::OverCounted { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowLinearizability {
    Ok,
    Violation,
    Unknown,
}

/// Availability and violations of one fault window (or of "none").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// Index into `History::faults`; None = the no-fault window.
    pub fault_index: Option<usize>,
    /// Fault kind, or "none".
    pub fault: String,
    /// Fault target, or "-".
    pub target: String,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    pub requests: u64,
    /// Ok + ConditionFailed.
    pub ok: u64,
    pub failed: u64,
    pub indeterminate: u64,
    /// ok / requests; None without requests.
    pub success_fraction: Option<f64>,
    /// Time from the fault's start to the end of the last long gap between
    /// successes; None = never recovered (or not a fault window).
    pub recovery_ns: Option<u64>,
    /// Lost writes attributed here (a counter loss counts its lost Adds).
    pub lost_writes: u64,
    pub phantom_values: u64,
    pub bad_reads: u64,
    pub linearizability: WindowLinearizability,
}

impl WindowStats {
    pub fn recovery_secs(&self) -> Option<f64> {
        self.recovery_ns.map(|ns| ns as f64 / 1e9)
    }
}

/// Counts of all ops by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts {
    pub total: u64,
    pub ok: u64,
    pub condition_failed: u64,
    pub failed: u64,
    pub indeterminate: u64,
}

/// Everything [`check`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub counts: OpCounts,
    /// One entry per key, sorted by key.
    pub linearizability: Vec<KeyVerdict>,
    pub lost_writes: Vec<LostWrite>,
    pub phantom_values: Vec<PhantomValue>,
    pub stale_or_phantom_reads: Vec<BadRead>,
    /// What clients saw through one router, items missing, windows without a success.
    #[serde(default)]
    pub sessions: SessionFindings,
    pub counters: Vec<CounterSummary>,
    /// The "none" window first (if present), then one per fault in order.
    pub windows: Vec<WindowStats>,
}

impl CheckResult {
    /// True only if every key is linearizable (Unknown fails), nothing was
    /// lost, no phantom values, no bad eventually consistent reads and every
    /// counter is within bounds.
    pub fn passed(&self) -> bool {
        self.linearizability
            .iter()
            .all(|k| k.verdict.is_linearizable())
            && self.lost_writes.is_empty()
            && self.phantom_values.is_empty()
            && self.stale_or_phantom_reads.is_empty()
            && self.counters.iter().all(CounterSummary::in_bounds)
            && self.sessions.is_empty()
    }
}

/// The fault window an instant belongs to: the latest-starting window that
/// contains it (ties: the later one in the list); None = no fault.
pub fn window_of(faults: &[FaultWindow], t_ns: u64) -> Option<usize> {
    faults
        .iter()
        .enumerate()
        .filter(|(_, f)| f.start_ns <= t_ns && t_ns <= f.end_ns)
        .max_by_key(|(i, f)| (f.start_ns, *i))
        .map(|(i, _)| i)
}

fn model_of(ops: &[&Op]) -> KeyModel {
    let adds = ops.iter().any(|o| matches!(o.kind, OpKind::Add));
    let reg_writes = ops.iter().any(|o| {
        matches!(
            o.kind,
            OpKind::Put { .. } | OpKind::Delete | OpKind::Cas { .. }
        )
    });
    match (adds, reg_writes) {
        (true, true) => KeyModel::Mixed,
        (true, false) => KeyModel::Counter,
        _ => KeyModel::Register,
    }
}

/// The successful final read of a key, if any (the last one to complete).
fn final_read<'a>(ops: &[&'a Op]) -> Option<&'a Op> {
    ops.iter()
        .copied()
        .filter(|o| o.is_final && matches!(o.kind, OpKind::Read { .. }) && o.outcome.is_ok())
        .max_by_key(|o| (o.complete_ns, o.id))
}

fn ok_value(op: &Op) -> Option<u64> {
    match op.outcome {
        Outcome::Ok { value } => value,
        _ => None,
    }
}

/// Runs every check.
pub fn check(history: &History, options: &CheckOptions) -> CheckResult {
    let faults = &history.faults;
    let win = |op: &Op| window_of(faults, op.invoke_ns);

    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &history.ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }

    let mut counts = OpCounts::default();
    for op in &history.ops {
        counts.total += 1;
        match op.outcome {
            Outcome::Ok { .. } => counts.ok += 1,
            Outcome::ConditionFailed => counts.condition_failed += 1,
            Outcome::Fail { .. } => counts.failed += 1,
            Outcome::Info { .. } => counts.indeterminate += 1,
        }
    }

    let mut linearizability = Vec::new();
    let mut lost_writes = Vec::new();
    let mut phantom_values = Vec::new();
    let mut bad_reads = Vec::new();
    let mut counters = Vec::new();

    for (&key, ops) in &by_key {
        let model = model_of(ops);
        linearizability.push(check_key_linearizability(key, model, ops, faults, options));
        match model {
            KeyModel::Register => {
                check_register_final(key, ops, faults, &mut lost_writes, &mut phantom_values);
                check_register_ec_reads(key, ops, faults, &mut bad_reads);
            }
            KeyModel::Counter => {
                counters.push(check_counter_final(key, ops, faults, &mut lost_writes));
                check_counter_ec_reads(key, ops, faults, &mut bad_reads);
            }
            KeyModel::Mixed => {}
        }
    }

    // Windows.
    let mut windows = Vec::new();
    let outside: Vec<&Op> = history
        .ops
        .iter()
        .filter(|o| !o.is_final && win(o).is_none())
        .collect();
    let none_has_violation = lost_writes.iter().any(|l| l.window().is_none())
        || phantom_values.iter().any(|p| p.window.is_none())
        || bad_reads.iter().any(|b| b.window.is_none())
        || linearizability
            .iter()
            .any(|k| !k.verdict.is_linearizable() && k.window.is_none());
    if !outside.is_empty() || none_has_violation {
        let mut w = window_stats(None, "none", "-", None, None, &outside);
        w.recovery_ns = None;
        windows.push(w);
    }
    for (i, f) in faults.iter().enumerate() {
        let inside: Vec<&Op> = history
            .ops
            .iter()
            .filter(|o| !o.is_final && f.start_ns <= o.invoke_ns && o.invoke_ns <= f.end_ns)
            .collect();
        let mut w = window_stats(
            Some(i),
            &f.kind,
            &f.target,
            Some(f.start_ns),
            Some(f.end_ns),
            &inside,
        );
        // The next fault ends this one's recovery window (in a soak they follow closely).
        let next_start = history
            .faults
            .iter()
            .map(|g| g.start_ns)
            .filter(|&s| s > f.start_ns)
            .min();
        w.recovery_ns = recovery_ns(&history.ops, f, options, next_start);
        windows.push(w);
    }
    for w in &mut windows {
        let idx = w.fault_index;
        w.lost_writes = lost_writes
            .iter()
            .filter(|l| l.window() == idx)
            .map(LostWrite::count)
            .sum();
        w.phantom_values = phantom_values.iter().filter(|p| p.window == idx).count() as u64;
        w.bad_reads = bad_reads.iter().filter(|b| b.window == idx).count() as u64;
        let violation = linearizability
            .iter()
            .any(|k| matches!(k.verdict, Verdict::NotLinearizable { .. }) && k.window == idx);
        let unknown = linearizability.iter().any(|k| {
            matches!(k.verdict, Verdict::Unknown { .. })
                && by_key
                    .get(k.key.as_str())
                    .is_some_and(|ops| ops.iter().any(|o| !o.is_final && win(o) == idx))
        });
        w.linearizability = if violation {
            WindowLinearizability::Violation
        } else if unknown {
            WindowLinearizability::Unknown
        } else {
            WindowLinearizability::Ok
        };
    }

    CheckResult {
        counts,
        linearizability,
        lost_writes,
        phantom_values,
        stale_or_phantom_reads: bad_reads,
        sessions: crate::sessions::check_sessions(history),
        counters,
        windows,
    }
}
