//! BatchGetItem and BatchWriteItem: up to 100 reads or 25 writes across tables, all
//! validated before any is done; what the cluster cannot serve now comes back as
//! `UnprocessedKeys` / `UnprocessedItems` for the client to retry.

use std::collections::HashSet;

use futures::future::join_all;

use rotor_model::expr::{project, ExprInput, Parser};
use rotor_model::table::{TableDef, MAX_ITEM_BYTES};
use rotor_model::value::{item_from_json, item_size, item_to_json};
use rotor_model::write::{WriteCommand, WriteOutcome, WriteRequest};
use serde_json::{json, Map, Value as Json};

use crate::backend::{Backend, BackendError};
use crate::capacity::{read_units, CapacityReport, WriteCost};
use crate::error::{ApiError, ApiResult};
use crate::ops::items::projection;
use crate::ops::keys::{place, Placement};
use crate::request::{validate_table_name, Request};

const MAX_BATCH_GET_KEYS: usize = 100;
const MAX_BATCH_WRITES: usize = 25;
/// A BatchGetItem response stops growing at 16 MB; the rest is unprocessed.
const MAX_BATCH_GET_BYTES: usize = 16 * 1024 * 1024;

fn request_items<'a>(req: &Request<'a>, empty: &str) -> ApiResult<&'a Map<String, Json>> {
    let items = req.object("RequestItems")?.filter(|m| !m.is_empty());
    let items = items.ok_or_else(|| ApiError::validation(empty))?;
    for name in items.keys() {
        validate_table_name(name, "requestItems.key")?;
    }
    Ok(items)
}

fn duplicate_error() -> ApiError {
    ApiError::validation("Provided list of item keys contains duplicates")
}

/// One table's share of a BatchGetItem, validated.
struct GetTable<'a> {
    def: TableDef,
    spec: &'a Map<String, Json>,
    keys: Vec<(Placement, &'a Json)>,
    consistent: bool,
    paths: Option<Vec<rotor_model::expr::Path>>,
}

