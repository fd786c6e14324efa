//! Table definitions on the wire: TableDef and everything it holds, token ranges, and
//! the enums of metadata.proto.

use rotor_model::cluster::NodeState;
use rotor_model::table::{
    BillingMode, CapacityChanges, CapacityDimension, CapacityScaling, KeyAttribute, KeySchema,
    PartitionSpan, ScalarType, ScalingActivity, TableDef, TargetTracking, TokenRange,
    UnitsPerSecond,
};

use super::{enum_from_wire, required, unspecified, WireError};
use crate::v1 as pb;

// ---- enums ----

impl From<ScalarType> for pb::ScalarType {
    fn from(t: ScalarType) -> Self {
        match t {
            ScalarType::S => pb::ScalarType::S,
            ScalarType::N => pb::ScalarType::N,
            ScalarType::B => pb::ScalarType::B,
        }
    }
}

impl TryFrom<pb::ScalarType> for ScalarType {
    type Error = WireError;

    fn try_from(t: pb::ScalarType) -> Result<Self, WireError> {
        match t {
            pb::ScalarType::Unspecified => Err(unspecified("ScalarType")),
            pb::ScalarType::S => Ok(ScalarType::S),
            pb::ScalarType::N => Ok(ScalarType::N),
            pb::ScalarType::B => Ok(ScalarType::B),
        }
    }
}

impl From<BillingMode> for pb::BillingMode {
    fn from(m: BillingMode) -> Self {
        match m {
            BillingMode::Provisioned => pb::BillingMode::Provisioned,
            BillingMode::PayPerRequest => pb::BillingMode::PayPerRequest,
        }
    }
}

impl TryFrom<pb::BillingMode> for BillingMode {
    type Error = WireError;

    fn try_from(m: pb::BillingMode) -> Result<Self, WireError> {
        match m {
            pb::BillingMode::Unspecified => Err(unspecified("BillingMode")),
            pb::BillingMode::Provisioned => Ok(BillingMode::Provisioned),
            pb::BillingMode::PayPerRequest => Ok(BillingMode::PayPerRequest),
        }
    }
}

impl From<CapacityDimension> for pb::CapacityDimension {
    fn from(d: CapacityDimension) -> Self {
        match d {
            CapacityDimension::Read => pb::CapacityDimension::Read,
            CapacityDimension::Write => pb::CapacityDimension::Write,
        }
    }
}

impl TryFrom<pb::CapacityDimension> for CapacityDimension {
    type Error = WireError;

    fn try_from(d: pb::CapacityDimension) -> Result<Self, WireError> {
        match d {
            pb::CapacityDimension::Unspecified => Err(unspecified("CapacityDimension")),
            pb::CapacityDimension::Read => Ok(CapacityDimension::Read),
            pb::CapacityDimension::Write => Ok(CapacityDimension::Write),
        }
    }
}

impl From<NodeState> for pb::NodeState {
    fn from(s: NodeState) -> Self {
        match s {
            NodeState::Active => pb::NodeState::Active,
            NodeState::Draining => pb::NodeState::Draining,
        }
    }
}

impl TryFrom<pb::NodeState> for NodeState {
    type Error = WireError;

    fn try_from(s: pb::NodeState) -> Result<Self, WireError> {
        match s {
            pb::NodeState::Unspecified => Err(unspecified("NodeState")),
            pb::NodeState::Active => Ok(NodeState::Active),
            pb::NodeState::Draining => Ok(NodeState::Draining),
        }
    }
}

/// An enum field's value, as prost keeps it.
pub(crate) fn enum_to_wire<P: From<M> + Into<i32>, M>(m: M) -> i32 {
    P::from(m).into()
}

// ---- small messages ----

impl From<&TokenRange> for pb::TokenSpan {
    fn from(r: &TokenRange) -> Self {
        pb::TokenSpan {
            start: r.start,
            end: r.end.unwrap_or(0),
            open_end: r.end.is_none(),
        }
    }
}

impl TryFrom<pb::TokenSpan> for TokenRange {
    type Error = WireError;

    fn try_from(s: pb::TokenSpan) -> Result<Self, WireError> {
        Ok(TokenRange {
            start: s.start,
            end: (!s.open_end).then_some(s.end),
        })
    }
}

