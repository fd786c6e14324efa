//! Query and Scan: key ranges over partitions, pages of at most 1 MB, filters,
//! projections, `Select`, and the `ExclusiveStartKey` / `LastEvaluatedKey` cursor.

use rotor_model::expr::{
    project, Condition, ExprInput, ExprKind, KeyCondition, Parser, Path, SortKeyCondition,
};
use rotor_model::keys::{
    encode_bytes_prefix, encode_key_value, item_key, partition_key_prefix, prefix_successor,
    token_of_item_key,
};
use rotor_model::read::{ReadRange, PAGE_BYTES};
use rotor_model::table::{KeySchema, TableDef};
use rotor_model::value::item_to_json;
use rotor_model::{AttributeValue, Item};
use serde_json::{json, Value as Json};

use crate::backend::{Backend, BackendError, MAX_REROUTES};
use crate::capacity::{read_units, CapacityReport};
use crate::error::{ApiError, ApiResult};
use crate::ops::items::{projection, reject_legacy};
use crate::request::Request;

/// `Select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    AllAttributes,
    SpecificAttributes,
    Count,
}

/// What Query and Scan share: how to read, and how to shape what was read.
struct ReadPlan {
    limit: Option<usize>,
    consistent: bool,
    select: Select,
    filter: Option<Condition>,
    projection: Option<Vec<Path>>,
    report: CapacityReport,
}

impl ReadPlan {
    fn parse(
        req: &Request,
        parser: &mut Parser,
        key_condition: Option<&str>,
    ) -> ApiResult<(ReadPlan, Option<KeyCondition>)> {
        req.reject_unsupported("IndexName", "secondary indexes come with the change log")?;
        reject_legacy(
            req,
            &[
                "KeyConditions",
                "QueryFilter",
                "ScanFilter",
                "ConditionalOperator",
            ],
        )?;
        let limit = match req.int("Limit")? {
            None => None,
            Some(l) if l >= 1 => Some(l as usize),
            Some(l) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
                )))
            }
        };
        let select = req.one_of(
            "Select",
            "select",
            &[
                "ALL_ATTRIBUTES",
                "ALL_PROJECTED_ATTRIBUTES",
                "SPECIFIC_ATTRIBUTES",
                "COUNT",
            ],
        )?;
        let key = match key_condition {
            Some(text) => Some(parser.key_condition(text)?),
            None => None,
        };
        let filter = match req.str("FilterExpression")? {
            Some(text) => Some(parser.condition(text, ExprKind::Filter)?),
            None => None,
        };
        let projection = projection(req, parser)?;
        let select = match (select, &projection) {
            (None | Some("ALL_ATTRIBUTES"), None) => Select::AllAttributes,
            (None | Some("SPECIFIC_ATTRIBUTES"), Some(_)) => Select::SpecificAttributes,
            (Some("COUNT"), None) => Select::Count,
            (Some("SPECIFIC_ATTRIBUTES"), None) => {
                return Err(ApiError::validation(
                    "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
                ))
            }
            (Some("COUNT"), Some(_)) => {
                return Err(ApiError::validation(
                    "Cannot specify the ProjectionExpression when choosing to get only the Count",
                ))
            }
            (Some("ALL_ATTRIBUTES"), Some(_)) => {
                return Err(ApiError::validation(
                    "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
                ))
            }
            (Some(_), _) => {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries",
                ))
            }
        };
        let plan = ReadPlan {
            limit,
            consistent: req.bool("ConsistentRead")?.unwrap_or(false),
            select,
            filter,
            projection,
            report: CapacityReport::from_request(req)?,
        };
        Ok((plan, key))
    }
}

/// What a Query or Scan read, before it is rendered.
#[derive(Default)]
struct Collected {
    items: Vec<Item>,
    scanned: usize,
    bytes: usize,
    last_key: Option<Item>,
}

