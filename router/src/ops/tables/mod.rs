//! Table operations: CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable.
//!
//! ```text
//!   mod.rs       the operations
//!   parse.rs     their parameters
//!   describe.rs  the TableDescription they answer with
//! ```

mod describe;
mod index_updates;
mod parse;

use std::time::{SystemTime, UNIX_EPOCH};

use rotor_model::global_index::{index_table_name, GlobalIndexOf, IndexStatus};
use rotor_model::table::{
    BillingMode, CapacityDimension, StatsWithIndexes, TableDef, UnitsPerSecond,
};
use serde_json::{json, Value as Json};

use super::indexes::GlobalIndexRequest;
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::request::{validate_table_name, Request};
use describe::{describe, GlobalIndexState};
use parse::{
    parse_attribute_definitions, parse_billing_mode, parse_key_schema, parse_on_demand_throughput,
    parse_throughput, parse_warm_throughput, RequestUnitLimits,
};

/// Longest name of a key attribute (table and index keys), in bytes.
pub(super) const MAX_KEY_NAME_BYTES: usize = 255;

pub(super) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1000.0)
}

pub async fn create_table<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    if let Some(spec) = req.object("StreamSpecification")? {
        if spec.get("StreamEnabled").and_then(Json::as_bool) == Some(true) {
            return Err(ApiError::validation(
                "StreamSpecification is not supported by Rotor yet (streams come with the change log)",
            ));
        }
    }
    let attribute_definitions = parse_attribute_definitions(req)?;
    let with_indexes = req.field("LocalSecondaryIndexes").is_some()
        || req.field("GlobalSecondaryIndexes").is_some();
    let key_schema = parse_key_schema(req, &attribute_definitions, with_indexes)?;
    let local_indexes =
        super::indexes::parse_local_indexes(req, &key_schema, &attribute_definitions)?;
    let billing_mode = parse_billing_mode(req)?.unwrap_or(BillingMode::Provisioned);
    let local_names: Vec<&str> = local_indexes.iter().map(|i| i.name.as_str()).collect();
    let global_indexes = super::indexes::parse_global_indexes(
        req,
        &attribute_definitions,
        billing_mode == BillingMode::Provisioned,
        &local_names,
    )?;
    if with_indexes {
        super::indexes::check_definitions_used(
            &key_schema,
            &local_indexes,
            &global_indexes,
            &attribute_definitions,
        )?;
    }
    let throughput = parse_throughput(req)?;
    let (read_capacity_units, write_capacity_units) = match (billing_mode, throughput) {
        (BillingMode::Provisioned, Some(t)) => t,
        (BillingMode::Provisioned, None) => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ))
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ))
        }
        (BillingMode::PayPerRequest, None) => (0, 0),
    };
    let on_demand = parse_on_demand_throughput(req)?;
    if on_demand.is_some() && billing_mode == BillingMode::Provisioned {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: OnDemandThroughput can only be specified when BillingMode is PAY_PER_REQUEST",
        ));
    }
    let (max_read_request_units, max_write_request_units) = on_demand.unwrap_or((None, None));
    let warm = parse_warm_throughput(req)?;
    let created = now();
    let def = TableDef {
        billing_mode,
        read_capacity_units,
        write_capacity_units,
        creation_time: created,
        last_billing_mode_change: (billing_mode == BillingMode::PayPerRequest).then_some(created),
        max_read_request_units,
        max_write_request_units,
        table_class: req.str("TableClass")?.map(str::to_owned),
        deletion_protection: req.bool("DeletionProtectionEnabled")?.unwrap_or(false),
        // The metadata group sets what a partition serves; the table is made with as
        // many partitions as serve the requested warm throughput.
        warm_requested: warm.map(|(read, write)| UnitsPerSecond {
            read: read.unwrap_or(0),
            write: write.unwrap_or(0),
        }),
        local_indexes,
        ..TableDef::new(name, key_schema, attribute_definitions)
    };
    let index_tables = global_indexes
        .iter()
        .map(|g| global_index_table(&def, g))
        .collect::<ApiResult<Vec<_>>>()?;
    let def = backend.create_table(def, index_tables).await?;
    let global = global_index_states(backend, &def, false).await?;
    Ok(
        json!({ "TableDescription": describe(&def, &StatsWithIndexes::default(), "ACTIVE", &global) }),
    )
}

