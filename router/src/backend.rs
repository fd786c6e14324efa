//! The router's view of the storage cluster: tables, partitions, writes and reads.
//!
//! The single-node server implements it over a local store; the replicated cluster over
//! gRPC to partition leaders and replicas. The router never sees how.

use std::future::Future;

use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{StatsWithIndexes, TableDef};
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::{Item, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("Requested resource not found: Table: {0} not found")]
    TableNotFound(String),
    #[error("Table already exists: {0}")]
    TableExists(String),
    /// A client error found while applying a write.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Not served now (no leader, replicas down); retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The partition asked no longer owns the keys (it was split); the map at `epoch`
    /// routes them elsewhere. Nothing was done: route again and retry.
    #[error("the partition map changed (epoch {0}): the keys belong to another partition now")]
    StaleRoute(u64),
    /// The partition's share of the table's capacity is used up; nothing was done.
    /// `reason` is DynamoDB's ThrottlingReason, `resource` the table's ARN.
    #[error("throttled: {reason}")]
    /// `on_demand`: the table is PAY_PER_REQUEST (a ThrottlingException, not a
    /// ProvisionedThroughputExceededException).
    Throttled {
        reason: String,
        resource: String,
        on_demand: bool,
    },
    /// The cluster refused the request as it stands (a table change beyond its limits).
    #[error("{0}")]
    Invalid(String),
    /// The table changed since it was read: read it again and redo the change.
    #[error("{0}")]
    Changed(String),
    /// Too many changes at once (another index of the table is being created).
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Internal(String),
}

/// How many times one call (or one Scan page) follows a changed partition map before
/// giving up with ServiceUnavailable.
pub const MAX_REROUTES: u32 = 8;

pub trait Backend: Send + Sync + 'static {
    /// Creates a table, and the tables holding its global secondary indexes (each
    /// with `global_index_of` set), in one change.
    fn create_table(
        &self,
        def: TableDef,
        global_indexes: Vec<TableDef>,
    ) -> impl Future<Output = Result<TableDef, BackendError>> + Send;
    /// Replaces a table's definition `before` with `after`; `Changed` when it is no
    /// longer `before`.
    fn update_table(
        &self,
        before: &TableDef,
        after: &TableDef,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    fn delete_table(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<TableDef, BackendError>> + Send;
    /// Adds a global secondary index to an existing table (`index`: the table that
    /// holds it, `global_index_of` naming the table); it starts CREATING and
    /// backfilling. Returns the index's table as placed.
    fn create_global_index(
        &self,
        index: TableDef,
    ) -> impl Future<Output = Result<TableDef, BackendError>> + Send;
    /// The current definition of a table (from a cache; cheap).
    fn table(&self, name: &str) -> Option<TableDef>;
    /// All table names, ascending (not the tables holding global secondary indexes).
    fn table_names(&self) -> Vec<String>;
    /// The tables holding table `def`'s global secondary indexes, oldest first.
    fn global_indexes(&self, def: &TableDef) -> Vec<TableDef>;
    /// Whether any of a table's partitions is still moving to where it was placed.
    fn table_moving(&self, name: &str) -> bool;
    /// What auto scaling changed of a table's capacity, oldest first.
    fn scaling_activities(&self, name: &str) -> Vec<rotor_model::table::ScalingActivity>;
    /// A table's item count and size, and each of its local indexes'.
    fn table_stats(
        &self,
        def: &TableDef,
    ) -> impl Future<Output = Result<StatsWithIndexes, BackendError>> + Send;
    /// Applies a write on a partition; resolves once it is durable.
    fn write(
        &self,
        def: &TableDef,
        partition: u32,
        req: WriteRequest,
    ) -> impl Future<Output = Result<WriteOutcome, BackendError>> + Send;
    fn get(
        &self,
        def: &TableDef,
        partition: u32,
        item_key: Vec<u8>,
        consistent: bool,
    ) -> impl Future<Output = Result<Option<Item>, BackendError>> + Send;
    fn read_range(
        &self,
        def: &TableDef,
        partition: u32,
        range: ReadRange,
        consistent: bool,
    ) -> impl Future<Output = Result<RangePage, BackendError>> + Send;
}

impl From<BackendError> for crate::error::ApiError {
    fn from(e: BackendError) -> Self {
        use crate::error::ApiError;
        match e {
            BackendError::TableNotFound(_) => ApiError::table_not_found(),
            BackendError::TableExists(name) => {
                ApiError::ResourceInUse(format!("Table already exists: {name}"))
            }
            BackendError::Model(m) => m.into(),
            BackendError::Unavailable(m) => ApiError::ServiceUnavailable(m),
            e @ BackendError::StaleRoute(_) => ApiError::ServiceUnavailable(e.to_string()),
            BackendError::Throttled {
                reason,
                resource,
                on_demand,
            } => ApiError::CapacityExceeded {
                reason,
                resource,
                on_demand,
            },
            BackendError::Changed(m) => ApiError::ResourceInUse(format!(
                "{m}; it kept changing while this request was made: retry"
            )),
            BackendError::Invalid(m) => {
                ApiError::validation(format!("One or more parameter values were invalid: {m}"))
            }
            BackendError::LimitExceeded(m) => ApiError::LimitExceeded(m),
            BackendError::Internal(m) => ApiError::Internal(m),
        }
    }
}
