//! Auto scaling of provisioned capacity, as clients configure it: DynamoDB's own
//! UpdateTableReplicaAutoScaling and DescribeTableReplicaAutoScaling, and Application
//! Auto Scaling's calls for DynamoDB tables (RegisterScalableTarget, PutScalingPolicy
//! and the rest, `X-Amz-Target: AnyScaleFrontendService.*`). Both set the same
//! per-table settings; the metadata leader's scaler acts on them. This file holds
//! DynamoDB's calls and what both share; `aas.rs` Application Auto Scaling's.

use rotor_model::table::{
    BillingMode, CapacityDimension, CapacityScaling, TableDef, TargetTracking,
};
use serde_json::{json, Map, Value as Json};

use crate::backend::Backend;
use crate::error::{ApiError, ApiResult};
use crate::request::Request;

mod aas;

pub use aas::{
    delete_scaling_policy, deregister_scalable_target, describe_scalable_targets,
    describe_scaling_activities, describe_scaling_policies, put_scaling_policy,
    register_scalable_target,
};

const ACCOUNT: &str = "000000000000";
/// Results per page of the Describe calls (Application Auto Scaling's maximum).
const MAX_RESULTS: usize = 50;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64 / 1000.0)
}

fn dimension_word(dim: CapacityDimension) -> &'static str {
    match dim {
        CapacityDimension::Read => "read",
        CapacityDimension::Write => "write",
    }
}

/// A table named by its name or its ARN.
fn table_by_name_or_arn<B: Backend>(backend: &B, name: &str) -> ApiResult<TableDef> {
    let name = name.rsplit_once(":table/").map_or(name, |(_, n)| n);
    backend.table(name).ok_or_else(ApiError::table_not_found)
}

fn require_provisioned(def: &TableDef) -> ApiResult<()> {
    if def.billing_mode != BillingMode::Provisioned {
        return Err(ApiError::validation(format!(
            "Auto scaling of provisioned capacity applies to PROVISIONED tables; table {} is PAY_PER_REQUEST (switch it with UpdateTable BillingMode=PROVISIONED first)",
            def.name
        )));
    }
    Ok(())
}

fn check_target_value(target: f64) -> ApiResult<()> {
    if !(20.0..=90.0).contains(&target) {
        return Err(ApiError::validation(format!(
            "TargetValue {target} is out of range: the target utilization of a DynamoDB table must be between 20 and 90 (percent)"
        )));
    }
    Ok(())
}

fn get_u64(m: &Map<String, Json>, field: &str) -> ApiResult<Option<u64>> {
    match m.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Ok(Some(n as u64)),
            _ => Err(ApiError::validation(format!(
                "{field} must be a whole number of at least 1, not {v}"
            ))),
        },
    }
}

fn get_bool(m: &Map<String, Json>, field: &str) -> ApiResult<Option<bool>> {
    match m.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(ApiError::validation(format!(
            "{field} must be a boolean, not {v}"
        ))),
    }
}

fn get_secs(m: &Map<String, Json>, field: &str) -> ApiResult<Option<u64>> {
    match m.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            _ => Err(ApiError::validation(format!(
                "{field} must be a whole number of seconds, not {v}"
            ))),
        },
    }
}

fn get_object<'a>(
    m: &'a Map<String, Json>,
    field: &str,
) -> ApiResult<Option<&'a Map<String, Json>>> {
    match m.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(o)) => Ok(Some(o)),
        Some(v) => Err(ApiError::validation(format!(
            "{field} must be a structure, not {v}"
        ))),
    }
}

