//! CreateTable's and UpdateTable's parameters: billing mode, throughput, on-demand and
//! warm throughput, attribute definitions, key schema.

use rotor_model::table::{BillingMode, KeyAttribute, KeySchema, ScalarType};
use serde_json::Value as Json;

use super::MAX_KEY_NAME_BYTES;
use crate::error::{ApiError, ApiResult};
use crate::request::{validation_errors, Request};

pub(super) fn parse_billing_mode(req: &Request) -> ApiResult<Option<BillingMode>> {
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

pub(super) fn parse_throughput(req: &Request) -> ApiResult<Option<(u64, u64)>> {
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
pub(super) type RequestUnitLimits = (Option<u64>, Option<u64>);

pub(super) fn parse_on_demand_throughput(req: &Request) -> ApiResult<Option<RequestUnitLimits>> {
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
pub(super) fn parse_warm_throughput(req: &Request) -> ApiResult<Option<RequestUnitLimits>> {
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

pub(super) fn parse_attribute_definitions(req: &Request) -> ApiResult<Vec<KeyAttribute>> {
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
pub(super) fn parse_key_schema(
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
