//! Per-run reports built from a history and its [`CheckResult`]: one row per
//! fault window, the list of violations in words, a plain-text table for the
//! terminal and JSON; plus a [`Suite`] combining several scenario reports.

use crate::checker::{CheckResult, CounterVerdict, LostWrite, WindowLinearizability};
use crate::history::{History, Op};
use crate::linearizable::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One fault window of one run. The no-fault window has `fault == "none"`;
/// its `recovery_secs` is always None and printed as `-`. For a fault window
/// None means it never recovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub fault: String,
    pub target: String,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub indeterminate: u64,
    pub lost_writes: u64,
    /// "ok", "VIOLATION" or "unknown".
    pub linearizability: String,
    pub recovery_secs: Option<f64>,
}

/// The report of one scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub rows: Vec<Row>,
    pub passed: bool,
    /// One human-readable line per violation (and per Unknown verdict).
    pub violations: Vec<String>,
}

/// Several scenario reports shown as one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    pub passed: bool,
    pub reports: Vec<Report>,
}

const HEADER: [&str; 9] = [
    "fault",
    "target",
    "requests",
    "ok",
    "failed",
    "indeterminate",
    "lost writes",
    "linearizable",
    "recovery s",
];
/// Columns (of [`HEADER`]) that are right-aligned.
const NUMERIC: [bool; 9] = [false, false, true, true, true, true, true, false, true];

impl Row {
    fn is_fault(&self) -> bool {
        self.fault != "none"
    }

    fn cells(&self) -> Vec<String> {
        let recovery = match self.recovery_secs {
            Some(s) => format!("{s:.2}"),
            None if self.is_fault() => "never".to_string(),
            None => "-".to_string(),
        };
        vec![
            self.fault.clone(),
            self.target.clone(),
            self.requests.to_string(),
            self.ok.to_string(),
            self.failed.to_string(),
            self.indeterminate.to_string(),
            self.lost_writes.to_string(),
            self.linearizability.clone(),
            recovery,
        ]
    }
}

fn window_label(history: &History, window: Option<usize>) -> String {
    match window.and_then(|i| history.faults.get(i).map(|f| (i, f))) {
        Some((i, f)) => format!("during fault #{i} {} {}", f.kind, f.target),
        None => "outside faults".to_string(),
    }
}

/// Every problem in `result`, one line each.
pub fn violation_lines(history: &History, result: &CheckResult) -> Vec<String> {
    let ops: HashMap<u64, &Op> = history.ops.iter().map(|o| (o.id, o)).collect();
    let describe = |id: u64| match ops.get(&id) {
        Some(op) => op.describe(),
        None => format!("op {id}"),
    };
    let mut out = Vec::new();
    for k in &result.linearizability {
        match &k.verdict {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable {
                linearized_prefix,
                stuck_op,
                stuck_state,
                ..
            } => {
                let skip = linearized_prefix.len().saturating_sub(5);
                let mut tail: Vec<String> = linearized_prefix[skip..]
                    .iter()
                    .map(u64::to_string)
                    .collect();
                if skip > 0 {
                    tail.insert(0, "...".to_string());
                }
                let stuck = match stuck_op {
                    Some(id) => format!(
                        "{} cannot be linearized (state {stuck_state})",
                        describe(*id)
                    ),
                    None => "no consistent order exists".to_string(),
                };
                out.push(format!(
                    "key {}: NOT LINEARIZABLE {}: after {} of {} ops [{}], {stuck}",
                    k.key,
                    window_label(history, k.window),
                    linearized_prefix.len(),
                    k.ops_checked,
                    tail.join(", "),
                ));
            }
            Verdict::Unknown { reason } => {
                out.push(format!("key {}: linearizability UNKNOWN: {reason}", k.key));
            }
        }
    }
    for l in &result.lost_writes {
        match l {
            LostWrite::Register {
                key,
                op_id,
                final_read_id,
                final_value,
                window,
                ..
            } => {
                let seen = match final_value {
                    Some(v) => format!("value {v}"),
                    None => "absent".to_string(),
                };
                out.push(format!(
                    "key {key}: LOST WRITE {}: acknowledged {} but final read op {final_read_id} \
                     saw {seen}, written only by requests that completed before it was sent",
                    window_label(history, *window),
                    describe(*op_id),
                ));
            }
            LostWrite::Counter {
                key,
                acked,
                indeterminate,
                final_count,
                lost,
                window,
                ..
            } => out.push(format!(
                "key {key}: LOST {lost} COUNTER ADD(S) {}: {acked} acknowledged, \
                 {indeterminate} indeterminate, final count {final_count}",
                window_label(history, *window),
            )),
        }
    }
    for p in &result.phantom_values {
        out.push(format!(
            "key {}: PHANTOM final value {} (read op {}): no put or cas ever wrote it",
            p.key, p.value, p.read_id
        ));
    }
    for c in &result.counters {
        if let CounterVerdict::OverCounted { excess } = c.verdict {
            out.push(format!(
                "key {}: COUNTER OVER-COUNT by {excess}: final {} > {} acknowledged + {} indeterminate",
                c.key,
                c.final_count.unwrap_or(0),
                c.acked,
                c.indeterminate
            ));
        }
    }
    for b in &result.stale_or_phantom_reads {
        out.push(format!(
            "key {}: BAD EVENTUALLY CONSISTENT READ {}: {}: {}",
            b.key,
            window_label(history, b.window),
            describe(b.read_id),
            b.reason
        ));
    }
    let sessions = &result.sessions;
    for (what, list) in [
        (
            "ITEM MISSING FROM AN EVENTUALLY CONSISTENT READ",
            &sessions.missing_items,
        ),
        ("READ-YOUR-WRITES BROKEN", &sessions.read_your_writes),
        ("READ WENT BACK IN TIME", &sessions.monotonic_reads),
    ] {
        for b in list {
            out.push(format!(
                "key {}: {what} {}: {}: {}",
                b.key,
                window_label(history, b.window),
                describe(b.read_id),
                b.reason
            ));
        }
    }
    for &w in &sessions.dead_windows {
        out.push(format!(
            "NO REQUEST SUCCEEDED {} although the fault left a majority up",
            window_label(history, Some(w))
        ));
    }
    out
}