/// The table that holds a new global secondary index of table `base`: the index's key
/// schema, its own capacity settings, the base table's billing mode.
pub(super) fn global_index_table(
    base: &TableDef,
    index: &GlobalIndexRequest,
) -> ApiResult<TableDef> {
    let settings = Request::new(&index.settings)?;
    let (read_capacity_units, write_capacity_units) =
        parse_throughput(&settings)?.unwrap_or((0, 0));
    let on_demand = parse_on_demand_throughput(&settings)?;
    if on_demand.is_some() && base.billing_mode == BillingMode::Provisioned {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: OnDemandThroughput can only be specified for index: {} when BillingMode is PAY_PER_REQUEST",
            index.name
        )));
    }
    let (max_read_request_units, max_write_request_units) = on_demand.unwrap_or((None, None));
    let warm = parse_warm_throughput(&settings)?;
    Ok(TableDef {
        billing_mode: base.billing_mode,
        read_capacity_units,
        write_capacity_units,
        creation_time: base.creation_time,
        last_billing_mode_change: base.last_billing_mode_change,
        max_read_request_units,
        max_write_request_units,
        warm_requested: warm.map(|(read, write)| UnitsPerSecond {
            read: read.unwrap_or(0),
            write: write.unwrap_or(0),
        }),
        global_index_of: Some(GlobalIndexOf {
            base_table_id: base.id,
            base_table: base.name.clone(),
            index_name: index.name.clone(),
            base_key: base.key_schema.clone(),
            projection: index.projection.clone(),
            status: IndexStatus::Active,
            backfilling: false,
            online: false,
            backfilled: Default::default(),
        }),
        ..TableDef::new(
            index_table_name(&base.name, &index.name),
            index.key_schema.clone(),
            Vec::new(),
        )
    })
}

/// Table `def`'s global secondary indexes with what each holds (`counted`: their
/// statistics asked from their partitions; else zero, as for a new table).
async fn global_index_states<B: Backend>(
    backend: &B,
    def: &TableDef,
    counted: bool,
) -> ApiResult<Vec<GlobalIndexState>> {
    let mut out = Vec::new();
    for index in backend.global_indexes(def) {
        let stats = if counted {
            backend.table_stats(&index).await?.table
        } else {
            Default::default()
        };
        out.push(GlobalIndexState { def: index, stats });
    }
    Ok(out)
}

pub async fn delete_table<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    if def.deletion_protection {
        return Err(ApiError::validation(format!(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first. Table: {name}"
        )));
    }
    let stats = backend.table_stats(&def).await?;
    let mut global = global_index_states(backend, &def, true).await?;
    for g in &mut global {
        if let Some(of) = g.def.global_index_of.as_mut() {
            of.status = IndexStatus::Deleting;
        }
    }
    let def = backend.delete_table(name).await?;
    Ok(json!({ "TableDescription": describe(&def, &stats, "DELETING", &global) }))
}

pub async fn describe_table<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    let stats = backend.table_stats(&def).await?;
    let status = table_status(backend, &def);
    let global = global_index_states(backend, &def, true).await?;
    Ok(json!({ "Table": describe(&def, &stats, status, &global) }))
}

/// ACTIVE, or UPDATING while a requested warm throughput is still being reached: the
/// table is being split, or its new partitions are moving to their nodes.
fn table_status<B: Backend>(backend: &B, def: &TableDef) -> &'static str {
    if def.warm_partitions_missing() > 0
        || (def.warm_requested.is_some() && backend.table_moving(&def.name))
    {
        "UPDATING"
    } else {
        "ACTIVE"
    }
}

pub fn list_tables<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let start = req.str("ExclusiveStartTableName")?;
    if let Some(start) = start {
        validate_table_name(start, "exclusiveStartTableName")?;
    }
    let limit = match req.int("Limit")? {
        None => 100,
        Some(l) if (1..=100).contains(&l) => l as usize,
        Some(l) => {
            let bound = if l < 1 {
                "greater than or equal to 1"
            } else {
                "less than or equal to 100"
            };
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
    };
    let names: Vec<String> = backend
        .table_names()
        .into_iter()
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .collect();
    let page: Vec<&String> = names.iter().take(limit).collect();
    let mut out = json!({ "TableNames": page });
    if names.len() > limit {
        if let Some(last) = page.last() {
            out["LastEvaluatedTableName"] = json!(last);
        }
    }
    Ok(out)
}

pub async fn update_table<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    req.reject_unsupported("ReplicaUpdates", "global tables are not planned")?;
    // A missing table is what is wrong before anything else.
    let current = super::table(backend, name)?;
    let index_actions = index_updates::parse(req, &current, &backend.global_indexes(&current))?;
    let update = TableUpdate {
        billing: parse_billing_mode(req)?,
        throughput: parse_throughput(req)?,
        deletion_protection: req.bool("DeletionProtectionEnabled")?,
        table_class: req.str("TableClass")?,
        on_demand: parse_on_demand_throughput(req)?,
        warm: parse_warm_throughput(req)?,
    };
    let table_unchanged = update.billing.is_none()
        && update.throughput.is_none()
        && update.deletion_protection.is_none()
        && update.table_class.is_none()
        && update.on_demand.is_none()
        && update.warm.is_none();
    if table_unchanged && index_actions.is_none() {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    if !table_unchanged {
        super::change_table(backend, name, |def| update.apply(def)).await?;
    }
    if let Some(actions) = index_actions {
        index_updates::apply(backend, &current, actions).await?;
    }
    let def = super::table(backend, name)?;
    let stats = backend.table_stats(&def).await?;
    let status = table_status(backend, &def);
    let global = global_index_states(backend, &def, true).await?;
    Ok(json!({ "TableDescription": describe(&def, &stats, status, &global) }))
}

