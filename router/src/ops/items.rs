//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.

use rotor_model::expr::{project, Condition, ExprInput, ExprKind, Parser, Path, PathElem};
use rotor_model::table::{TableDef, MAX_ITEM_BYTES};
use rotor_model::value::{item_size, item_to_json};
use rotor_model::write::{WriteCommand, WriteOutcome, WriteRequest};
use rotor_model::Item;
use serde_json::{json, Value as Json};

use crate::backend::Backend;
use crate::capacity::{read_units, CapacityReport, WriteCost};
use crate::error::{ApiError, ApiResult};
use crate::ops::keys::place;
use crate::request::Request;

/// `ReturnValues`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReturnValues {
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

fn return_values(req: &Request, allowed: &[&'static str]) -> ApiResult<ReturnValues> {
    let all = ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"];
    let v = req.one_of("ReturnValues", "returnValues", &all)?;
    if let Some(v) = v {
        if !allowed.contains(&v) {
            return Err(ApiError::validation("Return values set to invalid value"));
        }
    }
    Ok(match v {
        Some("ALL_OLD") => ReturnValues::AllOld,
        Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
        Some("ALL_NEW") => ReturnValues::AllNew,
        Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
        _ => ReturnValues::None,
    })
}

/// `ReturnValuesOnConditionCheckFailure`: whether the failed item comes back.
fn return_old_on_failure(req: &Request) -> ApiResult<bool> {
    Ok(req.one_of(
        "ReturnValuesOnConditionCheckFailure",
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    )? == Some("ALL_OLD"))
}

/// Each legacy (pre-expression) parameter and the expression that replaces it.
const LEGACY: [(&str, &str); 7] = [
    ("Expected", "ConditionExpression"),
    ("ConditionalOperator", "ConditionExpression"),
    ("AttributeUpdates", "UpdateExpression"),
    ("AttributesToGet", "ProjectionExpression"),
    ("KeyConditions", "KeyConditionExpression"),
    ("QueryFilter", "FilterExpression"),
    ("ScanFilter", "FilterExpression"),
];

/// Rejects the legacy parameters Rotor does not translate, and any legacy parameter
/// mixed with its expression, as DynamoDB does.
pub(super) fn reject_legacy(req: &Request, fields: &[&str]) -> ApiResult<()> {
    for (legacy, expression) in LEGACY {
        if req.field(legacy).is_some() && req.field(expression).is_some() {
            return Err(ApiError::validation(format!(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{legacy}}} Expression parameters: {{{expression}}}"
            )));
        }
    }
    for f in fields {
        req.reject_unsupported(f, "use the expression parameters instead")?;
    }
    Ok(())
}

/// The projection of a read: `ProjectionExpression`, or the legacy `AttributesToGet`.
pub(super) fn projection(req: &Request, parser: &mut Parser) -> ApiResult<Option<Vec<Path>>> {
    reject_legacy(req, &[])?;
    let expr = req.str("ProjectionExpression")?;
    let legacy = req.array("AttributesToGet")?;
    match (expr, legacy) {
        (Some(text), _) => Ok(Some(parser.projection(text)?)),
        (None, Some(names)) => {
            let mut paths = Vec::with_capacity(names.len());
            for n in names {
                let n = n
                    .as_str()
                    .ok_or_else(|| ApiError::validation("AttributesToGet must be strings"))?;
                paths.push(Path(vec![PathElem::Attr(n.to_owned())]));
            }
            Ok(Some(paths))
        }
        (None, None) => Ok(None),
    }
}

/// The `ConditionExpression` of a write that takes no other expression.
fn parse_condition(req: &Request) -> ApiResult<Option<Condition>> {
    let (names, values) = req.substitutions()?;
    let mut parser = Parser::new(ExprInput {
        names: names.as_ref(),
        values: values.as_ref(),
    });
    let condition = match req.str("ConditionExpression")? {
        Some(text) => Some(parser.condition(text, ExprKind::Condition)?),
        None => None,
    };
    parser.finish()?;
    Ok(condition)
}

fn attributes(out: &mut Json, item: Option<Item>) {
    if let Some(item) = item {
        out["Attributes"] = item_to_json(&item);
    }
}

fn consumed(out: &mut Json, report: CapacityReport, table: &str, units: f64) {
    if let Some(c) = report.render(table, units) {
        out["ConsumedCapacity"] = c;
    }
}

/// The `ConsumedCapacity` of a write that replaced `old` by `new`.
fn consumed_by_write<B: Backend>(
    out: &mut Json,
    report: CapacityReport,
    (backend, def): (&B, &TableDef),
    old: &Option<Item>,
    new: &Option<Item>,
) {
    if report == CapacityReport::None {
        return;
    }
    let globals = backend.global_indexes(def);
    let cost = WriteCost::of(def, &globals, old.as_ref(), new.as_ref());
    if let Some(c) = report.render_write(def, &cost) {
        out["ConsumedCapacity"] = c;
    }
}

/// Sends a write and turns a failed condition into DynamoDB's error.
async fn write<B: Backend>(
    backend: &B,
    def: &TableDef,
    partition: u32,
    req: WriteRequest,
    return_old_on_failure: bool,
) -> ApiResult<(Option<Item>, Option<Item>)> {
    match backend.write(def, partition, req).await? {
        WriteOutcome::Applied { old, new } => Ok((old, new)),
        WriteOutcome::ConditionFailed { old } => Err(ApiError::ConditionalCheckFailed {
            item: old.filter(|_| return_old_on_failure),
        }),
    }
}

