//! Measurements and the report: per-worker latency histograms (hdrhistogram, microseconds)
//! and error counts per operation, merged into a [`Report`] printed as an aligned table or
//! written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::workload::Op;

/// Latencies are recorded in microseconds from 1 us to 1 hour, 3 significant digits.
const HIGHEST_US: u64 = 3_600_000_000;

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

/// One worker's measurements (merged at the end; no sharing on the hot path).
pub struct Recorder {
    latency: Vec<Option<Histogram<u64>>>,
    /// Per operation (indexed like `latency`): error type -> count.
    errors: Vec<BTreeMap<String, u64>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            latency: Op::ALL.iter().map(|_| None).collect(),
            errors: Op::ALL.iter().map(|_| BTreeMap::new()).collect(),
        }
    }
}

impl Recorder {
    /// A successful operation that took `elapsed`.
    pub fn ok(&mut self, op: Op, elapsed: Duration) {
        let us = (elapsed.as_micros() as u64).max(1);
        self.latency[op.index()]
            .get_or_insert_with(new_histogram)
            .saturating_record(us);
    }

    /// A failed operation, counted under `kind`.
    pub fn error(&mut self, op: Op, kind: &str) {
        let counts = &mut self.errors[op.index()];
        match counts.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                counts.insert(kind.to_owned(), 1);
            }
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            if let Some(theirs) = theirs {
                match mine {
                    Some(h) => h.add(&theirs).expect("histograms with equal bounds merge"),
                    None => *mine = Some(theirs),
                }
            }
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            for (k, v) in theirs {
                *mine.entry(k).or_insert(0) += v;
            }
        }
    }

    pub fn ok_count(&self) -> u64 {
        self.latency.iter().flatten().map(|h| h.len()).sum()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.iter().flat_map(|m| m.values()).sum()
    }
}

/// Latency percentiles of one operation type, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Results for one operation type (or `all`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpReport {
    pub op: String,
    /// Successful operations.
    pub count: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    /// Of the successful operations.
    pub latency_us: Latency,
}

/// Failures of one type for one operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    pub op: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub count: u64,
}

/// What a run measured; printed as a table, written by `--json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub workload: String,
    pub endpoint: String,
    pub table: String,
    pub concurrency: usize,
    pub distribution: String,
    pub keys: u64,
    pub item_bytes: usize,
    /// Length of the measured phase.
    pub duration_secs: f64,
    /// One row per operation type seen.
    pub ops: Vec<OpReport>,
    /// All operation types together.
    pub total: OpReport,
    pub errors: Vec<ErrorReport>,
}

/// The run's settings that the report repeats.
pub struct RunInfo {
    pub workload: String,
    pub endpoint: String,
    pub table: String,
    pub concurrency: usize,
    pub distribution: String,
    pub keys: u64,
    pub item_bytes: usize,
}

impl Report {
    pub fn new(info: RunInfo, rec: &Recorder, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let errors_of = |op: Op| -> u64 { rec.errors[op.index()].values().sum() };
        let mut all = new_histogram();
        let mut ops = Vec::new();
        for op in Op::ALL {
            let h = rec.latency[op.index()].as_ref();
            let errors = errors_of(op);
            if h.is_none() && errors == 0 {
                continue;
            }
            if let Some(h) = h {
                all.add(h).expect("histograms with equal bounds merge");
            }
            let count = h.map(|h| h.len()).unwrap_or(0);
            ops.push(OpReport {
                op: op.name().into(),
                count,
                ops_per_sec: count as f64 / secs,
                errors,
                latency_us: h.map(Latency::of).unwrap_or_default(),
            });
        }
        let total = OpReport {
            op: "all".into(),
            count: all.len(),
            ops_per_sec: all.len() as f64 / secs,
            errors: rec.error_count(),
            latency_us: if all.is_empty() {
                Latency::default()
            } else {
                Latency::of(&all)
            },
        };
        let errors = Op::ALL
            .iter()
            .flat_map(|op| {
                rec.errors[op.index()].iter().map(|(kind, n)| ErrorReport {
                    op: op.name().into(),
                    kind: kind.clone(),
                    count: *n,
                })
            })
            .collect();
        Report {
            workload: info.workload,
            endpoint: info.endpoint,
            table: info.table,
            concurrency: info.concurrency,
            distribution: info.distribution,
            keys: info.keys,
            item_bytes: info.item_bytes,
            duration_secs: secs,
            ops,
            total,
            errors,
        }
    }

