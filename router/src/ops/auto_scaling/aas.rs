//! Application Auto Scaling's calls for DynamoDB tables (`AnyScaleFrontendService.*`):
//! scalable targets, target-tracking policies and the activities auto scaling recorded.

use rotor_model::table::{CapacityDimension, ScalingActivity, TableDef};
use serde_json::{json, Value as Json};

use super::*;
use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::request::Request;

/// The scalable target a request names: (table, capacity).
fn scalable_target<B: Backend>(
    backend: &B,
    req: &Request<'_>,
) -> ApiResult<(TableDef, CapacityDimension)> {
    check_namespace(req)?;
    let resource = req
        .str("ResourceId")?
        .ok_or_else(|| ApiError::validation("ResourceId is required (table/<table name>)"))?;
    let dimension = req
        .str("ScalableDimension")?
        .ok_or_else(|| ApiError::validation("ScalableDimension is required"))?;
    let dim = parse_dimension(dimension)?;
    let name = table_of_resource(resource)?;
    let def = backend.table(name).ok_or_else(|| {
        ApiError::validation(format!(
            "DynamoDB table {name} does not exist (resource ID {resource})"
        ))
    })?;
    Ok((def, dim))
}

fn check_namespace(req: &Request<'_>) -> ApiResult<()> {
    match req.str("ServiceNamespace")? {
        Some("dynamodb") => Ok(()),
        Some(other) => Err(ApiError::validation(format!(
            "Rotor scales DynamoDB tables only: ServiceNamespace must be dynamodb, not {other}"
        ))),
        None => Err(ApiError::validation(
            "ServiceNamespace is required (dynamodb)",
        )),
    }
}

fn parse_dimension(dimension: &str) -> ApiResult<CapacityDimension> {
    match dimension {
        "dynamodb:table:ReadCapacityUnits" => Ok(CapacityDimension::Read),
        "dynamodb:table:WriteCapacityUnits" => Ok(CapacityDimension::Write),
        "dynamodb:index:ReadCapacityUnits" | "dynamodb:index:WriteCapacityUnits" => {
            Err(ApiError::validation(
                "Secondary indexes are not supported by Rotor yet (they come with the change log)",
            ))
        }
        other => Err(ApiError::validation(format!(
            "Unsupported scalable dimension {other}: dynamodb:table:ReadCapacityUnits or dynamodb:table:WriteCapacityUnits"
        ))),
    }
}

fn table_of_resource(resource: &str) -> ApiResult<&str> {
    if resource.starts_with("table/") && resource.contains("/index/") {
        return Err(ApiError::validation(
            "Secondary indexes are not supported by Rotor yet (they come with the change log)",
        ));
    }
    resource
        .strip_prefix("table/")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::validation(format!(
                "Unsupported resource ID {resource}: a DynamoDB table is table/<table name>"
            ))
        })
}

fn not_registered(def: &TableDef, dim: CapacityDimension) -> ApiError {
    ApiError::ObjectNotFound(format!(
        "No scalable target registered for service namespace: dynamodb, resource ID: table/{}, scalable dimension: {}",
        def.name,
        dim.scalable_dimension()
    ))
}

fn target_arn(def: &TableDef, dim: CapacityDimension, region: &str) -> String {
    let n = match dim {
        CapacityDimension::Read => 0,
        CapacityDimension::Write => 1,
    };
    format!(
        "arn:aws:application-autoscaling:{region}:{ACCOUNT}:scalable-target/{:08x}{n:02x}",
        def.id
    )
}

fn policy_arn(def: &TableDef, dim: CapacityDimension, name: &str, region: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{ACCOUNT}:scalingPolicy:{:08x}-{}:resource/dynamodb/table/{}:policyName/{name}",
        def.id,
        dimension_word(dim),
        def.name
    )
}

/// One page of results, continuing after `NextToken` (the index it stopped at).
fn page(req: &Request<'_>, all: Vec<Json>) -> ApiResult<(Vec<Json>, Option<String>)> {
    let max = match req.int("MaxResults")? {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::validation(format!(
                "MaxResults must be between 1 and {MAX_RESULTS}, not {n}"
            )))
        }
    };
    let start = match req.str("NextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= all.len())
            .ok_or_else(|| ApiError::validation("Invalid NextToken"))?,
    };
    let end = (start + max).min(all.len());
    let next = (end < all.len()).then(|| end.to_string());
    Ok((all[start..end].to_vec(), next))
}

