//! The operations, one file per family, and the dispatch from `Operation`.

mod auto_scaling;
mod batch;
mod indexes;
mod items;
mod keys;
mod query;
mod tables;

use rotor_model::table::TableDef;
use serde_json::Value as Json;

use crate::backend::{Backend, BackendError};
use crate::error::{ApiError, ApiResult};
use crate::operation::Operation;
use crate::request::Request;

/// Runs one operation on a parsed body and returns the response body. `region` is the
/// one the client signed for (where its table's only replica is, as far as it knows).
pub async fn dispatch<B: Backend>(
    backend: &B,
    op: Operation,
    body: &Json,
    region: &str,
) -> ApiResult<Json> {
    let req = Request::new(body)?;
    match op {
        Operation::CreateTable => tables::create_table(backend, &req).await,
        Operation::DeleteTable => tables::delete_table(backend, &req).await,
        Operation::DescribeTable => tables::describe_table(backend, &req).await,
        Operation::ListTables => tables::list_tables(backend, &req),
        Operation::UpdateTable => tables::update_table(backend, &req).await,
        Operation::PutItem => items::put_item(backend, &req).await,
        Operation::GetItem => items::get_item(backend, &req).await,
        Operation::UpdateItem => items::update_item(backend, &req).await,
        Operation::DeleteItem => items::delete_item(backend, &req).await,
        Operation::Query => query::query(backend, &req).await,
        Operation::Scan => query::scan(backend, &req).await,
        Operation::BatchGetItem => batch::batch_get_item(backend, &req).await,
        Operation::BatchWriteItem => batch::batch_write_item(backend, &req).await,
        Operation::UpdateTableReplicaAutoScaling => {
            auto_scaling::update_table_replica_auto_scaling(backend, &req, region).await
        }
        Operation::DescribeTableReplicaAutoScaling => {
            auto_scaling::describe_table_replica_auto_scaling(backend, &req, region).await
        }
        Operation::RegisterScalableTarget => {
            auto_scaling::register_scalable_target(backend, &req, region).await
        }
        Operation::DeregisterScalableTarget => {
            auto_scaling::deregister_scalable_target(backend, &req).await
        }
        Operation::DescribeScalableTargets => {
            auto_scaling::describe_scalable_targets(backend, &req, region)
        }
        Operation::PutScalingPolicy => {
            auto_scaling::put_scaling_policy(backend, &req, region).await
        }
        Operation::DeleteScalingPolicy => auto_scaling::delete_scaling_policy(backend, &req).await,
        Operation::DescribeScalingPolicies => {
            auto_scaling::describe_scaling_policies(backend, &req, region)
        }
        Operation::DescribeScalingActivities => {
            auto_scaling::describe_scaling_activities(backend, &req)
        }
    }
}

/// How often a table change is tried again when the table changed meanwhile.
const CHANGE_ATTEMPTS: usize = 5;

/// Reads a table's definition, lets `change` edit it, and writes it back, unless the
/// table changed meanwhile (auto scaling, another client): then all over again, so that
/// no change overwrites one it did not see.
async fn change_table<B: Backend>(
    backend: &B,
    name: &str,
    mut change: impl FnMut(&mut TableDef) -> ApiResult<()>,
) -> ApiResult<TableDef> {
    let mut attempt = 0;
    loop {
        let before = table(backend, name)?;
        let mut after = before.clone();
        change(&mut after)?;
        match backend.update_table(&before, &after).await {
            Err(BackendError::Changed(_)) if attempt + 1 < CHANGE_ATTEMPTS => attempt += 1,
            other => return other.map(|()| after).map_err(ApiError::from),
        }
    }
}

/// The definition of the table a request names.
fn table<B: Backend>(backend: &B, name: &str) -> ApiResult<TableDef> {
    backend.table(name).ok_or_else(ApiError::table_not_found)
}