    /// The human-readable report: settings, one aligned row per operation, then errors.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "workload {} on {} (table {}), concurrency {}, {} distribution over {} keys, {}-byte items, {:.2} s measured",
            self.workload,
            self.endpoint,
            self.table,
            self.concurrency,
            self.distribution,
            self.keys,
            self.item_bytes,
            self.duration_secs
        );
        let header = [
            "op", "count", "ops/s", "errors", "mean us", "p50 us", "p90 us", "p99 us", "p99.9 us",
            "max us",
        ];
        let mut rows: Vec<[String; 10]> = Vec::new();
        let row = |r: &OpReport| {
            let l = &r.latency_us;
            [
                r.op.clone(),
                r.count.to_string(),
                format!("{:.1}", r.ops_per_sec),
                r.errors.to_string(),
                format!("{:.1}", l.mean),
                l.p50.to_string(),
                l.p90.to_string(),
                l.p99.to_string(),
                l.p99_9.to_string(),
                l.max.to_string(),
            ]
        };
        rows.extend(self.ops.iter().map(row));
        if self.ops.len() != 1 {
            rows.push(row(&self.total));
        }
        let cells: Vec<[String; 10]> = std::iter::once(header.map(String::from))
            .chain(rows)
            .collect();
        let widths: Vec<usize> = (0..10)
            .map(|i| cells.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        for r in &cells {
            let mut line = format!("{:<w$}", r[0], w = widths[0]);
            for i in 1..10 {
                let _ = write!(line, "  {:>w$}", r[i], w = widths[i]);
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let _ = writeln!(out, "errors:");
            let ow = self
                .errors
                .iter()
                .map(|e| e.op.len())
                .max()
                .unwrap_or(2)
                .max(2);
            let kw = self
                .errors
                .iter()
                .map(|e| e.kind.len())
                .max()
                .unwrap_or(4)
                .max(4);
            let _ = writeln!(out, "  {:<ow$}  {:<kw$}  {:>10}", "op", "type", "count");
            for e in &self.errors {
                let _ = writeln!(out, "  {:<ow$}  {:<kw$}  {:>10}", e.op, e.kind, e.count);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            workload: "ycsb-a".into(),
            endpoint: "http://x".into(),
            table: "bench".into(),
            concurrency: 2,
            distribution: "uniform".into(),
            keys: 10,
            item_bytes: 100,
        }
    }

    #[test]
    fn merges_and_reports() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for us in 1..=1000u64 {
            a.ok(Op::Get, Duration::from_micros(us));
        }
        b.ok(Op::Update, Duration::from_micros(5000));
        b.error(Op::Update, "ConditionalCheckFailedException");
        b.error(Op::Update, "ConditionalCheckFailedException");
        a.merge(b);
        assert_eq!(a.ok_count(), 1001);
        assert_eq!(a.error_count(), 2);
        let r = Report::new(info(), &a, Duration::from_secs(2));
        assert_eq!(r.ops.len(), 2);
        let get = &r.ops[0];
        assert_eq!((get.op.as_str(), get.count), ("get", 1000));
        assert_eq!(get.ops_per_sec, 500.0);
        assert_eq!(get.latency_us.p50, 500);
        assert!(
            (990..=991).contains(&get.latency_us.p99),
            "{:?}",
            get.latency_us
        );
        assert_eq!(get.latency_us.max, 1000);
        assert_eq!(r.total.count, 1001);
        assert_eq!(r.total.errors, 2);
        assert_eq!(r.total.latency_us.max, 5003); // 3 significant digits
        assert_eq!(r.errors[0].kind, "ConditionalCheckFailedException");
        let table = r.table();
        assert!(table.contains("ConditionalCheckFailedException"), "{table}");
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[1].starts_with("op ") && lines[1].ends_with("max us"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("get ") && lines[4].starts_with("all "),
            "{table}"
        );
        // Columns line up: every row's "ops/s" value ends where the header's does.
        let end = lines[1].find("ops/s").unwrap() + "ops/s".len();
        for l in &lines[2..5] {
            assert_eq!(&l[end..end + 2], "  ", "{table}");
        }
        let json = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
