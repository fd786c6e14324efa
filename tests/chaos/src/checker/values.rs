//! Per-key value checks: linearizability of each key's history, lost
//! acknowledged writes and phantom final values (registers), counter bounds,
//! and sanity of eventually consistent reads.

use super::{
    final_read, ok_value, window_of, BadRead, CheckOptions, CounterSummary, CounterVerdict,
    KeyModel, KeyVerdict, LostWrite, PhantomValue,
};
use crate::history::{FaultWindow, Op, OpKind};
use crate::linearizable::{check_observed_first, CounterModel, Entry, RegisterModel, Verdict};

pub(super) fn check_key_linearizability(
    key: &str,
    model: KeyModel,
    ops: &[&Op],
    faults: &[FaultWindow],
    options: &CheckOptions,
) -> KeyVerdict {
    let entries: Vec<Entry> = ops.iter().filter_map(|o| Entry::from_op(o)).collect();
    let verdict = match model {
        KeyModel::Register => check_observed_first(&RegisterModel, &entries, &options.search),
        KeyModel::Counter => check_observed_first(&CounterModel, &entries, &options.search),
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

pub(super) fn check_register_final(
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

pub(super) fn check_counter_final(
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

pub(super) fn check_register_ec_reads(
    key: &str,
    ops: &[&Op],
    faults: &[FaultWindow],
    out: &mut Vec<BadRead>,
) {
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

pub(super) fn check_counter_ec_reads(
    key: &str,
    ops: &[&Op],
    faults: &[FaultWindow],
    out: &mut Vec<BadRead>,
) {
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
