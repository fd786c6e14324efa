//! rotor-model: DynamoDB's data model as pure logic, with no IO.
//!
//! ```text
//!   capacity read and write units (DynamoDB's arithmetic)
//!   number   exact decimals (38 digits, 1e-130..1e+126), canonical text
//!   value    AttributeValue (ten types), Item, DynamoDB JSON in and out, item size
//!   keys     order-preserving key encoding and the fixed partition-key hash (token)
//!   schema   key schemas and the checks on primary keys
//!   table    table definitions and partition layouts (stats, scaling beside)
//!   index    local secondary indexes: definitions, entry keys, projections
//!   global_index  global secondary indexes: definitions, entry keys, changes
//!   expr     the expression language: parse, validate names/values, evaluate, update
//!   write    logical write commands and their deterministic application to an item
//!   cluster  the cluster map (nodes, tables, partition replicas) under epochs
//! ```
//!
//! Everything here is deterministic: the same command on the same item gives the same
//! result on every replica, which is what lets raft feed a partition a log.

pub mod capacity;
pub mod cluster;
pub mod error;
pub mod expr;
pub mod global_index;
pub mod index;
pub mod keys;
pub mod number;
pub mod read;
pub mod scaling;
pub mod schema;
pub mod stats;
pub mod table;
pub mod value;
pub mod write;

pub use error::ModelError;
pub use number::Number;
pub use value::{AttributeValue, Item};