fn render_table(header: &[&str], numeric: &[bool], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String], align_numbers: bool| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(numeric)
            .map(|((c, &w), &num)| {
                if num && align_numbers {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        parts.join(" | ").trim_end().to_string()
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = line(&head, false);
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&rule.join("-+-"));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row, true));
        out.push('\n');
    }
    out
}

fn verdict_word(passed: bool) -> &'static str {
    if passed {
        "PASS"
    } else {
        "FAIL"
    }
}

impl Report {
    pub fn new(scenario: &str, history: &History, result: &CheckResult) -> Report {
        let rows = result
            .windows
            .iter()
            .map(|w| Row {
                fault: w.fault.clone(),
                target: w.target.clone(),
                requests: w.requests,
                ok: w.ok,
                failed: w.failed,
                indeterminate: w.indeterminate,
                lost_writes: w.lost_writes,
                linearizability: match w.linearizability {
                    WindowLinearizability::Ok => "ok",
                    WindowLinearizability::Violation => "VIOLATION",
                    WindowLinearizability::Unknown => "unknown",
                }
                .to_string(),
                recovery_secs: w.recovery_secs(),
            })
            .collect();
        Report {
            scenario: scenario.to_string(),
            seed: history.seed,
            rows,
            passed: result.passed(),
            violations: violation_lines(history, result),
        }
    }

    /// Heading, aligned table, then the violations.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "scenario {} (seed {}): {}\n",
            self.scenario,
            self.seed,
            verdict_word(self.passed)
        );
        let rows: Vec<Vec<String>> = self.rows.iter().map(Row::cells).collect();
        out.push_str(&render_table(&HEADER, &NUMERIC, &rows));
        push_violations(&mut out, &self.violations, "");
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Combines several reports into a suite.
    pub fn merge(reports: Vec<Report>) -> Suite {
        Suite::new(reports)
    }
}

fn push_violations(out: &mut String, violations: &[String], prefix: &str) {
    if violations.is_empty() {
        return;
    }
    out.push_str(&format!("violations ({}):\n", violations.len()));
    for v in violations {
        out.push_str(&format!("  - {prefix}{v}\n"));
    }
}

impl Suite {
    pub fn new(reports: Vec<Report>) -> Suite {
        Suite {
            passed: reports.iter().all(|r| r.passed),
            reports,
        }
    }

    pub fn push(&mut self, report: Report) {
        self.reports.push(report);
        self.passed = self.reports.iter().all(|r| r.passed);
    }