impl Collected {
    fn take(&mut self, plan: &ReadPlan, item: Item) {
        self.scanned += 1;
        if plan.filter.as_ref().is_none_or(|f| f.evaluate(&item)) {
            let item = match &plan.projection {
                Some(paths) => project(&item, paths),
                None => item,
            };
            self.items.push(item);
        }
    }

    /// Takes a page of items read; returns the key of the last one (the resume point).
    fn take_page(
        &mut self,
        plan: &ReadPlan,
        schema: &KeySchema,
        items: Vec<(Vec<u8>, Item)>,
    ) -> Option<Item> {
        let last = items.last().map(|(_, item)| schema.key_item(item));
        for (_, item) in items {
            self.take(plan, item);
        }
        last
    }

    fn render(self, plan: &ReadPlan, table: &str) -> Json {
        let mut out = json!({ "Count": self.items.len(), "ScannedCount": self.scanned });
        if plan.select != Select::Count {
            out["Items"] = Json::Array(self.items.iter().map(item_to_json).collect());
        }
        if let Some(key) = self.last_key {
            out["LastEvaluatedKey"] = item_to_json(&key);
        }
        if let Some(c) = plan
            .report
            .render(table, read_units(self.bytes, plan.consistent))
        {
            out["ConsumedCapacity"] = c;
        }
        out
    }
}

/// The storage key after which a read resumes (`ExclusiveStartKey`).
fn start_key(req: &Request, def: &TableDef) -> ApiResult<Option<Vec<u8>>> {
    let Some(esk) = req.item("ExclusiveStartKey")? else {
        return Ok(None);
    };
    let key_size = 1 + usize::from(def.key_schema.sort.is_some());
    if esk.len() != key_size {
        return Err(ApiError::validation(
            "Exclusive Start Key must have same size as table's key schema",
        ));
    }
    let key = def.key_schema.key_from_request(&esk).map_err(|_| {
        ApiError::validation("The provided starting key is invalid: The provided key element does not match the schema")
    })?;
    Ok(Some(item_key(def.id, &key.partition, key.sort.as_ref())))
}

/// The smallest storage key greater than `key` (item keys are prefix-free).
fn after(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    k.push(0);
    k
}

pub async fn query<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    req.check_expression_maps(
        &[
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
        ],
        &["KeyConditionExpression", "FilterExpression"],
    )?;
    let (names, values) = req.substitutions()?;
    let mut parser = Parser::new(ExprInput {
        names: names.as_ref(),
        values: values.as_ref(),
    });
    let key_text = req.str("KeyConditionExpression")?.ok_or_else(|| {
        ApiError::validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    })?;
    let (plan, key_condition) = ReadPlan::parse(req, &mut parser, Some(key_text))?;
    parser.finish()?;
    let forward = req.bool("ScanIndexForward")?.unwrap_or(true);
    let key_condition =
        key_condition.ok_or_else(|| ApiError::Internal("key condition not parsed".into()))?;
    let (pk, sort) = resolve_key_condition(&key_condition, &def.key_schema)?;
    if let Some(filter) = &plan.filter {
        if let Some(attr) = filter
            .paths()
            .into_iter()
            .map(|p| p.top())
            .find(|a| def.key_schema.is_key_attribute(a))
        {
            return Err(ApiError::validation(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {attr}"
            )));
        }
    }
    let (mut start, mut end) = sort_key_range(&def, &pk, sort.as_ref())?;
    if let Some(esk) = start_key(req, &def)? {
        if esk < start || esk >= end {
            return Err(ApiError::validation(
                "The provided starting key does not match the range key predicate",
            ));
        }
        if forward {
            start = start.max(after(&esk));
        } else {
            end = end.min(esk);
        }
    }
    let partition = def.partition_of_token(rotor_model::keys::token(&pk));
    let mut collected = Collected::default();
    if start < end {
        let range = ReadRange {
            start,
            end,
            reverse: !forward,
            max_items: plan.limit,
            max_bytes: PAGE_BYTES,
        };
        let page = backend
            .read_range(&def, partition, range, plan.consistent)
            .await?;
        collected.bytes = page.bytes;
        let hit_limit = plan.limit.is_some_and(|l| page.items.len() >= l);
        let stopped = page.truncated || hit_limit;
        let last = collected.take_page(&plan, &def.key_schema, page.items);
        if stopped {
            collected.last_key = last;
        }
    }
    Ok(collected.render(&plan, name))
}

