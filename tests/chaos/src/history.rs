//! The recorded history of one chaos run (operations, their outcomes and the
//! fault windows) and its on-disk JSON form.
//!
//! # File format
//!
//! The canonical format is JSON Lines, written by [`History::to_json_lines`]
//! and [`History::save`]:
//!
//! * line 1 is a header object: `{"seed":42,"faults":[...]}`;
//! * every following non-blank line is one [`Op`] object.
//!
//! This lets a workload stream operations to disk as they complete.
//! [`History::from_json_lines`] and [`History::load`] also accept the whole
//! history as a single JSON object `{"seed":..,"faults":[..],"ops":[..]}`
//! (the form produced by [`History::to_json`]).

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// A whole run: the workload seed, every operation and every injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub seed: u64,
    #[serde(default)]
    pub faults: Vec<FaultWindow>,
    #[serde(default)]
    pub ops: Vec<Op>,
}

/// One client request and what the client learned about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub id: u64,
    pub client: u32,
    pub key: String,
    pub kind: OpKind,
    /// Nanoseconds since the run started, when the request was sent.
    pub invoke_ns: u64,
    /// When the answer came (for `Info`: when the client gave up).
    pub complete_ns: u64,
    pub outcome: Outcome,
    /// A final strongly consistent read issued after every fault was healed.
    #[serde(default)]
    pub is_final: bool,
    /// The router the request went to (index in the run's list), so that what one
    /// router promises its clients (read-your-writes, monotonic reads) can be checked.
    #[serde(default)]
    pub router: Option<u32>,
}

/// The DynamoDB request an [`Op`] issued.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// PutItem `{pk, val: value}`.
    Put { value: u64 },
    /// DeleteItem.
    Delete,
    /// UpdateItem `SET val = :new` if `val = :expected`.
    Cas { expected: u64, new: u64 },
    /// UpdateItem `ADD cnt :1`, ReturnValues UPDATED_NEW.
    Add,
    /// GetItem, strongly or eventually consistent.
    Read { consistent: bool },
}

/// What the client observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Success. Read: the value read (None = absent; for counters 0).
    /// Add: `Some(new count)`. Put/Delete/Cas: None.
    Ok { value: Option<u64> },
    /// A Cas whose condition did not hold: completed, no effect.
    ConditionFailed,
    /// Definitely not applied.
    Fail { error: String },
    /// Indeterminate: may or may not have taken effect, at any time after
    /// its invocation.
    Info { error: String },
}

/// A fault that was active from `start_ns` until it was healed at `end_ns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub kind: String,
    pub target: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The fault left a majority of every partition's replicas up and connected: some
    /// request must succeed in the window.
    #[serde(default)]
    pub majority_left: bool,
}

/// Why a history could not be read or is malformed.
#[derive(Debug)]
pub enum HistoryError {
    Io(std::io::Error),
    /// A line (1-based; 0 = the whole text) that is not valid JSON for its
    /// position in the file.
    Json {
        line: usize,
        message: String,
    },
    /// Well-formed JSON that breaks an invariant of a history.
    Invalid {
        message: String,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Io(e) => write!(f, "history I/O error: {e}"),
            HistoryError::Json { line: 0, message } => write!(f, "history JSON error: {message}"),
            HistoryError::Json { line, message } => {
                write!(f, "history JSON error on line {line}: {message}")
            }
            HistoryError::Invalid { message } => write!(f, "invalid history: {message}"),
        }
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HistoryError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for HistoryError {
    fn from(e: std::io::Error) -> Self {
        HistoryError::Io(e)
    }
}

/// The first line of the JSON Lines form. Unknown fields are rejected so that
/// a single-line whole-history object is not mistaken for a header.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    seed: u64,
    #[serde(default)]
    faults: Vec<FaultWindow>,
}

impl OpKind {
    /// Does this kind of request modify the item (if it is applied)?
    pub fn is_write(&self) -> bool {
        !matches!(self, OpKind::Read { .. })
    }

    /// The register value this request writes, if any (Put value, Cas new).
    pub fn written_value(&self) -> Option<u64> {
        match self {
            OpKind::Put { value } => Some(*value),
            OpKind::Cas { new, .. } => Some(*new),
            _ => None,
        }
    }

    /// Short human-readable form, e.g. `put 7`, `cas 3->9`, `read(ec)`.
    pub fn describe(&self) -> String {
        match self {
            OpKind::Put { value } => format!("put {value}"),
            OpKind::Delete => "delete".to_string(),
            OpKind::Cas { expected, new } => format!("cas {expected}->{new}"),
            OpKind::Add => "add".to_string(),
            OpKind::Read { consistent: true } => "read".to_string(),
            OpKind::Read { consistent: false } => "read(ec)".to_string(),
        }
    }
}