    /// One table with a row per scenario and fault window, then every
    /// violation prefixed by its scenario, then a summary line.
    pub fn to_table(&self) -> String {
        let mut header = vec!["scenario", "seed", "result"];
        header.extend(HEADER);
        let mut numeric = vec![false, true, false];
        numeric.extend(NUMERIC);
        let mut rows = Vec::new();
        for r in &self.reports {
            let lead = |cells: Vec<String>| {
                let mut v = vec![
                    r.scenario.clone(),
                    r.seed.to_string(),
                    verdict_word(r.passed).to_string(),
                ];
                v.extend(cells);
                v
            };
            if r.rows.is_empty() {
                rows.push(lead(vec![String::new(); HEADER.len()]));
            }
            for row in &r.rows {
                rows.push(lead(row.cells()));
            }
        }
        let mut out = render_table(&header, &numeric, &rows);
        let violations: Vec<String> = self
            .reports
            .iter()
            .flat_map(|r| {
                r.violations
                    .iter()
                    .map(move |v| format!("[{}] {v}", r.scenario))
            })
            .collect();
        push_violations(&mut out, &violations, "");
        let failed = self.reports.iter().filter(|r| !r.passed).count();
        out.push_str(&format!(
            "{} scenario(s), {} passed, {failed} failed: {}\n",
            self.reports.len(),
            self.reports.len() - failed,
            verdict_word(self.passed)
        ));
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{check, CheckOptions};
    use crate::history::{FaultWindow, OpKind, Outcome};

    const S: u64 = 1_000_000_000;

    fn op(id: u64, key: &str, kind: OpKind, a: u64, b: u64, outcome: Outcome) -> Op {
        Op {
            id,
            client: 0,
            key: key.into(),
            kind,
            invoke_ns: a,
            complete_ns: b,
            outcome,
            is_final: false,
            router: None,
        }
    }

    fn history(lose_write: bool) -> History {
        let ok = Outcome::Ok { value: None };
        let mut ops = vec![
            op(1, "r1", OpKind::Put { value: 1 }, 0, S / 10, ok.clone()),
            op(
                2,
                "r1",
                OpKind::Put { value: 2 },
                2 * S,
                2 * S + 1,
                ok.clone(),
            ),
            op(
                3,
                "r1",
                OpKind::Put { value: 3 },
                2 * S + 5,
                3 * S,
                Outcome::Info {
                    error: "timeout".into(),
                },
            ),
            op(
                4,
                "r1",
                OpKind::Cas {
                    expected: 7,
                    new: 8,
                },
                4 * S,
                4 * S + 1,
                Outcome::Fail {
                    error: "throttled".into(),
                },
            ),
            op(
                5,
                "r1",
                OpKind::Read { consistent: true },
                5 * S,
                6 * S,
                Outcome::Ok { value: Some(2) },
            ),
        ];
        let mut fin = op(
            6,
            "r1",
            OpKind::Read { consistent: true },
            20 * S,
            20 * S + 1,
            Outcome::Ok {
                value: Some(if lose_write { 1 } else { 2 }),
            },
        );
        fin.is_final = true;
        ops.push(fin);
        History {
            seed: 99,
            faults: vec![FaultWindow {
                kind: "partition".into(),
                target: "n2".into(),
                start_ns: S,
                end_ns: 5 * S,
                majority_left: false,
            }],
            ops,
        }
    }

    fn report(scenario: &str, lose_write: bool) -> Report {
        let h = history(lose_write);
        Report::new(scenario, &h, &check(&h, &CheckOptions::default()))
    }

    #[test]
    fn passing_report() {
        let r = report("partition-minority", false);
        assert!(r.passed, "{r:#?}");
        assert!(r.violations.is_empty());
        assert_eq!(r.rows.len(), 2);
        let none = &r.rows[0];
        assert_eq!(
            (none.fault.as_str(), none.requests, none.ok),
            ("none", 1, 1)
        );
        let f = &r.rows[1];
        assert_eq!(
            (f.requests, f.ok, f.failed, f.indeterminate, f.lost_writes),
            (4, 2, 1, 1, 0)
        );
        assert_eq!(f.linearizability, "ok");
        // s0 = 1 s, first success completes at 2 s: a 1 s gap; then 6 s.
        assert_eq!(f.recovery_secs, Some(5.0));
        let table = r.to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "scenario partition-minority (seed 99): PASS");
        assert!(lines[1].starts_with("fault     | target | requests | ok | failed |"));
        assert!(lines[3].starts_with("none      | -      |        1 |  1 |"));
        assert!(lines[3].ends_with("| ok           |          -"));
        assert!(lines[4].starts_with("partition | n2     |        4 |  2 |      1 |"));
        assert!(lines[4].ends_with("| ok           |       5.00"));
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn failing_report_lists_violations() {
        let r = report("partition-minority", true);
        assert!(!r.passed);
        assert_eq!(r.rows[1].lost_writes, 1);
        // The search gets stuck on the final read, which is outside faults.
        assert_eq!(r.rows[0].linearizability, "VIOLATION");
        assert_eq!(r.rows[1].linearizability, "ok");
        let table = r.to_table();
        assert!(table.contains("FAIL"));
        assert!(
            table.contains("LOST WRITE during fault #0 partition n2"),
            "{table}"
        );
        assert!(table.contains("NOT LINEARIZABLE"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(json["passed"], false);
        assert_eq!(json["rows"][1]["lost_writes"], 1);
        assert_eq!(json["rows"][0]["recovery_secs"], serde_json::Value::Null);
        let back: Report = serde_json::from_str(&r.to_json()).expect("round trip");
        assert_eq!(back, r);
    }

    #[test]
    fn suite_combines_scenarios() {
        let mut suite = Report::merge(vec![report("a", false)]);
        assert!(suite.passed);
        suite.push(report("bb", true));
        assert!(!suite.passed);
        let table = suite.to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("scenario | seed | result | fault     |"));
        assert!(lines[2].starts_with("a        |   99 | PASS   | none      |"));
        assert!(lines[5].starts_with("bb       |   99 | FAIL   | partition |"));
        assert!(table.contains("  - [bb] key r1: LOST WRITE"));
        assert!(table.ends_with("2 scenario(s), 1 passed, 1 failed: FAIL\n"));
        let json: serde_json::Value = serde_json::from_str(&suite.to_json()).expect("json");
        assert_eq!(json["reports"].as_array().map(Vec::len), Some(2));
    }
}