fn paged(req: &Request<'_>, key: &str, all: Vec<Json>) -> ApiResult<Json> {
    let (items, next) = page(req, all)?;
    let mut out = json!({ key: items });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

/// Every registered (table, capacity) that a Describe call's filters keep, in
/// table-name order, read before write.
fn registered<B: Backend>(
    backend: &B,
    req: &Request<'_>,
) -> ApiResult<Vec<(TableDef, CapacityDimension)>> {
    let mut out = Vec::new();
    for def in backend
        .table_names()
        .iter()
        .filter_map(|n| backend.table(n))
    {
        for dim in [CapacityDimension::Read, CapacityDimension::Write] {
            if def.scaling(dim).is_some() && wanted(req, &def, dim)? {
                out.push((def.clone(), dim));
            }
        }
    }
    Ok(out)
}

/// Most `ResourceIds` a Describe call may filter on (Application Auto Scaling's limit).
const MAX_RESOURCE_IDS: usize = 50;

/// Whether a Describe call's optional `ResourceIds`/`ResourceId` and
/// `ScalableDimension` filters keep this target.
fn wanted(req: &Request<'_>, def: &TableDef, dim: CapacityDimension) -> ApiResult<bool> {
    let resource = format!("table/{}", def.name);
    if let Some(ids) = req.array("ResourceIds")? {
        if ids.len() > MAX_RESOURCE_IDS {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'resourceIds' failed to satisfy constraint: Member must have length less than or equal to {MAX_RESOURCE_IDS}"
            )));
        }
        if !ids.iter().any(|i| i.as_str() == Some(resource.as_str())) {
            return Ok(false);
        }
    }
    if let Some(id) = req.str("ResourceId")? {
        if id != resource {
            return Ok(false);
        }
    }
    if let Some(d) = req.str("ScalableDimension")? {
        if d != dim.scalable_dimension() {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn register_scalable_target<B: Backend>(
    backend: &B,
    req: &Request<'_>,
    region: &str,
) -> ApiResult<Json> {
    let (def, dim) = scalable_target(backend, req)?;
    require_provisioned(&def)?;
    if let Some(state) = req.object("SuspendedState")? {
        if state.values().any(|v| v.as_bool() == Some(true)) {
            return Err(ApiError::validation(
                "SuspendedState is not supported by Rotor: deregister the scalable target to stop scaling, or use UpdateTableReplicaAutoScaling AutoScalingDisabled",
            ));
        }
    }
    let min = req.int("MinCapacity")?.map(|n| n.max(0) as u64);
    let max = req.int("MaxCapacity")?.map(|n| n.max(0) as u64);
    if min == Some(0) || max == Some(0) {
        return Err(ApiError::validation(
            "MinCapacity and MaxCapacity of a DynamoDB table are at least 1",
        ));
    }
    let def = crate::ops::change_table(backend, &def.name, |def| {
        require_provisioned(def)?;
        let existing = def.scaling(dim).cloned();
        let (min, max) = bounds(existing.as_ref(), min, max, ("MinCapacity", "MaxCapacity"))?;
        *def.scaling_mut(dim) = Some(CapacityScaling {
            min_units: min,
            max_units: max,
            policy: existing.as_ref().and_then(|e| e.policy.clone()),
            disabled: false,
            created_at: existing.as_ref().map_or_else(now, |e| e.created_at),
        });
        Ok(())
    })
    .await?;
    Ok(json!({ "ScalableTargetARN": target_arn(&def, dim, region) }))
}

pub async fn deregister_scalable_target<B: Backend>(
    backend: &B,
    req: &Request<'_>,
) -> ApiResult<Json> {
    let (def, dim) = scalable_target(backend, req)?;
    crate::ops::change_table(backend, &def.name, |def| {
        match def.scaling_mut(dim).take() {
            Some(_) => Ok(()),
            None => Err(not_registered(def, dim)),
        }
    })
    .await?;
    Ok(json!({}))
}

pub fn describe_scalable_targets<B: Backend>(
    backend: &B,
    req: &Request<'_>,
    region: &str,
) -> ApiResult<Json> {
    check_namespace(req)?;
    let mut all = Vec::new();
    for (def, dim) in registered(backend, req)? {
        let Some(s) = def.scaling(dim) else { continue };
        all.push(json!({
            "ServiceNamespace": "dynamodb",
            "ResourceId": format!("table/{}", def.name),
            "ScalableDimension": dim.scalable_dimension(),
            "MinCapacity": s.min_units,
            "MaxCapacity": s.max_units,
            "RoleARN": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/dynamodb.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable"),
            "CreationTime": time(s.created_at),
            "SuspendedState": {
                "DynamicScalingInSuspended": s.disabled,
                "DynamicScalingOutSuspended": s.disabled,
                "ScheduledScalingSuspended": false,
            },
            "ScalableTargetARN": target_arn(&def, dim, region),
        }));
    }
    paged(req, "ScalableTargets", all)
}

pub async fn put_scaling_policy<B: Backend>(
    backend: &B,
    req: &Request<'_>,
    region: &str,
) -> ApiResult<Json> {
    let (def, dim) = scalable_target(backend, req)?;
    let name = req
        .str("PolicyName")?
        .ok_or_else(|| ApiError::validation("PolicyName is required"))?;
    match req.str("PolicyType")? {
        Some("TargetTrackingScaling") => {}
        Some(other) => {
            return Err(ApiError::validation(format!(
                "Rotor scales DynamoDB tables by target tracking only: PolicyType must be TargetTrackingScaling, not {other}"
            )))
        }
        None => {
            return Err(ApiError::validation(
                "PolicyType is required (TargetTrackingScaling)",
            ))
        }
    }
    let config = req
        .object("TargetTrackingScalingPolicyConfiguration")?
        .ok_or_else(|| {
            ApiError::validation("TargetTrackingScalingPolicyConfiguration is required")
        })?;
    if config.contains_key("CustomizedMetricSpecification") {
        return Err(ApiError::validation(
            "CustomizedMetricSpecification is not supported by Rotor: use PredefinedMetricSpecification",
        ));
    }
    let metric = get_object(config, "PredefinedMetricSpecification")?
        .and_then(|m| m.get("PredefinedMetricType"))
        .and_then(Json::as_str);
    if metric != Some(dim.utilization_metric()) {
        return Err(ApiError::validation(format!(
            "PredefinedMetricSpecification.PredefinedMetricType must be {} for {}",
            dim.utilization_metric(),
            dim.scalable_dimension()
        )));
    }
    let def = crate::ops::change_table(backend, &def.name, |def| {
        let unknown = not_registered(def, dim);
        let Some(scaling) = def.scaling_mut(dim).as_mut() else {
            return Err(unknown);
        };
        // One target-tracking policy per capacity: a new name replaces the old one.
        let before = scaling.policy.as_ref().filter(|p| p.name == name);
        scaling.policy = Some(target_tracking(config, name.to_owned(), before)?);
        Ok(())
    })
    .await?;
    Ok(json!({
        "PolicyARN": policy_arn(&def, dim, name, region),
        "Alarms": [],
    }))
}

pub async fn delete_scaling_policy<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    let (def, dim) = scalable_target(backend, req)?;
    let name = req
        .str("PolicyName")?
        .ok_or_else(|| ApiError::validation("PolicyName is required"))?;
    let table = def.name.clone();
    crate::ops::change_table(backend, &table, |def| {
        let found = def
            .scaling_mut(dim)
            .as_mut()
            .filter(|s| s.policy.as_ref().is_some_and(|p| p.name == name));
        let Some(scaling) = found else {
            return Err(ApiError::ObjectNotFound(format!(
                "No scaling policy found for service namespace: dynamodb, resource ID: table/{table}, scalable dimension: {}, policy name: {name}",
                dim.scalable_dimension()
            )));
        };
        scaling.policy = None;
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

pub fn describe_scaling_policies<B: Backend>(
    backend: &B,
    req: &Request<'_>,
    region: &str,
) -> ApiResult<Json> {
    check_namespace(req)?;
    let names: Option<Vec<&str>> = req
        .array("PolicyNames")?
        .map(|a| a.iter().filter_map(Json::as_str).collect());
    let mut all = Vec::new();
    for (def, dim) in registered(backend, req)? {
        let Some(p) = def.scaling(dim).and_then(|s| s.policy.as_ref()) else {
            continue;
        };
        if names
            .as_ref()
            .is_some_and(|n| !n.contains(&p.name.as_str()))
        {
            continue;
        }
        all.push(json!({
            "PolicyARN": policy_arn(&def, dim, &p.name, region),
            "PolicyName": p.name,
            "ServiceNamespace": "dynamodb",
            "ResourceId": format!("table/{}", def.name),
            "ScalableDimension": dim.scalable_dimension(),
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": p.target_percent,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": dim.utilization_metric(),
                },
                "ScaleOutCooldown": p.scale_out_cooldown_secs,
                "ScaleInCooldown": p.scale_in_cooldown_secs,
                "DisableScaleIn": p.disable_scale_in,
            },
            "Alarms": [],
            "CreationTime": time(p.created_at),
        }));
    }
    paged(req, "ScalingPolicies", all)
}

pub fn describe_scaling_activities<B: Backend>(backend: &B, req: &Request<'_>) -> ApiResult<Json> {
    check_namespace(req)?;
    let mut all: Vec<(f64, Json)> = Vec::new();
    for name in backend.table_names() {
        let Some(def) = backend.table(&name) else {
            continue;
        };
        for (i, a) in backend.scaling_activities(&name).iter().enumerate() {
            if !wanted(req, &def, a.dimension)? {
                continue;
            }
            all.push((a.at, activity(&def, i, a)));
        }
    }
    // Newest first.
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    paged(
        req,
        "ScalingActivities",
        all.into_iter().map(|(_, j)| j).collect(),
    )
}

fn activity(def: &TableDef, index: usize, a: &ScalingActivity) -> Json {
    let id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        def.id,
        index,
        match a.dimension {
            CapacityDimension::Read => 0,
            CapacityDimension::Write => 1,
        },
        0,
        (a.at * 1000.0) as u64
    );
    json!({
        "ActivityId": id,
        "ServiceNamespace": "dynamodb",
        "ResourceId": format!("table/{}", def.name),
        "ScalableDimension": a.dimension.scalable_dimension(),
        "Description": format!(
            "Setting {} capacity units to {}.",
            dimension_word(a.dimension),
            a.to
        ),
        "Cause": a.cause,
        "StartTime": time(a.at),
        "EndTime": time(a.at),
        "StatusCode": "Successful",
        "StatusMessage": format!(
            "Successfully set {} capacity units to {}. Change successfully fulfilled by dynamodb.",
            dimension_word(a.dimension),
            a.to
        ),
    })
}
