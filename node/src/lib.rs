//! rotor-node: the storage node and the `rotor` binary's commands.
//!
//! ```text
//!   host        a node: its RocksDB, the metadata replica, a raft group per partition
//!   index       global secondary indexes: fed from base partitions' change logs
//!   service     the node's gRPC services (partition reads/writes, cluster, raft)
//!   raft        openraft types, log store, state machines and network
//!   meta        how metadata commands change the cluster map (placement included)
//!   load        per-partition metering (capacity units served, sampled tokens)
//!   autoscaler  on the metadata leader: splits hot and large partitions, and tables
//!               to their WarmThroughput
//!   capacity_scaling  target-tracking auto scaling of provisioned capacity
//!   changelog   partitions' change logs: their protobuf records, which partitions keep one
//!   placement   the consistent-hash ring that places partition replicas on nodes
//!   node_cmd    `rotor node` (node_http: its /metrics, /healthz, /readyz)
//!   router_cmd  `rotor router`;  dev  `rotor dev` (three nodes and a router)
//!   admin       `rotor admin status`
//!   throttle    capacity limits per partition (provisioned, on-demand maximum, burst)
//!   telemetry   logging and Prometheus metrics
//! ```

pub mod admin;
pub mod autoscaler;
pub mod capacity_scaling;
pub mod changelog;
pub mod dev;
pub mod faults;
pub mod host;
pub mod index;
pub mod load;
pub mod meta;
pub mod node_cmd;
pub mod node_http;
pub mod placement;
pub mod raft;
pub mod router_cmd;
pub mod service;
pub mod telemetry;
pub mod throttle;
