//! rotor-node: the storage node and the `rotor` binary's commands.
//!
//! ```text
//!   local      LocalBackend: the router's Backend over this node's Store
//!   dev        `rotor dev`: the API on localhost over a local store
//!   placement  the consistent-hash ring that places partition replicas on nodes
//!   telemetry  logging and Prometheus metrics
//! ```

pub mod dev;
pub mod local;
pub mod placement;
pub mod telemetry;
