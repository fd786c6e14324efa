//! rotor-router: the stateless DynamoDB API edge.
//!
//! ```text
//!   HTTP POST /  (X-Amz-Target: DynamoDB_20120810.<Op>)
//!     conn       connections: how many at once, how long a client may take to send
//!     http       body limits, request id, CRC32, span and metrics per request
//!     operation  the Operation enum: what the target names
//!     ops/*      one file per family: validate, parse expressions, route, answer
//!     backend    the cluster as the router sees it (tables, partitions, reads, writes)
//!     cluster    that backend over gRPC to storage nodes: map watch, leaders, retries
//!     faults     injected errors and latency (--fault-injection), for retry tests
//!     error      every failure mapped once to DynamoDB's error type and status
//! ```

pub mod backend;
pub mod capacity;
pub mod cluster;
pub mod conn;
pub mod error;
pub mod faults;
pub mod http;
pub mod operation;
pub mod ops;
pub mod request;

pub use backend::{Backend, BackendError};
pub use cluster::{ClusterBackend, ClusterOptions, IndexWriteError};
pub use error::{ApiError, ApiResult};
pub use http::{serve, ServerOptions};
pub use operation::Operation;
