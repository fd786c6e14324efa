//! Table operations: CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable.

use std::time::{SystemTime, UNIX_EPOCH};

use rotor_model::table::{
    BillingMode, CapacityDimension, KeyAttribute, KeySchema, ScalarType, TableDef, UnitsPerSecond,
};
use serde_json::{json, Map, Value as Json};

use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::request::{validate_table_name, validation_errors, Request};

/// Longest name of a key attribute (table and index keys), in bytes.
const MAX_KEY_NAME_BYTES: usize = 255;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1000.0)
}

pub async fn create_table<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    req.reject_unsupported(
        "GlobalSecondaryIndexes",
        "secondary indexes come with the change log",
    )?;
    if let Some(spec) = req.object("StreamSpecification")? {
        if spec.get("StreamEnabled").and_then(Json::as_bool) == Some(true) {
            return Err(ApiError::validation(
                "StreamSpecification is not supported by Rotor yet (streams come with the change log)",
            ));
        }
    }
    let attribute_definitions = parse_attribute_definitions(req)?;
    let with_indexes = req.field("LocalSecondaryIndexes").is_some();
    let key_schema = parse_key_schema(req, &attribute_definitions, with_indexes)?;
    let local_indexes =
        super::indexes::parse_local_indexes(req, &key_schema, &attribute_definitions)?;
    if with_indexes {
        super::indexes::check_definitions_used(
            &key_schema,
            &local_indexes,
            &attribute_definitions,
        )?;
    }
    if !local_indexes.is_empty() {
        // Checked as DynamoDB checks them; Query and Scan do not serve them yet.
        return Err(ApiError::validation(
            "LocalSecondaryIndexes is not supported by Rotor yet (secondary indexes come with the change log)",
        ));
    }
    let billing_mode = parse_billing_mode(req)?.unwrap_or(BillingMode::Provisioned);
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
        ..TableDef::new(name, key_schema, attribute_definitions)
    };
    let def = backend.create_table(def).await?;
    Ok(json!({ "TableDescription": describe(&def, 0, 0, "ACTIVE") }))
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
    let def = backend.delete_table(name).await?;
    Ok(
        json!({ "TableDescription": describe(&def, stats.item_count, stats.size_bytes, "DELETING") }),
    )
}

