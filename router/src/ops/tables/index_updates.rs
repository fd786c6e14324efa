//! UpdateTable's `GlobalSecondaryIndexUpdates`: adding a global secondary index to a
//! table that has items (it is backfilled from them: CREATING with `Backfilling`
//! until every partition of the table has copied its items in), changing an index's
//! capacity, and deleting one. Checked in DynamoDB's order with its messages (those
//! DynamoDB Local gives where the documentation is silent).

use rotor_model::global_index::MAX_GLOBAL_INDEXES;
use rotor_model::table::{BillingMode, KeyAttribute, TableDef};
use serde_json::Value as Json;

use super::parse::{parse_attribute_definitions, parse_on_demand_throughput, parse_throughput};
use super::{global_index_table, set_throughput};
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::ops::indexes::{invalid, parse_global_index, GlobalIndexRequest};
use crate::request::Request;

/// One action of `GlobalSecondaryIndexUpdates`.
#[derive(Debug)]
pub(super) enum IndexAction {
    Create(GlobalIndexRequest),
    /// New capacity for an index: its `ProvisionedThroughput` and
    /// `OnDemandThroughput`.
    Update {
        name: String,
        settings: Json,
    },
    Delete(String),
}

impl IndexAction {
    fn index_name(&self) -> &str {
        match self {
            IndexAction::Create(c) => &c.name,
            IndexAction::Update { name, .. } | IndexAction::Delete(name) => name,
        }
    }
}

const ONE_AT_A_TIME: &str =
    "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table";
const BEING_CREATED: &str =
    "Attempt to change a resource which is still in use: Index is being created.";

/// The request's index actions (None: it has none), checked against table `def` and
/// its indexes `existing` (their tables).
pub(super) fn parse(
    req: &Request,
    def: &TableDef,
    existing: &[TableDef],
) -> ApiResult<Option<Vec<IndexAction>>> {
    let Some(list) = req
        .field("GlobalSecondaryIndexUpdates")
        .filter(|v| !v.is_null())
    else {
        return Ok(None);
    };
    let list = list.as_array().ok_or_else(|| {
        ApiError::Serialization("GlobalSecondaryIndexUpdates must be a list of updates".into())
    })?;
    if list.is_empty() {
        return Err(ApiError::validation("Nothing to update"));
    }
    let mut actions = Vec::with_capacity(list.len());
    for (i, update) in list.iter().enumerate() {
        let wire = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
        let field = |name: &str| update.get(name).filter(|v| !v.is_null());
        let action = if let Some(create) = field("Create") {
            IndexAction::Create(parse_create(req, create, &wire, def)?)
        } else if let Some(change) = field("Update") {
            IndexAction::Update {
                name: index_name(change)?,
                settings: change.clone(),
            }
        } else if let Some(delete) = field("Delete") {
            IndexAction::Delete(index_name(delete)?)
        } else {
            return Err(ApiError::validation(
                "Update global secondary index action is null",
            ));
        };
        actions.push(action);
    }
    let structural = actions
        .iter()
        .filter(|a| !matches!(a, IndexAction::Update { .. }))
        .count();
    if structural > 1 {
        return Err(ApiError::LimitExceeded(ONE_AT_A_TIME.into()));
    }
    for (i, a) in actions.iter().enumerate() {
        if actions[..i]
            .iter()
            .any(|b| b.index_name() == a.index_name())
        {
            return Err(ApiError::validation(
                "Only one global secondary index update per index is allowed simultaneously.",
            ));
        }
    }
    for action in &actions {
        check_against_table(action, def, existing)?;
    }
    Ok(Some(actions))
}

fn index_name(action: &Json) -> ApiResult<String> {
    action
        .get("IndexName")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::validation("The index name must be specified"))
}