/// Picks the partition-key equality and the optional sort-key condition out of a parsed
/// KeyConditionExpression.
fn resolve_key_condition(
    kc: &KeyCondition,
    schema: &KeySchema,
) -> ApiResult<(AttributeValue, Option<SortKeyCondition>)> {
    let (pk, sk) = kc.for_schema(
        &schema.partition.name,
        schema.sort.as_ref().map(|s| s.name.as_str()),
    )?;
    let mismatch = || {
        ApiError::validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
    };
    if pk.value_type().descriptor() != schema.partition.ty.descriptor() {
        return Err(mismatch());
    }
    if let (Some(cond), Some(sort)) = (&sk, &schema.sort) {
        let operands: Vec<&AttributeValue> = match cond {
            SortKeyCondition::Between(a, b) => vec![a, b],
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => vec![v],
        };
        if operands
            .iter()
            .any(|v| v.value_type().descriptor() != sort.ty.descriptor())
        {
            return Err(mismatch());
        }
        if let (SortKeyCondition::BeginsWith(_), "N") = (cond, sort.ty.descriptor()) {
            return Err(ApiError::validation(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ));
        }
    }
    Ok((pk, sk))
}

/// The storage key range `[start, end)` holding the items a key condition selects.
fn sort_key_range(
    def: &TableDef,
    pk: &AttributeValue,
    sort: Option<&SortKeyCondition>,
) -> ApiResult<(Vec<u8>, Vec<u8>)> {
    let prefix = partition_key_prefix(def.id, pk);
    let prefix_end = prefix_successor(&prefix).unwrap_or_else(|| after(&prefix));
    let at = |v: &AttributeValue| {
        let mut k = prefix.clone();
        encode_key_value(v, &mut k);
        k
    };
    Ok(match sort {
        None => (prefix.clone(), prefix_end),
        Some(SortKeyCondition::Eq(v)) => (at(v), after(&at(v))),
        Some(SortKeyCondition::Lt(v)) => (prefix.clone(), at(v)),
        Some(SortKeyCondition::Le(v)) => (prefix.clone(), after(&at(v))),
        Some(SortKeyCondition::Gt(v)) => (after(&at(v)), prefix_end),
        Some(SortKeyCondition::Ge(v)) => (at(v), prefix_end),
        Some(SortKeyCondition::Between(a, b)) => {
            if at(a) > at(b) {
                return Err(ApiError::validation(format!(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                    brief(a),
                    brief(b)
                )));
            }
            (at(a), after(&at(b)))
        }
        Some(SortKeyCondition::BeginsWith(v)) => {
            let mut k = prefix.clone();
            match v {
                AttributeValue::S(s) => encode_bytes_prefix(s.as_bytes(), &mut k),
                AttributeValue::B(b) => encode_bytes_prefix(b, &mut k),
                _ => {}
            }
            let end = prefix_successor(&k).unwrap_or_else(|| prefix_end.clone());
            (k, end)
        }
    })
}