impl From<&UnitsPerSecond> for pb::UnitsPerSecond {
    fn from(u: &UnitsPerSecond) -> Self {
        pb::UnitsPerSecond {
            read: u.read,
            write: u.write,
        }
    }
}

impl TryFrom<pb::UnitsPerSecond> for UnitsPerSecond {
    type Error = WireError;

    fn try_from(u: pb::UnitsPerSecond) -> Result<Self, WireError> {
        Ok(UnitsPerSecond {
            read: u.read,
            write: u.write,
        })
    }
}

impl From<&PartitionSpan> for pb::PartitionSpan {
    fn from(s: &PartitionSpan) -> Self {
        pb::PartitionSpan {
            start: s.start,
            partition: s.partition,
        }
    }
}

impl TryFrom<pb::PartitionSpan> for PartitionSpan {
    type Error = WireError;

    fn try_from(s: pb::PartitionSpan) -> Result<Self, WireError> {
        Ok(PartitionSpan {
            start: s.start,
            partition: s.partition,
        })
    }
}

impl From<&KeyAttribute> for pb::KeyAttribute {
    fn from(a: &KeyAttribute) -> Self {
        pb::KeyAttribute {
            name: a.name.clone(),
            scalar_type: enum_to_wire::<pb::ScalarType, _>(a.ty),
        }
    }
}

impl TryFrom<pb::KeyAttribute> for KeyAttribute {
    type Error = WireError;

    fn try_from(a: pb::KeyAttribute) -> Result<Self, WireError> {
        Ok(KeyAttribute {
            name: a.name,
            ty: enum_from_wire::<pb::ScalarType, _>(a.scalar_type, "KeyAttribute.scalar_type")?,
        })
    }
}