/// What an UpdateTable asks to change (None: leave as it is).
struct TableUpdate<'a> {
    billing: Option<BillingMode>,
    throughput: Option<(u64, u64)>,
    deletion_protection: Option<bool>,
    table_class: Option<&'a str>,
    on_demand: Option<RequestUnitLimits>,
    warm: Option<RequestUnitLimits>,
}

impl TableUpdate<'_> {
    /// Applies the change to a table's definition, or says why it cannot be made.
    fn apply(&self, def: &mut TableDef) -> ApiResult<()> {
        let mode = self.billing.unwrap_or(def.billing_mode);
        match (mode, self.throughput) {
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ))
            }
            (BillingMode::Provisioned, None) if def.billing_mode == BillingMode::PayPerRequest => {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                ))
            }
            (BillingMode::Provisioned, Some(units)) => {
                let same_refused =
                    def.billing_mode == BillingMode::Provisioned && self.billing.is_none();
                set_throughput(def, units, same_refused, ("table", "table"))?;
            }
            (BillingMode::PayPerRequest, None) => {
                def.read_capacity_units = 0;
                def.write_capacity_units = 0;
            }
            (BillingMode::Provisioned, None) => {}
        }
        if mode != def.billing_mode {
            def.last_billing_mode_change = Some(now());
            def.billing_mode = mode;
        }
        match (mode, self.on_demand) {
            (BillingMode::Provisioned, Some(_)) => {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: OnDemandThroughput can only be specified when BillingMode is PAY_PER_REQUEST",
                ))
            }
            (BillingMode::PayPerRequest, Some((read, write))) => {
                def.max_read_request_units = read;
                def.max_write_request_units = write;
            }
            (BillingMode::Provisioned, None) => {
                def.max_read_request_units = None;
                def.max_write_request_units = None;
            }
            (BillingMode::PayPerRequest, None) => {}
        }
        if let Some(p) = self.deletion_protection {
            def.deletion_protection = p;
        }
        if let Some(c) = self.table_class {
            def.table_class = Some(c.to_owned());
        }
        if let Some((read, write)) = self.warm {
            def.warm_requested = Some(raise_warm_throughput(def, read, write)?);
        }
        Ok(())
    }
}

/// Sets a table's or an index's provisioned throughput (`subject`: how DynamoDB's
/// message names it, in full and short); refuses a change to what it already is when
/// `same_refused`, with DynamoDB's message.
fn set_throughput(
    def: &mut TableDef,
    (r, w): (u64, u64),
    same_refused: bool,
    (subject, short): (&str, &str),
) -> ApiResult<()> {
    if same_refused && r == def.read_capacity_units && w == def.write_capacity_units {
        return Err(ApiError::validation(format!(
            "The provisioned throughput for the {subject} will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the {short}: {}. Requested ReadCapacityUnits: {r}. Current WriteCapacityUnits provisioned for the {short}: {}. Requested WriteCapacityUnits: {w}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
            def.read_capacity_units, def.write_capacity_units
        )));
    }
    let at = now();
    def.set_provisioned(CapacityDimension::Read, r, at);
    def.set_provisioned(CapacityDimension::Write, w, at);
    Ok(())
}

/// The warm throughput an UpdateTable asks for: at least what the table has now (warm
/// throughput only rises; a field left out keeps the current value).
fn raise_warm_throughput(
    def: &TableDef,
    read: Option<u64>,
    write: Option<u64>,
) -> ApiResult<UnitsPerSecond> {
    let current = def.warm_throughput();
    let asked = def.warm_requested.unwrap_or_default();
    let pick = |want: Option<u64>, now: u64, before: u64, field: &str| {
        match want {
        Some(w) if w < now => Err(ApiError::validation(format!(
            "One or more parameter values were invalid: warm throughput can only be increased: {field} {w} is below the table's current warm throughput of {now}"
        ))),
        Some(w) => Ok(w),
        None => Ok(before),
    }
    };
    Ok(UnitsPerSecond {
        read: pick(read, current.read, asked.read, "ReadUnitsPerSecond")?,
        write: pick(write, current.write, asked.write, "WriteUnitsPerSecond")?,
    })
}
