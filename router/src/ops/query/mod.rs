//! Query and Scan: key ranges over partitions, pages of at most 1 MB, filters,
//! projections, `Select`, and the `ExclusiveStartKey` / `LastEvaluatedKey` cursor; of
//! a table or of one of its secondary indexes (`IndexName`).
//!
//! ```text
//!   mod.rs     the two operations
//!   plan.rs    what they share: the read plan and the collected response
//!   target.rs  the table, an LSI or a GSI: keys, cursors, ranges and routing of each
//!   ranges.rs  key conditions and their storage-key ranges; scan segments
//! ```

mod plan;
mod ranges;
mod target;

use rotor_model::expr::{ExprInput, Parser};
use rotor_model::read::{ReadRange, PAGE_BYTES};
use rotor_model::table::TokenRange;
use serde_json::Value as Json;

use crate::backend::{Backend, BackendError, MAX_REROUTES};
use crate::error::{ApiError, ApiResult};
use crate::request::Request;
use plan::{Collected, ReadPlan};
use ranges::{after, resolve_key_condition, segment_tokens, sort_key_range};
use target::ReadTarget;

/// The tables holding `def`'s global secondary indexes when the request names an
/// index (none otherwise: a read of the table needs none of them).
fn global_indexes_if_named<B: Backend>(
    backend: &B,
    def: &rotor_model::table::TableDef,
    req: &Request,
) -> ApiResult<Vec<rotor_model::table::TableDef>> {
    Ok(match req.str("IndexName")? {
        Some(_) => backend.global_indexes(def),
        None => Vec::new(),
    })
}

pub async fn query<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let def = super::table(backend, name)?;
    let globals = global_indexes_if_named(backend, &def, req)?;
    let target = ReadTarget::resolve(&def, &globals, req)?;
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
    let (plan, key_condition) = ReadPlan::parse(req, &target, &mut parser, Some(key_text))?;
    parser.finish()?;
    let forward = req.bool("ScanIndexForward")?.unwrap_or(true);
    let key_condition =
        key_condition.ok_or_else(|| ApiError::Internal("key condition not parsed".into()))?;
    let (pk, sort) = resolve_key_condition(&key_condition, &target.key_schema())?;
    plan.check_filter_keys(&target)?;
    let (mut start, mut end) = sort_key_range(target.partition_prefix(&pk), sort.as_ref())?;
    if let Some(esk) = target.start_key(req)? {
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
    let routing = target.routing();
    let partition = routing.partition_of_token(rotor_model::keys::token(&pk));
    let mut collected = Collected::default();
    if start < end {
        let range = ReadRange {
            start,
            end,
            reverse: !forward,
            max_items: plan.limit,
            max_bytes: PAGE_BYTES,
            local_index: target.index_read(plan.fetch_items),
        };
        let page = backend
            .read_range(routing, partition, range, plan.consistent)
            .await?;
        collected.bytes = page.bytes;
        let hit_limit = plan.limit.is_some_and(|l| page.items.len() >= l);
        let stopped = page.truncated || hit_limit;
        let last = collected.take_page(&plan, &target, page.items);
        if stopped {
            collected.last_key = last;
        }
    }
    Ok(collected.render(&plan, &target))
}

pub async fn scan<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let name = req.table_name()?;
    let mut def = super::table(backend, name)?;
    let mut globals = global_indexes_if_named(backend, &def, req)?;
    req.check_expression_maps(
        &["FilterExpression", "ProjectionExpression"],
        &["FilterExpression"],
    )?;
    let (names, values) = req.substitutions()?;
    let mut parser = Parser::new(ExprInput {
        names: names.as_ref(),
        values: values.as_ref(),
    });
    let (plan, start_key, segment) = {
        let target = ReadTarget::resolve(&def, &globals, req)?;
        let (plan, _) = ReadPlan::parse(req, &target, &mut parser, None)?;
        parser.finish()?;
        (plan, target.start_key(req)?, segment_tokens(req)?)
    };
    let (seg_lo, seg_hi) = segment;
    let segment_range = TokenRange {
        start: seg_lo,
        end: seg_hi,
    };
    let mut collected = Collected::default();
    let mut remaining_items = plan.limit;
    let mut remaining_bytes = PAGE_BYTES;
    let mut reroutes = 0u32;
    // Where the walk resumes after a reroute: the start of the read that was refused.
    let mut resume: Option<Vec<u8>> = None;
    loop {
        // The table's definition changes when a partition splits under the scan: the
        // walk goes on with the new layout from where it was.
        let target = ReadTarget::resolve(&def, &globals, req)?;
        let routing = target.routing();
        let (mut start, end) = target.key_range(&segment_range);
        if let Some(esk) = &start_key {
            let tok = target.token_of_key(esk).unwrap_or(0);
            if !segment_range.contains(tok) {
                return Err(ApiError::validation(
                    "The provided Exclusive start key does not map to the provided segment",
                ));
            }
            start = start.max(after(esk));
        }
        if let Some(at) = resume.take() {
            start = start.max(at);
        }
        let mut partition =
            routing.partition_of_token(target.token_of_key(&start).unwrap_or(seg_lo));
        let outcome = loop {
            if start >= end {
                break Ok(());
            }
            // Partitions are walked in token order, each up to where the next begins.
            let part_end = match routing.partition_tokens(partition) {
                Some(tokens) => end.clone().min(target.key_range(&tokens).1),
                None => end.clone(),
            };
            let range = ReadRange {
                start: start.clone(),
                end: part_end.clone(),
                reverse: false,
                max_items: remaining_items,
                max_bytes: remaining_bytes,
                local_index: target.index_read(plan.fetch_items),
            };
            let page = match backend
                .read_range(routing, partition, range, plan.consistent)
                .await
            {
                Ok(page) => page,
                Err(e) => break Err((e, start)),
            };
            collected.bytes += page.bytes;
            remaining_bytes = remaining_bytes.saturating_sub(page.bytes);
            let read = page.items.len();
            let last = collected.take_page(&plan, &target, page.items);
            remaining_items = remaining_items.map(|r| r.saturating_sub(read));
            if page.truncated || remaining_items == Some(0) || remaining_bytes == 0 {
                collected.last_key = last;
                break Ok(());
            }
            match routing.next_partition(partition) {
                Some(next) => {
                    start = part_end;
                    partition = next;
                }
                None => break Ok(()),
            }
        };
        match outcome {
            Ok(()) => return Ok(collected.render(&plan, &target)),
            Err((BackendError::StaleRoute(_), at)) if reroutes < MAX_REROUTES => {
                reroutes += 1;
                resume = Some(at);
                def = backend.table(name).ok_or_else(ApiError::table_not_found)?;
                globals = global_indexes_if_named(backend, &def, req)?;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}