impl From<&KeySchema> for pb::KeySchema {
    fn from(k: &KeySchema) -> Self {
        pb::KeySchema {
            partition: Some((&k.partition).into()),
            sort: k.sort.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<pb::KeySchema> for KeySchema {
    type Error = WireError;

    fn try_from(k: pb::KeySchema) -> Result<Self, WireError> {
        Ok(KeySchema {
            partition: required(k.partition, "KeySchema.partition")?.try_into()?,
            sort: k.sort.map(TryInto::try_into).transpose()?,
        })
    }
}

// ---- capacity and auto scaling ----

impl From<&TargetTracking> for pb::TargetTracking {
    fn from(t: &TargetTracking) -> Self {
        pb::TargetTracking {
            name: t.name.clone(),
            target_percent: t.target_percent,
            scale_in_cooldown_secs: t.scale_in_cooldown_secs,
            scale_out_cooldown_secs: t.scale_out_cooldown_secs,
            disable_scale_in: t.disable_scale_in,
            created_at: t.created_at,
        }
    }
}

impl TryFrom<pb::TargetTracking> for TargetTracking {
    type Error = WireError;

    fn try_from(t: pb::TargetTracking) -> Result<Self, WireError> {
        Ok(TargetTracking {
            name: t.name,
            target_percent: t.target_percent,
            scale_in_cooldown_secs: t.scale_in_cooldown_secs,
            scale_out_cooldown_secs: t.scale_out_cooldown_secs,
            disable_scale_in: t.disable_scale_in,
            created_at: t.created_at,
        })
    }
}

impl From<&CapacityScaling> for pb::CapacityScaling {
    fn from(s: &CapacityScaling) -> Self {
        pb::CapacityScaling {
            min_units: s.min_units,
            max_units: s.max_units,
            policy: s.policy.as_ref().map(Into::into),
            disabled: s.disabled,
            created_at: s.created_at,
        }
    }
}

impl TryFrom<pb::CapacityScaling> for CapacityScaling {
    type Error = WireError;

    fn try_from(s: pb::CapacityScaling) -> Result<Self, WireError> {
        Ok(CapacityScaling {
            min_units: s.min_units,
            max_units: s.max_units,
            policy: s.policy.map(TryInto::try_into).transpose()?,
            disabled: s.disabled,
            created_at: s.created_at,
        })
    }
}

impl From<&CapacityChanges> for pb::CapacityChanges {
    fn from(c: &CapacityChanges) -> Self {
        pb::CapacityChanges {
            last_increase: c.last_increase,
            last_decrease: c.last_decrease,
            decreases_that_day: c.decreases_that_day,
        }
    }
}

impl TryFrom<pb::CapacityChanges> for CapacityChanges {
    type Error = WireError;

    fn try_from(c: pb::CapacityChanges) -> Result<Self, WireError> {
        Ok(CapacityChanges {
            last_increase: c.last_increase,
            last_decrease: c.last_decrease,
            decreases_that_day: c.decreases_that_day,
        })
    }
}

impl From<&ScalingActivity> for pb::ScalingActivity {
    fn from(a: &ScalingActivity) -> Self {
        pb::ScalingActivity {
            dimension: enum_to_wire::<pb::CapacityDimension, _>(a.dimension),
            from: a.from,
            to: a.to,
            at: a.at,
            cause: a.cause.clone(),
        }
    }
}

impl TryFrom<pb::ScalingActivity> for ScalingActivity {
    type Error = WireError;

    fn try_from(a: pb::ScalingActivity) -> Result<Self, WireError> {
        Ok(ScalingActivity {
            dimension: enum_from_wire::<pb::CapacityDimension, _>(
                a.dimension,
                "ScalingActivity.dimension",
            )?,
            from: a.from,
            to: a.to,
            at: a.at,
            cause: a.cause,
        })
    }
}

// ---- the table ----

impl From<&TableDef> for pb::TableDef {
    fn from(t: &TableDef) -> Self {
        pb::TableDef {
            name: t.name.clone(),
            id: t.id,
            key_schema: Some((&t.key_schema).into()),
            attribute_definitions: t.attribute_definitions.iter().map(Into::into).collect(),
            billing_mode: enum_to_wire::<pb::BillingMode, _>(t.billing_mode),
            read_capacity_units: t.read_capacity_units,
            write_capacity_units: t.write_capacity_units,
            creation_time: t.creation_time,
            last_billing_mode_change: t.last_billing_mode_change,
            partition_count: t.partition_count,
            table_class: t.table_class.clone(),
            deletion_protection: t.deletion_protection,
            layout: t.layout.iter().map(Into::into).collect(),
            max_read_request_units: t.max_read_request_units,
            max_write_request_units: t.max_write_request_units,
            partition_capacity: Some((&t.partition_capacity).into()),
            warm_requested: t.warm_requested.as_ref().map(Into::into),
            read_scaling: t.read_scaling.as_ref().map(Into::into),
            write_scaling: t.write_scaling.as_ref().map(Into::into),
            capacity_changes: Some((&t.capacity_changes).into()),
            local_indexes: t.local_indexes.iter().map(Into::into).collect(),
            global_index_of: t.global_index_of.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<pb::TableDef> for TableDef {
    type Error = WireError;

    fn try_from(t: pb::TableDef) -> Result<Self, WireError> {
        Ok(TableDef {
            name: t.name,
            id: t.id,
            key_schema: required(t.key_schema, "TableDef.key_schema")?.try_into()?,
            attribute_definitions: t
                .attribute_definitions
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            billing_mode: enum_from_wire::<pb::BillingMode, _>(
                t.billing_mode,
                "TableDef.billing_mode",
            )?,
            read_capacity_units: t.read_capacity_units,
            write_capacity_units: t.write_capacity_units,
            creation_time: t.creation_time,
            last_billing_mode_change: t.last_billing_mode_change,
            partition_count: t.partition_count,
            table_class: t.table_class,
            deletion_protection: t.deletion_protection,
            layout: t
                .layout
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            max_read_request_units: t.max_read_request_units,
            max_write_request_units: t.max_write_request_units,
            partition_capacity: required(t.partition_capacity, "TableDef.partition_capacity")?
                .try_into()?,
            warm_requested: t.warm_requested.map(TryInto::try_into).transpose()?,
            read_scaling: t.read_scaling.map(TryInto::try_into).transpose()?,
            write_scaling: t.write_scaling.map(TryInto::try_into).transpose()?,
            capacity_changes: required(t.capacity_changes, "TableDef.capacity_changes")?
                .try_into()?,
            local_indexes: t
                .local_indexes
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            global_index_of: t.global_index_of.map(TryInto::try_into).transpose()?,
        })
    }
}