/// New bounds for a capacity; a new setting needs both.
fn bounds(
    existing: Option<&CapacityScaling>,
    min: Option<u64>,
    max: Option<u64>,
    names: (&str, &str),
) -> ApiResult<(u64, u64)> {
    let min = min.or(existing.map(|e| e.min_units));
    let max = max.or(existing.map(|e| e.max_units));
    let (Some(min), Some(max)) = (min, max) else {
        return Err(ApiError::validation(format!(
            "{} and {} are both required to start auto scaling a capacity",
            names.0, names.1
        )));
    };
    if min > max {
        return Err(ApiError::validation(format!(
            "{} ({min}) must not be greater than {} ({max})",
            names.0, names.1
        )));
    }
    Ok((min, max))
}

/// Rendered times: seconds since the epoch, as the JSON protocols send timestamps.
fn time(t: f64) -> Json {
    json!(t)
}

// ---------------------------------------------------------------------------------------
// DynamoDB: UpdateTableReplicaAutoScaling, DescribeTableReplicaAutoScaling

/// Applies one `AutoScalingSettingsUpdate`.
fn apply_settings_update(
    current: &mut Option<CapacityScaling>,
    update: &Map<String, Json>,
    default_policy: String,
) -> ApiResult<()> {
    let min = get_u64(update, "MinimumUnits")?;
    let max = get_u64(update, "MaximumUnits")?;
    let disabled = get_bool(update, "AutoScalingDisabled")?;
    let policy_update = get_object(update, "ScalingPolicyUpdate")?;
    if disabled == Some(true) && min.is_none() && max.is_none() && policy_update.is_none() {
        if let Some(s) = current.as_mut() {
            s.disabled = true;
        }
        return Ok(());
    }
    let (min, max) = bounds(current.as_ref(), min, max, ("MinimumUnits", "MaximumUnits"))?;
    let created = current.as_ref().map_or_else(now, |c| c.created_at);
    let mut policy = current.as_ref().and_then(|c| c.policy.clone());
    if let Some(p) = policy_update {
        let config =
            get_object(p, "TargetTrackingScalingPolicyConfiguration")?.ok_or_else(|| {
                ApiError::validation(
                    "ScalingPolicyUpdate needs TargetTrackingScalingPolicyConfiguration",
                )
            })?;
        policy = Some(target_tracking(
            config,
            p.get("PolicyName")
                .and_then(Json::as_str)
                .map_or(default_policy, str::to_owned),
            policy.as_ref(),
        )?);
    }
    *current = Some(CapacityScaling {
        min_units: min,
        max_units: max,
        policy,
        disabled: disabled.unwrap_or(false),
        created_at: created,
    });
    Ok(())
}

/// A target-tracking configuration (either API's shape: TargetValue, ScaleInCooldown,
/// ScaleOutCooldown, DisableScaleIn).
fn target_tracking(
    config: &Map<String, Json>,
    name: String,
    before: Option<&TargetTracking>,
) -> ApiResult<TargetTracking> {
    let target = config
        .get("TargetValue")
        .and_then(Json::as_f64)
        .ok_or_else(|| ApiError::validation("TargetValue is required (a percentage, 20 to 90)"))?;
    check_target_value(target)?;
    Ok(TargetTracking {
        name,
        target_percent: target,
        scale_in_cooldown_secs: get_secs(config, "ScaleInCooldown")?.unwrap_or(0),
        scale_out_cooldown_secs: get_secs(config, "ScaleOutCooldown")?.unwrap_or(0),
        disable_scale_in: get_bool(config, "DisableScaleIn")?.unwrap_or(false),
        created_at: before.map_or_else(now, |b| b.created_at),
    })
}

/// An `AutoScalingSettingsDescription`.
fn settings_description(def: &TableDef, dim: CapacityDimension) -> Json {
    let Some(s) = def.scaling(dim) else {
        return json!({ "AutoScalingDisabled": true });
    };
    let policies: Vec<Json> = s
        .policy
        .iter()
        .map(|p| {
            json!({
                "PolicyName": p.name,
                "TargetTrackingScalingPolicyConfiguration": {
                    "DisableScaleIn": p.disable_scale_in,
                    "ScaleInCooldown": p.scale_in_cooldown_secs,
                    "ScaleOutCooldown": p.scale_out_cooldown_secs,
                    "TargetValue": p.target_percent,
                },
            })
        })
        .collect();
    json!({
        "MinimumUnits": s.min_units,
        "MaximumUnits": s.max_units,
        "AutoScalingDisabled": s.disabled,
        "ScalingPolicies": policies,
    })
}

