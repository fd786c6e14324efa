//! Fault-window statistics: availability of the requests invoked in a
//! window and the time until the cluster recovered from the fault.

use super::{CheckOptions, WindowLinearizability, WindowStats};
use crate::history::{FaultWindow, Op};

pub(super) fn window_stats(
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
pub(super) fn recovery_ns(
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