/// `{S:abc}` as DynamoDB shows an operand in messages.
fn brief(v: &AttributeValue) -> String {
    match v.to_json() {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| {
                format!(
                    "{{{k}:{}}}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect(),
        other => other.to_string(),
    }
}

pub async fn scan<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    req.check_expression_maps(
        &["FilterExpression", "ProjectionExpression"],
        &["FilterExpression"],
    )?;
    let (names, values) = req.substitutions()?;
    let mut parser = Parser::new(ExprInput {
        names: names.as_ref(),
        values: values.as_ref(),
    });
    let (plan, _) = ReadPlan::parse(req, &mut parser, None)?;
    parser.finish()?;
    let (seg_lo, seg_hi) = segment_tokens(req)?;
    let table_start = def.id.to_be_bytes().to_vec();
    let token_key = |t: u64| {
        let mut k = table_start.clone();
        k.extend_from_slice(&t.to_be_bytes());
        k
    };
    let mut start = token_key(seg_lo);
    let end = match seg_hi {
        Some(hi) => token_key(hi),
        None => (def.id + 1).to_be_bytes().to_vec(),
    };
    if let Some(esk) = start_key(req, &def)? {
        let tok = token_of_item_key(&esk).unwrap_or(0);
        if tok < seg_lo || seg_hi.is_some_and(|hi| tok >= hi) {
            return Err(ApiError::validation(
                "The provided Exclusive start key does not map to the provided segment",
            ));
        }
        start = after(&esk);
    }
    let mut collected = Collected::default();
    let mut remaining_items = plan.limit;
    let mut remaining_bytes = PAGE_BYTES;
    let mut def = def;
    let mut reroutes = 0u32;
    let mut partition = def.partition_of_token(token_of_item_key(&start).unwrap_or(seg_lo));
    while start < end {
        // Partitions are walked in token order, each up to where the next begins.
        let part_end = end.clone().min(def.partition_key_range(partition).1);
        let range = ReadRange {
            start: start.clone(),
            end: part_end.clone(),
            reverse: false,
            max_items: remaining_items,
            max_bytes: remaining_bytes,
        };
        let page = match backend
            .read_range(&def, partition, range, plan.consistent)
            .await
        {
            Ok(page) => page,
            Err(BackendError::StaleRoute(_)) if reroutes < MAX_REROUTES => {
                // A partition split under the scan: walk on with the new layout.
                reroutes += 1;
                def = backend.table(name).ok_or_else(ApiError::table_not_found)?;
                partition = def.partition_of_token(token_of_item_key(&start).unwrap_or(seg_lo));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        collected.bytes += page.bytes;
        remaining_bytes = remaining_bytes.saturating_sub(page.bytes);
        let read = page.items.len();
        let last = collected.take_page(&plan, &def.key_schema, page.items);
        remaining_items = remaining_items.map(|r| r.saturating_sub(read));
        if page.truncated || remaining_items == Some(0) || remaining_bytes == 0 {
            collected.last_key = last;
            break;
        }
        match def.next_partition(partition) {
            Some(next) => {
                start = part_end;
                partition = next;
            }
            None => break,
        }
    }
    Ok(collected.render(&plan, name))
}

/// The token range `[lo, hi)` of a parallel-scan segment (`hi = None`: to the end).
fn segment_tokens(req: &Request) -> ApiResult<(u64, Option<u64>)> {
    let segment = req.int("Segment")?;
    let total = req.int("TotalSegments")?;
    match (segment, total) {
        (None, None) => Ok((0, None)),
        (Some(_), None) => Err(ApiError::validation(
            "If segment is specified, total segment must also be specified",
        )),
        (None, Some(_)) => Err(ApiError::validation(
            "If total segments is specified, a particular segment must also be specified for this request",
        )),
        (Some(s), Some(t)) => {
            if !(1..=1_000_000).contains(&t) {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
                    if t < 1 { "greater than or equal to 1" } else { "less than or equal to 1000000" }
                )));
            }
            if s < 0 {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0"
                )));
            }
            if s >= t {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'segment' failed to satisfy constraint: Member must have value less than or equal to {}",
                    t - 1
                )));
            }
            let bound = |i: i64| ((u128::from(i as u64) << 64) / u128::from(t as u64)) as u64;
            let hi = if s + 1 == t { None } else { Some(bound(s + 1)) };
            Ok((bound(s), hi))
        }
    }
}
