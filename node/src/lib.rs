//! rotor-node: the storage node and the `rotor` binary's commands.
//!
//! ```text
//!   local    LocalBackend: the router's Backend over this node's Store
//!   dev      `rotor dev`: the API on localhost over a local store
//!   telemetry  logging and Prometheus metrics
//! ```

pub mod dev;
pub mod local;
pub mod telemetry;