pub async fn put_item<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    req.check_expression_maps(&["ConditionExpression"], &["ConditionExpression"])?;
    reject_legacy(req, &["Expected", "ConditionalOperator"])?;
    let item = req
        .item("Item")?
        .ok_or_else(|| ApiError::validation("Item to put in PutItem cannot be null"))?;
    let rv = return_values(req, &["NONE", "ALL_OLD"])?;
    let on_failure = return_old_on_failure(req)?;
    let report = CapacityReport::from_request(req)?;
    let condition = parse_condition(req)?;
    let key = def.key_schema.key_of_item(&item)?;
    if item_size(&item) > MAX_ITEM_BYTES {
        return Err(ApiError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    let at = place(&def, &key);
    let request = WriteRequest {
        table_id: def.id,
        item_key: at.item_key,
        command: WriteCommand::Put { item, condition },
    };
    let (old, new) = write(backend, &def, at.partition, request, on_failure).await?;
    let mut out = json!({});
    consumed_by_write(&mut out, report, (backend, &def), &old, &new);
    if rv == ReturnValues::AllOld {
        attributes(&mut out, old);
    }
    Ok(out)
}

pub async fn get_item<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    req.check_expression_maps(&["ProjectionExpression"], &["ProjectionExpression"])?;
    let key_item = req.item("Key")?.ok_or_else(|| {
        ApiError::validation("Cannot have null key for GetItem, DeleteItem, or UpdateItem")
    })?;
    let consistent = req.bool("ConsistentRead")?.unwrap_or(false);
    let report = CapacityReport::from_request(req)?;
    let (names, values) = req.substitutions()?;
    let mut parser = Parser::new(ExprInput {
        names: names.as_ref(),
        values: values.as_ref(),
    });
    let paths = projection(req, &mut parser)?;
    parser.finish()?;
    let key = def.key_schema.key_from_request(&key_item)?;
    let at = place(&def, &key);
    let item = backend
        .get(&def, at.partition, at.item_key, consistent)
        .await?;
    let mut out = json!({});
    consumed(
        &mut out,
        report,
        name,
        read_units(item.as_ref().map_or(0, item_size), consistent),
    );
    if let Some(item) = item {
        let item = match &paths {
            Some(paths) => project(&item, paths),
            None => item,
        };
        out["Item"] = item_to_json(&item);
    }
    Ok(out)
}

pub async fn update_item<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    req.check_expression_maps(
        &["UpdateExpression", "ConditionExpression"],
        &["UpdateExpression", "ConditionExpression"],
    )?;
    reject_legacy(
        req,
        &["Expected", "ConditionalOperator", "AttributeUpdates"],
    )?;
    let key_item = req.item("Key")?.ok_or_else(|| {
        ApiError::validation("Cannot have null key for GetItem, DeleteItem, or UpdateItem")
    })?;
    let rv = return_values(
        req,
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
    )?;
    let on_failure = return_old_on_failure(req)?;
    let report = CapacityReport::from_request(req)?;
    let (names, values) = req.substitutions()?;
    let mut parser = Parser::new(ExprInput {
        names: names.as_ref(),
        values: values.as_ref(),
    });
    let update = match req.str("UpdateExpression")? {
        Some(text) => Some(parser.update(text)?),
        None => None,
    };
    let condition = match req.str("ConditionExpression")? {
        Some(text) => Some(parser.condition(text, ExprKind::Condition)?),
        None => None,
    };
    parser.finish()?;
    let key = def.key_schema.key_from_request(&key_item)?;
    if let Some(update) = &update {
        if let Some(attr) = update
            .top_level_attributes()
            .into_iter()
            .find(|a| def.key_schema.is_key_attribute(a))
        {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {attr}. This attribute is part of the key"
            )));
        }
    }
    let updated: Vec<Path> = update.as_ref().map_or_else(Vec::new, |u| {
        u.updated_paths().into_iter().cloned().collect()
    });
    let at = place(&def, &key);
    let command = WriteCommand::Update {
        key: key_item,
        update,
        condition,
    };
    let request = WriteRequest {
        table_id: def.id,
        item_key: at.item_key,
        command,
    };
    let (old, new) = write(backend, &def, at.partition, request, on_failure).await?;
    let mut out = json!({});
    consumed_by_write(&mut out, report, (backend, &def), &old, &new);
    let returned = match rv {
        ReturnValues::None => None,
        ReturnValues::AllOld => old,
        ReturnValues::AllNew => new,
        ReturnValues::UpdatedOld => old.map(|o| project(&o, &updated)),
        ReturnValues::UpdatedNew => new.map(|n| project(&n, &updated)),
    };
    attributes(&mut out, returned.filter(|i| !i.is_empty()));
    Ok(out)
}

pub async fn delete_item<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    req.check_expression_maps(&["ConditionExpression"], &["ConditionExpression"])?;
    reject_legacy(req, &["Expected", "ConditionalOperator"])?;
    let key_item = req.item("Key")?.ok_or_else(|| {
        ApiError::validation("Cannot have null key for GetItem, DeleteItem, or UpdateItem")
    })?;
    let rv = return_values(req, &["NONE", "ALL_OLD"])?;
    let on_failure = return_old_on_failure(req)?;
    let report = CapacityReport::from_request(req)?;
    let condition = parse_condition(req)?;
    let key = def.key_schema.key_from_request(&key_item)?;
    let at = place(&def, &key);
    let command = WriteCommand::Delete {
        key: key_item,
        condition,
    };
    let request = WriteRequest {
        table_id: def.id,
        item_key: at.item_key,
        command,
    };
    let (old, new) = write(backend, &def, at.partition, request, on_failure).await?;
    let mut out = json!({});
    consumed_by_write(&mut out, report, (backend, &def), &old, &new);
    if rv == ReturnValues::AllOld {
        attributes(&mut out, old);
    }
    Ok(out)
}