pub async fn describe_table<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    let stats = backend.table_stats(&def).await?;
    let status = table_status(backend, &def);
    Ok(json!({ "Table": describe(&def, stats.item_count, stats.size_bytes, status) }))
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
    req.reject_unsupported(
        "GlobalSecondaryIndexUpdates",
        "secondary indexes come with the change log",
    )?;
    req.reject_unsupported("ReplicaUpdates", "global tables are not planned")?;
    // A missing table is what is wrong before anything else.
    super::table(backend, name)?;
    let update = TableUpdate {
        billing: parse_billing_mode(req)?,
        throughput: parse_throughput(req)?,
        deletion_protection: req.bool("DeletionProtectionEnabled")?,
        table_class: req.str("TableClass")?,
        on_demand: parse_on_demand_throughput(req)?,
        warm: parse_warm_throughput(req)?,
    };
    if update.billing.is_none()
        && update.throughput.is_none()
        && update.deletion_protection.is_none()
        && update.table_class.is_none()
        && update.on_demand.is_none()
        && update.warm.is_none()
    {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    super::change_table(backend, name, |def| update.apply(def)).await?;
    let def = super::table(backend, name)?;
    let stats = backend.table_stats(&def).await?;
    let status = table_status(backend, &def);
    Ok(json!({ "TableDescription": describe(&def, stats.item_count, stats.size_bytes, status) }))
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
            (BillingMode::Provisioned, Some((r, w))) => {
                if def.billing_mode == BillingMode::Provisioned
                    && r == def.read_capacity_units
                    && w == def.write_capacity_units
                    && self.billing.is_none()
                {
                    return Err(ApiError::validation(format!(
                        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {r}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {w}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                        def.read_capacity_units, def.write_capacity_units
                    )));
                }
                let at = now();
                def.set_provisioned(CapacityDimension::Read, r, at);
                def.set_provisioned(CapacityDimension::Write, w, at);
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

/// A `TableDescription` as DynamoDB renders it.
fn describe(def: &TableDef, item_count: u64, size_bytes: u64, status: &str) -> Json {
    let mut key_schema =
        vec![json!({ "AttributeName": def.key_schema.partition.name, "KeyType": "HASH" })];
    if let Some(sort) = &def.key_schema.sort {
        key_schema.push(json!({ "AttributeName": sort.name, "KeyType": "RANGE" }));
    }
    let attrs: Vec<Json> = def
        .attribute_definitions
        .iter()
        .map(|a| json!({ "AttributeName": a.name, "AttributeType": a.ty.descriptor() }))
        .collect();
    let mut out = json!({
        "AttributeDefinitions": attrs,
        "TableName": def.name,
        "KeySchema": key_schema,
        "TableStatus": status,
        "CreationDateTime": def.creation_time,
        "ProvisionedThroughput": provisioned_throughput(def),
        "TableSizeBytes": size_bytes,
        "ItemCount": item_count,
        "TableArn": def.arn(),
        "TableId": table_uuid(def),
        "DeletionProtectionEnabled": def.deletion_protection,
    });
    let mut summary = Map::new();
    summary.insert("BillingMode".into(), json!(def.billing_mode.as_str()));
    if let Some(t) = def.last_billing_mode_change {
        if def.billing_mode == BillingMode::PayPerRequest {
            summary.insert("LastUpdateToPayPerRequestDateTime".into(), json!(t));
        }
    }
    out["BillingModeSummary"] = Json::Object(summary);
    if def.billing_mode == BillingMode::PayPerRequest
        && (def.max_read_request_units.is_some() || def.max_write_request_units.is_some())
    {
        let units = |u: Option<u64>| u.map_or(-1, |u| u as i64);
        out["OnDemandThroughput"] = json!({
            "MaxReadRequestUnits": units(def.max_read_request_units),
            "MaxWriteRequestUnits": units(def.max_write_request_units),
        });
    }
    if let Some(class) = &def.table_class {
        out["TableClassSummary"] = json!({ "TableClass": class });
    }
    let warm = def.warm_throughput();
    out["WarmThroughput"] = json!({
        "ReadUnitsPerSecond": warm.read,
        "WriteUnitsPerSecond": warm.write,
        "Status": status,
    });
    out
}

/// `ProvisionedThroughput` of a TableDescription (zeros for an on-demand table).
pub(super) fn provisioned_throughput(def: &TableDef) -> Json {
    let changes = def.capacity_changes;
    let mut out = json!({
        "NumberOfDecreasesToday": changes.decreases_on_day_of(now()),
        "ReadCapacityUnits": def.read_capacity_units,
        "WriteCapacityUnits": def.write_capacity_units,
    });
    if let Some(t) = changes.last_increase {
        out["LastIncreaseDateTime"] = json!(t);
    }
    if let Some(t) = changes.last_decrease {
        out["LastDecreaseDateTime"] = json!(t);
    }
    out
}

/// A stable UUID-shaped id for a table, from its storage id and creation time.
fn table_uuid(def: &TableDef) -> String {
    let bits = (u128::from(def.id) << 64) | u128::from(def.creation_time.to_bits());
    let h = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn parse_billing_mode(req: &Request) -> ApiResult<Option<BillingMode>> {
    Ok(
        match req.one_of(
            "BillingMode",
            "billingMode",
            &["PROVISIONED", "PAY_PER_REQUEST"],
        )? {
            Some("PROVISIONED") => Some(BillingMode::Provisioned),
            Some(_) => Some(BillingMode::PayPerRequest),
            None => None,
        },
    )
}

fn parse_throughput(req: &Request) -> ApiResult<Option<(u64, u64)>> {
    let Some(t) = req.object("ProvisionedThroughput")? else {
        return Ok(None);
    };
    let get = |field: &str, wire: &str| -> ApiResult<u64> {
        match t.get(field).and_then(Json::as_i64) {
            Some(v) if v >= 1 => Ok(v as u64),
            Some(v) => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'provisionedThroughput.{wire}' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ))),
            None => Err(ApiError::validation(format!(
                "1 validation error detected: Value null at 'provisionedThroughput.{wire}' failed to satisfy constraint: Member must not be null"
            ))),
        }
    };
    Ok(Some((
        get("ReadCapacityUnits", "readCapacityUnits")?,
        get("WriteCapacityUnits", "writeCapacityUnits")?,
    )))
}

/// `OnDemandThroughput`: the most read and write request units per second of an
/// on-demand table; -1 (or absent) is no limit. None when the request has none.
type RequestUnitLimits = (Option<u64>, Option<u64>);

