//! rotor-chaos: Rotor under faults, and proof that nothing was lost.
//!
//! ```text
//!   netns        test hosts: namespaces, veth pairs, a bridge; network faults (nftables)
//!   cluster      rotor node / router processes on those hosts; kill, pause, restart
//!   workload     clients recording a history (put, CAS, ADD, delete, both reads)
//!   scenario     schedules of faults injected and healed; runs and reports
//!   topology     splits, moves, drains through `rotor admin`
//!   history      the recorded operations and fault windows (JSON lines)
//!   linearizable Wing-Gong/Lowe linearizability search per key
//!   checker      lost writes, phantom values, stale reads, counters, availability
//!   report       per-fault table and JSON
//! ```

pub mod checker;
pub mod cluster;
pub mod history;
pub mod linearizable;
pub mod netns;
pub mod report;
pub mod scenario;
pub mod sessions;
pub mod topology;
pub mod workload;