fn table_auto_scaling_description(def: &TableDef, region: &str) -> Json {
    json!({
        "TableAutoScalingDescription": {
            "TableName": def.name,
            "TableStatus": "ACTIVE",
            "Replicas": [{
                "RegionName": region,
                "GlobalSecondaryIndexes": [],
                "ReplicaProvisionedReadCapacityAutoScalingSettings":
                    settings_description(def, CapacityDimension::Read),
                "ReplicaProvisionedWriteCapacityAutoScalingSettings":
                    settings_description(def, CapacityDimension::Write),
                "ReplicaStatus": "ACTIVE",
            }],
        }
    })
}

fn table_name_field<'a>(req: &Request<'a>) -> ApiResult<&'a str> {
    req.str("TableName")?.ok_or_else(|| {
        ApiError::validation(
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
        )
    })
}

pub async fn describe_table_replica_auto_scaling<B: Backend>(
    backend: &B,
    req: &Request<'_>,
    region: &str,
) -> ApiResult<Json> {
    let def = table_by_name_or_arn(backend, table_name_field(req)?)?;
    Ok(table_auto_scaling_description(&def, region))
}

pub async fn update_table_replica_auto_scaling<B: Backend>(
    backend: &B,
    req: &Request<'_>,
    region: &str,
) -> ApiResult<Json> {
    let name = table_by_name_or_arn(backend, table_name_field(req)?)?.name;
    let def = super::change_table(backend, &name, |def| {
        if req
            .array("GlobalSecondaryIndexUpdates")?
            .is_some_and(|a| !a.is_empty())
        {
            return Err(ApiError::validation(
                "GlobalSecondaryIndexUpdates is not supported by Rotor yet (auto scaling of global secondary indexes is not built yet)",
            ));
        }
        require_provisioned(def)?;
        let mut changed = false;
        if let Some(update) = req.object("ProvisionedWriteCapacityAutoScalingUpdate")? {
            let policy = format!("{}-write-capacity-scaling", def.name);
            apply_settings_update(&mut def.write_scaling, update, policy)?;
            changed = true;
        }
        for replica in req.array("ReplicaUpdates")?.into_iter().flatten() {
            let replica = replica
                .as_object()
                .ok_or_else(|| ApiError::validation("ReplicaUpdates holds structures"))?;
            let named = replica
                .get("RegionName")
                .and_then(Json::as_str)
                .unwrap_or("");
            if named != region {
                return Err(ApiError::validation(format!(
                    "Table {} has one replica, in region {region}; there is none in {named:?}",
                    def.name
                )));
            }
            if replica
                .get("ReplicaGlobalSecondaryIndexUpdates")
                .and_then(Json::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                return Err(ApiError::validation(
                    "ReplicaGlobalSecondaryIndexUpdates is not supported by Rotor yet (auto scaling of global secondary indexes is not built yet)",
                ));
            }
            if let Some(update) =
                get_object(replica, "ReplicaProvisionedReadCapacityAutoScalingUpdate")?
            {
                let policy = format!("{}-read-capacity-scaling", def.name);
                apply_settings_update(&mut def.read_scaling, update, policy)?;
                changed = true;
            }
        }
        if !changed {
            return Err(ApiError::validation(
                "Nothing to update: give ProvisionedWriteCapacityAutoScalingUpdate, or ReplicaUpdates with ReplicaProvisionedReadCapacityAutoScalingUpdate",
            ));
        }
        Ok(())
    })
    .await?;
    Ok(table_auto_scaling_description(&def, region))
}
