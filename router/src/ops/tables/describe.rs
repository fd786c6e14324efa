//! The `TableDescription` that table operations answer with, and its local secondary
//! indexes' descriptions.

use rotor_model::index::{LocalIndex, Projection};
use rotor_model::table::{BillingMode, StatsWithIndexes, TableDef, TableStats};
use serde_json::{json, Map, Value as Json};

use super::now;

/// A `TableDescription` as DynamoDB renders it.
pub(super) fn describe(def: &TableDef, stats: &StatsWithIndexes, status: &str) -> Json {
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
    if def.billing_mode == BillingMode::PayPerRequest
        && (def.max_read_request_units.is_some() || def.max_write_request_units.is_some())
    {
        let units = |u: Option<u64>| u.map_or(-1, |u| u as i64);
        out["OnDemandThroughput"] = json!({
            "MaxReadRequestUnits": units(def.max_read_request_units),
            "MaxWriteRequestUnits": units(def.max_write_request_units),
        });
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

/// A `LocalSecondaryIndexDescription`.
fn describe_local_index(def: &TableDef, index: &LocalIndex, stats: TableStats) -> Json {
    let mut projection = json!({ "ProjectionType": index.projection.type_name() });
    if let Projection::Include(names) = &index.projection {
        projection["NonKeyAttributes"] = json!(names);
    }
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