fn parse_on_demand_throughput(req: &Request) -> ApiResult<Option<RequestUnitLimits>> {
    let Some(t) = req.object("OnDemandThroughput")? else {
        return Ok(None);
    };
    let get = |field: &str, wire: &str| -> ApiResult<Option<u64>> {
        match t.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(-1) => Ok(None),
                Some(n) if n >= 1 => Ok(Some(n as u64)),
                _ => Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: onDemandThroughput.{wire} must be -1 (no limit) or at least 1, not {v}"
                ))),
            },
        }
    };
    Ok(Some((
        get("MaxReadRequestUnits", "maxReadRequestUnits")?,
        get("MaxWriteRequestUnits", "maxWriteRequestUnits")?,
    )))
}

/// `WarmThroughput`: the read and write units per second the table should serve at
/// once (either may be left out). None when the request has none.
fn parse_warm_throughput(req: &Request) -> ApiResult<Option<RequestUnitLimits>> {
    let Some(t) = req.object("WarmThroughput")? else {
        return Ok(None);
    };
    let get = |field: &str, wire: &str| -> ApiResult<Option<u64>> {
        match t.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if n >= 1 => Ok(Some(n as u64)),
                _ => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'warmThroughput.{wire}' failed to satisfy constraint: Member must have value greater than or equal to 1"
                ))),
            },
        }
    };
    let read = get("ReadUnitsPerSecond", "readUnitsPerSecond")?;
    let write = get("WriteUnitsPerSecond", "writeUnitsPerSecond")?;
    if read.is_none() && write.is_none() {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: WarmThroughput needs ReadUnitsPerSecond, WriteUnitsPerSecond or both",
        ));
    }
    Ok(Some((read, write)))
}

fn parse_attribute_definitions(req: &Request) -> ApiResult<Vec<KeyAttribute>> {
    let defs = req.array("AttributeDefinitions")?.ok_or_else(|| {
        ApiError::validation(
            "1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let mut out: Vec<KeyAttribute> = Vec::with_capacity(defs.len());
    let mut seen = std::collections::HashSet::with_capacity(defs.len());
    for d in defs {
        let name = d
            .get("AttributeName")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let ty = d
            .get("AttributeType")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let ty = ScalarType::from_descriptor(ty).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{ty}' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
            ))
        })?;
        if name.is_empty() {
            return Err(ApiError::validation(
                "1 validation error detected: Value null at 'attributeDefinitions.1.member.attributeName' failed to satisfy constraint: Member must not be null",
            ));
        }
        if name.len() > MAX_KEY_NAME_BYTES {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{name}' at 'attributeDefinitions.1.member.attributeName' failed to satisfy constraint: Member must have length less than or equal to {MAX_KEY_NAME_BYTES}"
            )));
        }
        if !seen.insert(name) {
            return Err(ApiError::validation(format!(
                "Cannot have two attributes with the same name. Attribute name: {name}"
            )));
        }
        out.push(KeyAttribute {
            name: name.to_owned(),
            ty,
        });
    }
    Ok(out)
}

/// The table's key schema. `with_indexes`: attribute definitions may also define index
/// keys (checked once the indexes are parsed).
fn parse_key_schema(
    req: &Request,
    attrs: &[KeyAttribute],
    with_indexes: bool,
) -> ApiResult<KeySchema> {
    let elems = req.array("KeySchema")?.ok_or_else(|| {
        ApiError::validation(
            "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let mut problems = Vec::new();
    if elems.is_empty() {
        problems.push("Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1".to_owned());
    }
    if elems.len() > 2 {
        problems.push("Value at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2".to_owned());
    }
    validation_errors(problems)?;
    let mut hash = None;
    let mut range = None;
    for e in elems {
        let name = e
            .get("AttributeName")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let kind = e.get("KeyType").and_then(Json::as_str).unwrap_or_default();
        let attr = attrs.iter().find(|a| a.name == name).cloned().ok_or_else(|| {
            ApiError::validation(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [".to_owned()
                    + name
                    + "], AttributeDefinitions: ["
                    + &attrs.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
                    + "]",
            )
        })?;
        let slot = match kind {
            "HASH" => &mut hash,
            "RANGE" => &mut range,
            other => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"
                )))
            }
        };
        if slot.is_some() {
            return Err(ApiError::validation(
                "Invalid KeySchema: Too many hash key elements or range key elements",
            ));
        }
        *slot = Some(attr);
    }
    let partition = hash.ok_or_else(|| {
        ApiError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    })?;
    if elems
        .first()
        .and_then(|e| e.get("KeyType"))
        .and_then(Json::as_str)
        != Some("HASH")
    {
        return Err(ApiError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if range.as_ref().is_some_and(|r| r.name == partition.name) {
        return Err(ApiError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if !with_indexes && attrs.len() != elems.len() {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    Ok(KeySchema {
        partition,
        sort: range,
    })
}