/// A Create action: the index definition, its key attributes defined by the request's
/// `AttributeDefinitions` or the table's (not redefined with another type).
fn parse_create(
    req: &Request,
    create: &Json,
    wire: &str,
    def: &TableDef,
) -> ApiResult<GlobalIndexRequest> {
    if req.field("AttributeDefinitions").is_none() {
        return Err(ApiError::validation("No Attribute Schema Defined"));
    }
    let given = parse_attribute_definitions(req)?;
    if given.iter().any(|a| {
        def.attribute_definitions
            .iter()
            .any(|known| known.name == a.name && known.ty != a.ty)
    }) {
        // DynamoDB Local's message (checked against it).
        return Err(ApiError::validation(
            "invalid attribute, SchemaElement redefined should be of same type as previously defined",
        ));
    }
    // The index's keys may be attributes the table defines already.
    let mut attrs: Vec<KeyAttribute> = given;
    for known in &def.attribute_definitions {
        if !attrs.iter().any(|a| a.name == known.name) {
            attrs.push(known.clone());
        }
    }
    let keys = create
        .get("KeySchema")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for (element, role) in keys.iter().zip(["hash", "range"]) {
        let name = element.get("AttributeName").and_then(Json::as_str);
        if name.is_some_and(|n| !attrs.iter().any(|a| a.name == n)) {
            return Err(ApiError::validation(format!(
                "Global Secondary Index {role} key not specified in Attribute Definitions.Type unknown."
            )));
        }
    }
    parse_global_index(
        create,
        &format!("{wire}.create"),
        &attrs,
        def.billing_mode == BillingMode::Provisioned,
    )
}

/// What the table's indexes as they are allow of `action`.
fn check_against_table(
    action: &IndexAction,
    def: &TableDef,
    existing: &[TableDef],
) -> ApiResult<()> {
    let named = |name: &str| {
        existing.iter().find(|t| {
            t.global_index_of
                .as_ref()
                .is_some_and(|g| g.index_name == name)
        })
    };
    let creating = |t: &TableDef| t.global_index_of.as_ref().is_some_and(|g| g.backfilling);
    match action {
        IndexAction::Create(c) => {
            if named(&c.name).is_some() || def.local_indexes.iter().any(|l| l.name == c.name) {
                return Err(invalid(format!(
                    "Index with name: {} already exists",
                    c.name
                )));
            }
            if existing.iter().any(creating) {
                return Err(ApiError::LimitExceeded(ONE_AT_A_TIME.into()));
            }
            if existing.len() >= MAX_GLOBAL_INDEXES {
                return Err(invalid(format!(
                    "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GLOBAL_INDEXES}"
                )));
            }
        }
        IndexAction::Update { name, .. } => match named(name) {
            None => return Err(ApiError::validation("Invalid global secondary index name")),
            Some(t) if creating(t) => return Err(ApiError::ResourceInUse(BEING_CREATED.into())),
            Some(_) => {}
        },
        IndexAction::Delete(name) => match named(name) {
            None => {
                return Err(ApiError::ResourceNotFound(
                    "Requested resource not found".into(),
                ))
            }
            Some(t) if creating(t) => return Err(ApiError::ResourceInUse(BEING_CREATED.into())),
            Some(_) => {}
        },
    }
    Ok(())
}

/// Carries out `actions` on table `def` (checked by `parse`).
pub(super) async fn apply<B: Backend>(
    backend: &B,
    def: &TableDef,
    actions: Vec<IndexAction>,
) -> ApiResult<()> {
    for action in actions {
        match action {
            IndexAction::Create(c) => {
                let index = global_index_table(def, &c)?;
                backend.create_global_index(index).await?;
            }
            IndexAction::Update { name, settings } => {
                let index_table = rotor_model::global_index::index_table_name(&def.name, &name);
                super::super::change_table(backend, &index_table, |index| {
                    update_capacity(index, &name, &settings)
                })
                .await?;
            }
            IndexAction::Delete(name) => {
                let index_table = rotor_model::global_index::index_table_name(&def.name, &name);
                backend.delete_table(&index_table).await?;
                tracing::info!(table = %def.name, index = %name, "global secondary index deleted");
            }
        }
    }
    Ok(())
}

/// An Update action's new capacity for index `name` (its table `index`), as DynamoDB
/// checks it against the index's billing mode and current capacity.
fn update_capacity(index: &mut TableDef, name: &str, settings: &Json) -> ApiResult<()> {
    let settings = Request::new(settings)?;
    let throughput = parse_throughput(&settings)?;
    let on_demand = parse_on_demand_throughput(&settings)?;
    match index.billing_mode {
        BillingMode::PayPerRequest if throughput.is_some() => {
            return Err(invalid(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )))
        }
        BillingMode::Provisioned if on_demand.is_some() => {
            return Err(invalid(format!(
                "OnDemandThroughput can only be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )))
        }
        _ => {}
    }
    if throughput.is_none() && on_demand.is_none() {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: ProvisionedThroughput or OnDemandThroughput must be specified to update index: {name}"
        )));
    }
    if let Some(units) = throughput {
        set_throughput(index, units, true, (&format!("index {name}"), "index"))?;
    }
    if let Some((read, write)) = on_demand {
        index.max_read_request_units = read;
        index.max_write_request_units = write;
    }
    Ok(())
}