pub async fn batch_get_item<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let tables = request_items(req, "BatchGetItem must have some requests set")?;
    let report = CapacityReport::from_request(req)?;
    let total: usize = tables
        .values()
        .map(|t| t.get("Keys").and_then(Json::as_array).map_or(0, Vec::len))
        .sum();
    if total > MAX_BATCH_GET_KEYS {
        return Err(ApiError::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    let mut plan = Vec::with_capacity(tables.len());
    for (name, spec) in tables {
        let spec = spec
            .as_object()
            .ok_or_else(|| ApiError::validation("RequestItems values must be maps"))?;
        let table_req = Request { body: spec };
        let keys = table_req.array("Keys")?.filter(|k| !k.is_empty()).ok_or_else(|| {
            ApiError::validation(format!(
                "The list of keys in RequestItems for BatchGetItem is required: {name} has empty list"
            ))
        })?;
        let (names, values) = table_req.substitutions()?;
        let mut parser = Parser::new(ExprInput {
            names: names.as_ref(),
            values: values.as_ref(),
        });
        let paths = projection(&table_req, &mut parser)?;
        parser.finish()?;
        let def = super::table(backend, name)?;
        let mut seen = HashSet::new();
        let mut placed = Vec::with_capacity(keys.len());
        for k in keys {
            let key = def.key_schema.key_from_request(&item_from_json(k)?)?;
            let at = place(&def, &key);
            if !seen.insert(at.item_key.clone()) {
                return Err(duplicate_error());
            }
            placed.push((at, k));
        }
        let consistent = table_req.bool("ConsistentRead")?.unwrap_or(false);
        plan.push(GetTable {
            def,
            spec,
            keys: placed,
            consistent,
            paths,
        });
    }
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut capacity = Vec::new();
    let mut bytes = 0usize;
    let total_keys: usize = plan.iter().map(|t| t.keys.len()).sum();
    let mut throttled_keys = 0usize;
    let mut throttled: Option<BackendError> = None;
    for table in plan {
        let mut found = Vec::new();
        let mut left = Vec::new();
        let mut units = 0.0;
        // The table's keys are read concurrently (each from its own partition); the
        // results are then taken in request order against the response-size budget.
        let reads = join_all(table.keys.iter().map(|(at, _)| {
            backend.get(
                &table.def,
                at.partition,
                at.item_key.clone(),
                table.consistent,
            )
        }))
        .await;
        for ((_, raw_key), read) in table.keys.iter().zip(reads) {
            let raw_key: &Json = raw_key;
            if bytes >= MAX_BATCH_GET_BYTES {
                left.push(raw_key.clone());
                continue;
            }
            match read {
                Ok(item) => {
                    let size = item.as_ref().map_or(0, item_size);
                    units += read_units(size, table.consistent);
                    bytes += size;
                    if let Some(item) = item {
                        let item = match &table.paths {
                            Some(paths) => project(&item, paths),
                            None => item,
                        };
                        found.push(item_to_json(&item));
                    }
                }
                Err(BackendError::Unavailable(_)) => left.push(raw_key.clone()),
                Err(e @ BackendError::Throttled { .. }) => {
                    left.push(raw_key.clone());
                    throttled_keys += 1;
                    throttled.get_or_insert(e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        responses.insert(table.def.name.clone(), Json::Array(found));
        if !left.is_empty() {
            let mut spec = table.spec.clone();
            spec.insert("Keys".into(), Json::Array(left));
            unprocessed.insert(table.def.name.clone(), Json::Object(spec));
        }
        capacity.extend(report.render(&table.def.name, units));
    }
    // As DynamoDB: when throttling left every key unprocessed, the call fails.
    if throttled_keys == total_keys {
        if let Some(e) = throttled {
            return Err(e.into());
        }
    }
    let mut out = json!({ "Responses": responses, "UnprocessedKeys": unprocessed });
    if report != CapacityReport::None {
        out["ConsumedCapacity"] = Json::Array(capacity);
    }
    Ok(out)
}

/// One validated write of a BatchWriteItem.
struct BatchWrite<'a> {
    def_index: usize,
    at: Placement,
    command: WriteCommand,
    raw: &'a Json,
}

pub async fn batch_write_item<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let tables = request_items(req, "BatchWriteItem cannot have a null or no requests set")?;
    let report = CapacityReport::from_request(req)?;
    let total: usize = tables
        .values()
        .map(|t| t.as_array().map_or(0, Vec::len))
        .sum();
    if total > MAX_BATCH_WRITES {
        return Err(ApiError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    let mut defs = Vec::with_capacity(tables.len());
    let mut writes = Vec::with_capacity(total);
    for (name, list) in tables {
        let list = list.as_array().filter(|l| !l.is_empty()).ok_or_else(|| {
            ApiError::validation(format!(
                "The batch write request list for a table cannot be null or empty: {name}"
            ))
        })?;
        let def = super::table(backend, name)?;
        let mut seen = HashSet::new();
        for raw in list {
            let (at, command) = parse_write(&def, raw)?;
            if !seen.insert(at.item_key.clone()) {
                return Err(duplicate_error());
            }
            writes.push(BatchWrite {
                def_index: defs.len(),
                at,
                command,
                raw,
            });
        }
        defs.push(def);
    }
    let mut costs = vec![WriteCost::default(); defs.len()];
    let mut unprocessed: Map<String, Json> = Map::new();
    let mut throttled = 0usize;
    let mut throttle_error: Option<BackendError> = None;
    // Writes to distinct items (checked above) have no order among them: apply them
    // concurrently, each at its own partition.
    // What the indexes cost is only asked for with ReturnConsumedCapacity.
    let globals: Vec<Vec<TableDef>> = defs
        .iter()
        .map(|d| match report {
            CapacityReport::None => Vec::new(),
            _ => backend.global_indexes(d),
        })
        .collect();
    let outcomes = join_all(writes.iter().map(|w| {
        let def = &defs[w.def_index];
        let request = WriteRequest {
            table_id: def.id,
            item_key: w.at.item_key.clone(),
            command: w.command.clone(),
        };
        backend.write(def, w.at.partition, request)
    }))
    .await;
    for (w, outcome) in writes.iter().zip(outcomes) {
        let def = &defs[w.def_index];
        match outcome {
            Ok(WriteOutcome::Applied { old, new }) => {
                let cost = WriteCost::of(def, &globals[w.def_index], old.as_ref(), new.as_ref());
                costs[w.def_index].add(&cost);
            }
            Ok(WriteOutcome::ConditionFailed { .. }) => {
                return Err(ApiError::Internal(
                    "unconditional batch write reported a failed condition".into(),
                ))
            }
            Err(e @ (BackendError::Unavailable(_) | BackendError::Throttled { .. })) => {
                if matches!(e, BackendError::Throttled { .. }) {
                    throttled += 1;
                    throttle_error.get_or_insert(e);
                }
                let entry = unprocessed
                    .entry(def.name.clone())
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(list) = entry {
                    list.push(w.raw.clone());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // As DynamoDB: when throttling left every item unprocessed, the call fails.
    if throttled == writes.len() {
        if let Some(e) = throttle_error {
            return Err(e.into());
        }
    }
    let mut out = json!({ "UnprocessedItems": unprocessed });
    if report != CapacityReport::None {
        let capacity: Vec<Json> = defs
            .iter()
            .zip(&costs)
            .filter_map(|(d, cost)| report.render_write(d, cost))
            .collect();
        out["ConsumedCapacity"] = Json::Array(capacity);
    }
    Ok(out)
}

/// Validates one `{"PutRequest": ...}` or `{"DeleteRequest": ...}`.
fn parse_write(def: &TableDef, raw: &Json) -> ApiResult<(Placement, WriteCommand)> {
    let obj = raw
        .as_object()
        .ok_or_else(|| ApiError::validation("WriteRequest must be a map"))?;
    let put = obj.get("PutRequest").filter(|v| !v.is_null());
    let delete = obj.get("DeleteRequest").filter(|v| !v.is_null());
    match (put, delete) {
        (Some(put), None) => {
            let item = put
                .get("Item")
                .ok_or_else(|| ApiError::validation("1 validation error detected: Value null at 'requestItems.member.member.putRequest.item' failed to satisfy constraint: Member must not be null"))
                .and_then(|i| item_from_json(i).map_err(ApiError::from))?;
            let key = def.key_schema.key_of_item(&item)?;
            if item_size(&item) > MAX_ITEM_BYTES {
                return Err(ApiError::validation("Item size has exceeded the maximum allowed size"));
            }
            Ok((place(def, &key), WriteCommand::Put { item, condition: None }))
        }
        (None, Some(delete)) => {
            let key_item = delete
                .get("Key")
                .ok_or_else(|| ApiError::validation("1 validation error detected: Value null at 'requestItems.member.member.deleteRequest.key' failed to satisfy constraint: Member must not be null"))
                .and_then(|k| item_from_json(k).map_err(ApiError::from))?;
            let key = def.key_schema.key_from_request(&key_item)?;
            Ok((place(def, &key), WriteCommand::Delete { key: key_item, condition: None }))
        }
        _ => Err(ApiError::validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
        )),
    }
}
