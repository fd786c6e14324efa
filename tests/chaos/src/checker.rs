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

use crate::history::{FaultWindow, History, Op, OpKind, Outcome};
use crate::linearizable::{
    check_entries, CounterModel, Entry, RegisterModel, SearchLimits, Verdict,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
        counters,
        windows,
    }
}

fn check_key_linearizability(
    key: &str,
    model: KeyModel,
    ops: &[&Op],
    faults: &[FaultWindow],
    options: &CheckOptions,
) -> KeyVerdict {
    let entries: Vec<Entry> = ops.iter().filter_map(|o| Entry::from_op(o)).collect();
    let verdict = match model {
        KeyModel::Register => check_entries(&RegisterModel, &entries, &options.search),
        KeyModel::Counter => check_entries(&CounterModel, &entries, &options.search),
        KeyModel::Mixed => Verdict::Unknown {
            reason: "key mixes counter adds with register writes".to_string(),
        },
    };
    let window = match &verdict {
        Verdict::NotLinearizable {
            stuck_op,
            linearized_prefix,
            ..
        } => stuck_op
            .or_else(|| linearized_prefix.last().copied())
            .and_then(|id| ops.iter().find(|o| o.id == id))
            .and_then(|o| window_of(faults, o.invoke_ns)),
        _ => None,
    };
    KeyVerdict {
        key: key.to_string(),
        model,
        ops_checked: entries.len(),
        verdict,
        window,
    }
}

fn check_register_final(
    key: &str,
    ops: &[&Op],
    faults: &[FaultWindow],
    lost: &mut Vec<LostWrite>,
    phantoms: &mut Vec<PhantomValue>,
) {
    let Some(fin) = final_read(ops) else { return };
    let final_value = ok_value(fin);
    // Candidate sources of the final value, by completion time (Info = never
    // completes). Absent may also come from the initial state, which
    // "completed" before every write.
    let source_completions: Vec<u64> = ops
        .iter()
        .filter(|o| o.may_have_applied())
        .filter(|o| match final_value {
            Some(v) => o.kind.written_value() == Some(v),
            None => matches!(o.kind, OpKind::Delete),
        })
        .map(|o| o.effective_complete_ns())
        .collect();
    if let Some(v) = final_value {
        if source_completions.is_empty() {
            phantoms.push(PhantomValue {
                key: key.to_string(),
                read_id: fin.id,
                value: v,
                window: window_of(faults, fin.invoke_ns),
            });
            return;
        }
    }
    let latest_source = source_completions.iter().copied().max();
    for w in ops.iter().filter(|o| {
        !o.is_final
            && o.outcome.is_ok()
            && matches!(
                o.kind,
                OpKind::Put { .. } | OpKind::Delete | OpKind::Cas { .. }
            )
            && o.invoke_ns <= fin.complete_ns
    }) {
        // Lost iff every source completed before w was invoked (for an
        // absent final value with no Delete, only the initial state remains).
        let lost_w = match latest_source {
            Some(c) => c < w.invoke_ns,
            None => true,
        };
        if lost_w {
            lost.push(LostWrite::Register {
                key: key.to_string(),
                op_id: w.id,
                kind: w.kind.clone(),
                invoke_ns: w.invoke_ns,
                complete_ns: w.complete_ns,
                final_read_id: fin.id,
                final_value,
                window: window_of(faults, w.invoke_ns),
            });
        }
    }
}

fn check_counter_final(
    key: &str,
    ops: &[&Op],
    faults: &[FaultWindow],
    lost: &mut Vec<LostWrite>,
) -> CounterSummary {
    let adds = || {
        ops.iter()
            .copied()
            .filter(|o| matches!(o.kind, OpKind::Add) && !o.is_final)
    };
    let acked = adds().filter(|o| o.outcome.is_ok()).count() as u64;
    let indeterminate = adds().filter(|o| o.outcome.is_info()).count() as u64;
    let Some(fin) = final_read(ops) else {
        return CounterSummary {
            key: key.to_string(),
            acked,
            indeterminate,
            final_count: None,
            verdict: CounterVerdict::NoFinalRead,
        };
    };
    let c = ok_value(fin).unwrap_or(0);
    let verdict = if c < acked {
        let mut acked_adds: Vec<&Op> = adds().filter(|o| o.outcome.is_ok()).collect();
        acked_adds.sort_by_key(|o| (o.invoke_ns, o.id));
        let culprit = acked_adds
            .iter()
            .find(|o| ok_value(o).is_some_and(|n| n > c))
            .or(acked_adds.last());
        lost.push(LostWrite::Counter {
            key: key.to_string(),
            acked,
            indeterminate,
            final_count: c,
            lost: acked - c,
            final_read_id: fin.id,
            window: culprit.and_then(|o| window_of(faults, o.invoke_ns)),
        });
        CounterVerdict::Lost { lost: acked - c }
    } else if c > acked.saturating_add(indeterminate) {
        CounterVerdict::OverCounted {
            excess: c - acked - indeterminate,
        }
    } else {
        CounterVerdict::WithinBounds
    };
    CounterSummary {
        key: key.to_string(),
        acked,
        indeterminate,
        final_count: Some(c),
        verdict,
    }
}