impl Outcome {
    /// Completed with a definite answer (Ok or ConditionFailed).
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Ok { .. } | Outcome::ConditionFailed)
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }

    pub fn is_info(&self) -> bool {
        matches!(self, Outcome::Info { .. })
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail { .. })
    }

    /// Short human-readable form, e.g. `ok 5`, `ok absent`, `info (timeout)`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok { value: Some(v) } => format!("ok {v}"),
            Outcome::Ok { value: None } => "ok".to_string(),
            Outcome::ConditionFailed => "condition failed".to_string(),
            Outcome::Fail { error } => format!("fail ({error})"),
            Outcome::Info { error } => format!("info ({error})"),
        }
    }
}

impl Op {
    /// A write that may have been applied: Ok or Info (not Fail, not
    /// ConditionFailed).
    pub fn may_have_applied(&self) -> bool {
        self.kind.is_write() && matches!(self.outcome, Outcome::Ok { .. } | Outcome::Info { .. })
    }

    /// Completion time for ordering purposes: Info ops never complete.
    pub fn effective_complete_ns(&self) -> u64 {
        if self.outcome.is_info() {
            u64::MAX
        } else {
            self.complete_ns
        }
    }

    /// e.g. `op 17 (client 3, put 5 -> ok, 1.200s..1.350s)`.
    pub fn describe(&self) -> String {
        format!(
            "op {} (client {}, {} -> {}, {}..{})",
            self.id,
            self.client,
            self.kind.describe(),
            self.outcome.describe(),
            fmt_secs(self.invoke_ns),
            fmt_secs(self.complete_ns)
        )
    }
}

