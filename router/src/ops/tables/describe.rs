//! The `TableDescription` that table operations answer with, and its secondary
//! indexes' descriptions.

use rotor_model::index::{LocalIndex, Projection};
use rotor_model::table::{BillingMode, StatsWithIndexes, TableDef, TableStats};
use serde_json::{json, Map, Value as Json};

use super::now;

/// A global secondary index's own table and its statistics, as DescribeTable shows it.
pub(super) struct GlobalIndexState {
    pub def: TableDef,
    pub stats: TableStats,
}

/// A `TableDescription` as DynamoDB renders it.
pub(super) fn describe(
    def: &TableDef,
    stats: &StatsWithIndexes,
    status: &str,
    global: &[GlobalIndexState],
) -> Json {
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
        "TableSizeBytes": stats.table.size_bytes,
        "ItemCount": stats.table.item_count,
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
    if let Some(limits) = on_demand_throughput(def) {
        out["OnDemandThroughput"] = limits;
    }
    if !def.local_indexes.is_empty() {
        out["LocalSecondaryIndexes"] = Json::Array(
            def.local_indexes
                .iter()
                .enumerate()
                .map(|(i, index)| {
                    let counted = stats.local_indexes.get(i).copied().unwrap_or_default();
                    describe_local_index(def, index, counted)
                })
                .collect(),
        );
    }
    if !global.is_empty() {
        out["GlobalSecondaryIndexes"] = Json::Array(
            global
                .iter()
                .map(|g| describe_global_index(def, g))
                .collect(),
        );
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
fn provisioned_throughput(def: &TableDef) -> Json {
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

/// `OnDemandThroughput` of an on-demand table with a limit (None: no limit shown).
fn on_demand_throughput(def: &TableDef) -> Option<Json> {
    let limited = def.max_read_request_units.is_some() || def.max_write_request_units.is_some();
    if def.billing_mode != BillingMode::PayPerRequest || !limited {
        return None;
    }
    let units = |u: Option<u64>| u.map_or(-1, |u| u as i64);
    Some(json!({
        "MaxReadRequestUnits": units(def.max_read_request_units),
        "MaxWriteRequestUnits": units(def.max_write_request_units),
    }))
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

/// An index's `Projection`.
fn describe_projection(projection: &Projection) -> Json {
    let mut out = json!({ "ProjectionType": projection.type_name() });
    if let Projection::Include(names) = projection {
        out["NonKeyAttributes"] = json!(names);
    }
    out
}

/// A `GlobalSecondaryIndexDescription`: the index's key, projection, status, its own
/// table's capacity settings and what it holds.
fn describe_global_index(base: &TableDef, index: &GlobalIndexState) -> Json {
    let def = &index.def;
    let Some(of) = &def.global_index_of else {
        return Json::Null;
    };
    let mut key_schema =
        vec![json!({ "AttributeName": def.key_schema.partition.name, "KeyType": "HASH" })];
    if let Some(sort) = &def.key_schema.sort {
        key_schema.push(json!({ "AttributeName": sort.name, "KeyType": "RANGE" }));
    }
    let mut out = json!({
        "IndexName": of.index_name,
        "KeySchema": key_schema,
        "Projection": describe_projection(&of.projection),
        "IndexStatus": of.status.as_str(),
        "ProvisionedThroughput": provisioned_throughput(def),
        "IndexSizeBytes": index.stats.size_bytes,
        "ItemCount": index.stats.item_count,
        "IndexArn": format!("{}/index/{}", base.arn(), of.index_name),
    });
    if of.status == rotor_model::global_index::IndexStatus::Creating {
        out["Backfilling"] = json!(of.backfilling);
    }
    if let Some(limits) = on_demand_throughput(def) {
        out["OnDemandThroughput"] = limits;
    }
    let warm = def.warm_throughput();
    out["WarmThroughput"] = json!({
        "ReadUnitsPerSecond": warm.read,
        "WriteUnitsPerSecond": warm.write,
        "Status": of.status.as_str(),
    });
    out
}

/// A `LocalSecondaryIndexDescription`.
fn describe_local_index(def: &TableDef, index: &LocalIndex, stats: TableStats) -> Json {
    let projection = describe_projection(&index.projection);
    json!({
        "IndexName": index.name,
        "KeySchema": [
            { "AttributeName": def.key_schema.partition.name, "KeyType": "HASH" },
            { "AttributeName": index.sort.name, "KeyType": "RANGE" },
        ],
        "Projection": projection,
        "IndexSizeBytes": stats.size_bytes,
        "ItemCount": stats.item_count,
        "IndexArn": format!("{}/index/{}", def.arn(), index.name),
    })
}
