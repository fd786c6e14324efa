//! rotor-fuzz: the fuzz targets' bodies. Each takes arbitrary bytes, feeds them to one
//! of Rotor's parsers of client input and checks what must hold whatever the input:
//! no panic, and the target's own property (a round trip, an order).
//!
//! ```text
//!   targets   attribute_value, expression, key_encoding, request: one fn each
//!   memory    an in-memory Backend, so whole requests run through the router's ops
//! ```
//!
//! libFuzzer drives them from `fuzz/` (`cargo fuzz`, see the README); the tests replay
//! the seed corpus (`corpus/<target>/`) and every crash ever found, in plain
//! `cargo test`.

pub mod memory;
pub mod targets;

/// A fuzz target: returns normally on any input, panics on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/` and the corpus folders name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("attribute_value", targets::attribute_value),
    ("expression", targets::expression),
    ("key_encoding", targets::key_encoding),
    ("request", targets::request),
];