/// Nanoseconds as seconds with millisecond precision, e.g. `1.250s`.
pub fn fmt_secs(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

impl History {
    /// Checks the invariants the checkers rely on: unique op ids,
    /// `complete_ns >= invoke_ns`, ConditionFailed only on Cas, Add results
    /// only on Add, and fault windows with `end_ns >= start_ns`.
    pub fn validate(&self) -> Result<(), HistoryError> {
        let invalid = |message: String| Err(HistoryError::Invalid { message });
        let mut ids = HashSet::with_capacity(self.ops.len());
        for op in &self.ops {
            if !ids.insert(op.id) {
                return invalid(format!("duplicate op id {}", op.id));
            }
            if op.complete_ns < op.invoke_ns {
                return invalid(format!(
                    "op {} completes ({}) before it is invoked ({})",
                    op.id, op.complete_ns, op.invoke_ns
                ));
            }
            if matches!(op.outcome, Outcome::ConditionFailed)
                && !matches!(op.kind, OpKind::Cas { .. })
            {
                return invalid(format!(
                    "op {} is not a cas but has condition_failed",
                    op.id
                ));
            }
            if let Outcome::Ok { value: Some(_) } = op.outcome {
                if matches!(
                    op.kind,
                    OpKind::Put { .. } | OpKind::Delete | OpKind::Cas { .. }
                ) {
                    return invalid(format!(
                        "op {} is a register write with a result value",
                        op.id
                    ));
                }
            }
        }
        for (i, f) in self.faults.iter().enumerate() {
            if f.end_ns < f.start_ns {
                return invalid(format!(
                    "fault window {i} ({}) ends before it starts",
                    f.kind
                ));
            }
        }
        Ok(())
    }

    /// Parses the JSON Lines format (header line, then one op per line), or
    /// a single JSON object holding the whole history. Validates the result.
    pub fn from_json_lines(text: &str) -> Result<History, HistoryError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((first_no, first)) = lines.next() else {
            return Err(HistoryError::Json {
                line: 0,
                message: "empty history".to_string(),
            });
        };
        let header: Header = match serde_json::from_str(first) {
            Ok(h) => h,
            Err(line_err) => {
                // Maybe the whole text is one (possibly pretty-printed) object.
                return match serde_json::from_str::<History>(text) {
                    Ok(h) => {
                        h.validate()?;
                        Ok(h)
                    }
                    Err(_) => Err(HistoryError::Json {
                        line: first_no + 1,
                        message: format!("bad header: {line_err}"),
                    }),
                };
            }
        };
        let mut ops = Vec::new();
        for (no, line) in lines {
            let op: Op = serde_json::from_str(line).map_err(|e| HistoryError::Json {
                line: no + 1,
                message: e.to_string(),
            })?;
            ops.push(op);
        }
        let history = History {
            seed: header.seed,
            faults: header.faults,
            ops,
        };
        history.validate()?;
        Ok(history)
    }

    /// Writes the JSON Lines format: header line then one op per line, each
    /// line terminated by `\n`.
    pub fn to_json_lines(&self) -> String {
        let header = Header {
            seed: self.seed,
            faults: self.faults.clone(),
        };
        let mut out = String::new();
        // Serializing these plain structs cannot fail (no maps with
        // non-string keys, no custom serializers).
        out.push_str(&serde_json::to_string(&header).unwrap_or_default());
        out.push('\n');
        for op in &self.ops {
            out.push_str(&serde_json::to_string(op).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// The whole history as one pretty-printed JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads and validates a history file (either format).
    pub fn load(path: impl AsRef<Path>) -> Result<History, HistoryError> {
        let text = std::fs::read_to_string(path)?;
        History::from_json_lines(&text)
    }

    /// Writes the history in the JSON Lines format.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_json_lines())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        History {
            seed: 7,
            faults: vec![FaultWindow {
                kind: "partition".into(),
                target: "n2".into(),
                start_ns: 1_000,
                end_ns: 2_000,
                majority_left: false,
            }],
            ops: vec![
                Op {
                    id: 1,
                    client: 0,
                    key: "r1".into(),
                    kind: OpKind::Put { value: 5 },
                    invoke_ns: 10,
                    complete_ns: 20,
                    outcome: Outcome::Ok { value: None },
                    is_final: false,
                    router: None,
                },
                Op {
                    id: 2,
                    client: 1,
                    key: "r1".into(),
                    kind: OpKind::Cas {
                        expected: 5,
                        new: 6,
                    },
                    invoke_ns: 15,
                    complete_ns: 40,
                    outcome: Outcome::Info {
                        error: "timeout".into(),
                    },
                    is_final: false,
                    router: None,
                },
                Op {
                    id: 3,
                    client: 1,
                    key: "r1".into(),
                    kind: OpKind::Delete,
                    invoke_ns: 50,
                    complete_ns: 60,
                    outcome: Outcome::ConditionFailed,
                    is_final: false,
                    router: None,
                },
            ],
        }
    }

    #[test]
    fn json_lines_round_trip() {
        let mut h = sample();
        h.ops.truncate(2);
        let text = h.to_json_lines();
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with(r#"{"seed":7,"faults":[{"kind":"partition""#));
        assert!(text.contains(r#""kind":{"put":{"value":5}}"#));
        assert!(text.contains(r#""outcome":{"info":{"error":"timeout"}}"#));
        let back = History::from_json_lines(&text).expect("parses");
        assert_eq!(back, h);
    }

    #[test]
    fn whole_object_form_is_accepted() {
        let mut h = sample();
        h.ops.truncate(2);
        let back = History::from_json_lines(&h.to_json()).expect("pretty object");
        assert_eq!(back, h);
        let compact = serde_json::to_string(&h).expect("serializes");
        let back = History::from_json_lines(&compact).expect("compact object");
        assert_eq!(back, h);
    }

    #[test]
    fn unit_variants_and_defaults() {
        let text = "{\"seed\":1}\n\n{\"id\":9,\"client\":2,\"key\":\"c1\",\"kind\":\"add\",\
                    \"invoke_ns\":1,\"complete_ns\":2,\"outcome\":{\"ok\":{\"value\":3}}}\n";
        let h = History::from_json_lines(text).expect("parses");
        assert!(h.faults.is_empty());
        assert_eq!(h.ops[0].kind, OpKind::Add);
        assert!(!h.ops[0].is_final);
        assert_eq!(h.ops[0].outcome, Outcome::Ok { value: Some(3) });
    }

    #[test]
    fn errors_are_typed() {
        let h = sample(); // op 3: condition_failed on a delete
        match History::from_json_lines(&h.to_json_lines()) {
            Err(HistoryError::Invalid { message }) => assert!(message.contains("op 3")),
            other => panic!("expected Invalid, got {other:?}"),
        }
        match History::from_json_lines("{\"seed\":1}\n{\"id\":1}\n") {
            Err(HistoryError::Json { line: 2, .. }) => {}
            other => panic!("expected Json error on line 2, got {other:?}"),
        }
        assert!(matches!(
            History::from_json_lines("not json"),
            Err(HistoryError::Json { line: 1, .. })
        ));
        assert!(matches!(
            History::from_json_lines(""),
            Err(HistoryError::Json { line: 0, .. })
        ));
        assert!(matches!(
            History::load("/nonexistent/rotor-chaos/history.jsonl"),
            Err(HistoryError::Io(_))
        ));
    }

    #[test]
    fn save_and_load() {
        let mut h = sample();
        h.ops.truncate(2);
        let path = std::env::temp_dir().join(format!("rotor-chaos-{}.jsonl", std::process::id()));
        h.save(&path).expect("save");
        let back = History::load(&path).expect("load");
        let _ = std::fs::remove_file(&path);
        assert_eq!(back, h);
    }
}