fn ec_reads<'a>(ops: &'a [&'a Op]) -> impl Iterator<Item = &'a Op> + 'a {
    ops.iter()
        .copied()
        .filter(|o| matches!(o.kind, OpKind::Read { consistent: false }) && o.outcome.is_ok())
}

fn check_register_ec_reads(key: &str, ops: &[&Op], faults: &[FaultWindow], out: &mut Vec<BadRead>) {
    for r in ec_reads(ops) {
        let Some(v) = ok_value(r) else { continue };
        let mut sources = ops
            .iter()
            .filter(|w| w.may_have_applied() && w.kind.written_value() == Some(v));
        let earliest = sources.clone().map(|w| w.invoke_ns).min();
        if sources.any(|w| w.invoke_ns <= r.complete_ns) {
            continue;
        }
        let reason = match earliest {
            Some(t) => format!(
                "value {v} was first written by a request invoked at {}, after the read completed",
                crate::history::fmt_secs(t)
            ),
            None => format!("value {v} was never written"),
        };
        out.push(BadRead {
            key: key.to_string(),
            read_id: r.id,
            value: Some(v),
            reason,
            window: window_of(faults, r.invoke_ns),
        });
    }
}

fn check_counter_ec_reads(key: &str, ops: &[&Op], faults: &[FaultWindow], out: &mut Vec<BadRead>) {
    let mut add_invokes: Vec<u64> = ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Add) && o.may_have_applied())
        .map(|o| o.invoke_ns)
        .collect();
    add_invokes.sort_unstable();
    for r in ec_reads(ops) {
        let c = ok_value(r).unwrap_or(0);
        let possible = add_invokes.partition_point(|&t| t <= r.complete_ns) as u64;
        if c > possible {
            out.push(BadRead {
                key: key.to_string(),
                read_id: r.id,
                value: Some(c),
                reason: format!(
                    "count {c} exceeds the {possible} add(s) invoked before the read completed"
                ),
                window: window_of(faults, r.invoke_ns),
            });
        }
    }
}

fn window_stats(
    fault_index: Option<usize>,
    fault: &str,
    target: &str,
    start_ns: Option<u64>,
    end_ns: Option<u64>,
    ops: &[&Op],
) -> WindowStats {
    let requests = ops.len() as u64;
    let ok = ops.iter().filter(|o| o.outcome.is_success()).count() as u64;
    let failed = ops.iter().filter(|o| o.outcome.is_fail()).count() as u64;
    let indeterminate = ops.iter().filter(|o| o.outcome.is_info()).count() as u64;
    WindowStats {
        fault_index,
        fault: fault.to_string(),
        target: target.to_string(),
        start_ns,
        end_ns,
        requests,
        ok,
        failed,
        indeterminate,
        success_fraction: (requests > 0).then(|| ok as f64 / requests as f64),
        recovery_ns: None,
        lost_writes: 0,
        phantom_values: 0,
        bad_reads: 0,
        linearizability: WindowLinearizability::Ok,
    }
}

/// With s_0 = start and s_1 < s_2 < ... the completion times of successful
/// non-final ops in [start, end + grace] (cut at `next_start`, the next fault's start):
/// s_i - start for the last i with s_i - s_{i-1} > gap; 0 if there is no such gap;
/// None if no success.
fn recovery_ns(
    ops: &[Op],
    f: &FaultWindow,
    options: &CheckOptions,
    next_start: Option<u64>,
) -> Option<u64> {
    let horizon = f
        .end_ns
        .saturating_add(options.recovery_grace_ns)
        .min(next_start.unwrap_or(u64::MAX));
    let mut times: Vec<u64> = ops
        .iter()
        .filter(|o| !o.is_final && o.outcome.is_success())
        .map(|o| o.complete_ns)
        .filter(|&t| f.start_ns <= t && t <= horizon)
        .collect();
    if times.is_empty() {
        return None;
    }
    times.sort_unstable();
    times.dedup();
    let mut previous = f.start_ns;
    let mut recovered_at = f.start_ns;
    for t in times {
        if t - previous > options.gap_ns {
            recovered_at = t;
        }
        previous = t;
    }
    Some(recovered_at - f.start_ns)
}

#[cfg(test)]
mod tests {
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
            },
            FaultWindow {
                kind: "b".into(),
                target: "y".into(),
                start_ns: 50,
                end_ns: 80,
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
}
