//! What Query and Scan share: the read plan parsed from a request (`Limit`, `Select`,
//! filter, projection, whether an LSI read fetches whole items), and the collection of
//! what was read into a response.

use rotor_model::expr::{project, Condition, ExprKind, KeyCondition, Parser, Path};
use rotor_model::value::item_to_json;
use rotor_model::Item;
use serde_json::{json, Value as Json};

use super::target::ReadTarget;
use crate::capacity::{read_units, CapacityReport};
use crate::error::{ApiError, ApiResult};
use crate::ops::items::{projection, reject_legacy};
use crate::request::Request;

/// `Select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Select {
    AllAttributes,
    AllProjectedAttributes,
    SpecificAttributes,
    Count,
}

/// How to read, and how to shape what was read.
pub(super) struct ReadPlan {
    pub limit: Option<usize>,
    pub consistent: bool,
    pub select: Select,
    pub filter: Option<Condition>,
    pub projection: Option<Vec<Path>>,
    /// An LSI read that needs attributes the index does not hold: each entry's whole
    /// item is read from the table.
    pub fetch_items: bool,
    pub report: CapacityReport,
}

impl ReadPlan {
    pub fn parse(
        req: &Request,
        target: &ReadTarget,
        parser: &mut Parser,
        key_condition: Option<&str>,
    ) -> ApiResult<(ReadPlan, Option<KeyCondition>)> {
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
            (None, None) if target.is_index() => Select::AllProjectedAttributes,
            (None | Some("ALL_ATTRIBUTES"), None) => Select::AllAttributes,
            (Some("ALL_PROJECTED_ATTRIBUTES"), None) if target.is_index() => {
                Select::AllProjectedAttributes
            }
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
            (Some("ALL_PROJECTED_ATTRIBUTES"), Some(_)) if target.is_index() => {
                return Err(ApiError::validation(
                    "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
                ))
            }
            (Some(_), _) => {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries",
                ))
            }
        };
        if target.is_global() && select == Select::AllAttributes && !target.holds_everything() {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                target.index_name().unwrap_or_default()
            )));
        }
        // An LSI fetches from its table whatever it does not hold that the read needs
        // (DynamoDB does the same, at the cost of a table read per item); a GSI
        // returns what it holds.
        let needs = |paths: &[&Path]| paths.iter().any(|p| !target.holds(p.top()));
        let fetch_items = !target.is_global()
            && !target.holds_everything()
            && (select == Select::AllAttributes
                || projection
                    .as_ref()
                    .is_some_and(|p| needs(&p.iter().collect::<Vec<_>>()))
                || filter.as_ref().is_some_and(|f| needs(&f.paths())));
        let plan = ReadPlan {
            limit,
            consistent: req.bool("ConsistentRead")?.unwrap_or(false),
            select,
            filter,
            projection,
            fetch_items,
            report: CapacityReport::from_request(req)?,
        };
        Ok((plan, key))
    }

    /// Refuses a filter on the target's key attributes (DynamoDB's message).
    pub fn check_filter_keys(&self, target: &ReadTarget) -> ApiResult<()> {
        let Some(filter) = &self.filter else {
            return Ok(());
        };
        let key = target.key_schema();
        match filter
            .paths()
            .into_iter()
            .map(|p| p.top())
            .find(|a| key.is_key_attribute(a))
        {
            Some(attr) => Err(ApiError::validation(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {attr}"
            ))),
            None => Ok(()),
        }
    }
}

/// What a Query or Scan read, before it is rendered.
#[derive(Default)]
pub(super) struct Collected {
    pub items: Vec<Item>,
    pub scanned: usize,
    pub bytes: usize,
    pub last_key: Option<Item>,
}

impl Collected {
    fn take(&mut self, plan: &ReadPlan, target: &ReadTarget, mut item: Item) {
        self.scanned += 1;
        if plan.filter.as_ref().is_none_or(|f| f.evaluate(&item)) {
            if plan.select == Select::AllProjectedAttributes && plan.fetch_items {
                // Fetched for the filter: what is returned is still the projection.
                item.retain(|name, _| target.holds(name));
            }
            let item = match &plan.projection {
                Some(paths) => project(&item, paths),
                None => item,
            };
            self.items.push(item);
        }
    }

    /// Takes a page of items read; returns the key of the last one (the resume point).
    pub fn take_page(
        &mut self,
        plan: &ReadPlan,
        target: &ReadTarget,
        items: Vec<(Vec<u8>, Item)>,
    ) -> Option<Item> {
        let last = items.last().map(|(_, item)| target.cursor_key(item));
        for (_, item) in items {
            self.take(plan, target, item);
        }
        last
    }

    pub fn render(self, plan: &ReadPlan, target: &ReadTarget) -> Json {
        let mut out = json!({ "Count": self.items.len(), "ScannedCount": self.scanned });
        if plan.select != Select::Count {
            out["Items"] = Json::Array(self.items.iter().map(item_to_json).collect());
        }
        if let Some(key) = self.last_key {
            out["LastEvaluatedKey"] = item_to_json(&key);
        }
        let units = read_units(self.bytes, plan.consistent);
        let table = &target.def().name;
        let consumed = match target.index_name() {
            None => plan.report.render(table, units),
            Some(index) => plan
                .report
                .render_index_read(table, index, target.is_global(), units),
        };
        if let Some(c) = consumed {
            out["ConsumedCapacity"] = c;
        }
        out
    }
}
