//! Secondary index definitions on the wire (metadata.proto `LocalIndex`,
//! `GlobalIndexOf`).

use rotor_model::global_index::{
    BackfillPage, GlobalIndexOf, IndexChange, IndexStatus, IndexWrite,
};
use rotor_model::index::{LocalIndex, Projection};

use super::{item_from_wire, item_to_wire, required, unspecified, WireError};
use crate::v1 as pb;

impl From<&Projection> for pb::Projection {
    fn from(p: &Projection) -> Self {
        let (projection_type, non_key_attributes) = match p {
            Projection::KeysOnly => (pb::ProjectionType::KeysOnly, Vec::new()),
            Projection::Include(names) => (pb::ProjectionType::Include, names.clone()),
            Projection::All => (pb::ProjectionType::All, Vec::new()),
        };
        pb::Projection {
            projection_type: projection_type.into(),
            non_key_attributes,
        }
    }
}

impl TryFrom<pb::Projection> for Projection {
    type Error = WireError;

    fn try_from(p: pb::Projection) -> Result<Self, WireError> {
        let kind = pb::ProjectionType::try_from(p.projection_type).map_err(|_| {
            WireError::invalid(
                "Projection.projection_type",
                format!("unknown value {}", p.projection_type),
            )
        })?;
        match kind {
            pb::ProjectionType::Unspecified => Err(unspecified("Projection.projection_type")),
            pb::ProjectionType::KeysOnly => Ok(Projection::KeysOnly),
            pb::ProjectionType::Include => Ok(Projection::Include(p.non_key_attributes)),
            pb::ProjectionType::All => Ok(Projection::All),
        }
    }
}

impl From<&LocalIndex> for pb::LocalIndex {
    fn from(i: &LocalIndex) -> Self {
        pb::LocalIndex {
            name: i.name.clone(),
            sort: Some((&i.sort).into()),
            projection: Some((&i.projection).into()),
        }
    }
}

impl TryFrom<pb::LocalIndex> for LocalIndex {
    type Error = WireError;

    fn try_from(i: pb::LocalIndex) -> Result<Self, WireError> {
        Ok(LocalIndex {
            name: i.name,
            sort: required(i.sort, "LocalIndex.sort")?.try_into()?,
            projection: required(i.projection, "LocalIndex.projection")?.try_into()?,
        })
    }
}

impl From<IndexStatus> for pb::IndexStatus {
    fn from(s: IndexStatus) -> Self {
        match s {
            IndexStatus::Creating => pb::IndexStatus::Creating,
            IndexStatus::Updating => pb::IndexStatus::Updating,
            IndexStatus::Deleting => pb::IndexStatus::Deleting,
            IndexStatus::Active => pb::IndexStatus::Active,
        }
    }
}

impl TryFrom<pb::IndexStatus> for IndexStatus {
    type Error = WireError;

    fn try_from(s: pb::IndexStatus) -> Result<Self, WireError> {
        match s {
            pb::IndexStatus::Unspecified => Err(unspecified("GlobalIndexOf.status")),
            pb::IndexStatus::Creating => Ok(IndexStatus::Creating),
            pb::IndexStatus::Updating => Ok(IndexStatus::Updating),
            pb::IndexStatus::Deleting => Ok(IndexStatus::Deleting),
            pb::IndexStatus::Active => Ok(IndexStatus::Active),
        }
    }
}

impl From<&GlobalIndexOf> for pb::GlobalIndexOf {
    fn from(g: &GlobalIndexOf) -> Self {
        pb::GlobalIndexOf {
            base_table_id: g.base_table_id,
            base_table: g.base_table.clone(),
            index_name: g.index_name.clone(),
            base_key: Some((&g.base_key).into()),
            projection: Some((&g.projection).into()),
            status: pb::IndexStatus::from(g.status).into(),
            backfilling: g.backfilling,
            online: g.online,
            backfilled: g.backfilled.iter().copied().collect(),
        }
    }
}

impl TryFrom<pb::GlobalIndexOf> for GlobalIndexOf {
    type Error = WireError;

    fn try_from(g: pb::GlobalIndexOf) -> Result<Self, WireError> {
        let status = pb::IndexStatus::try_from(g.status).map_err(|_| {
            WireError::invalid(
                "GlobalIndexOf.status",
                format!("unknown value {}", g.status),
            )
        })?;
        Ok(GlobalIndexOf {
            base_table_id: g.base_table_id,
            base_table: g.base_table,
            index_name: g.index_name,
            base_key: required(g.base_key, "GlobalIndexOf.base_key")?.try_into()?,
            projection: required(g.projection, "GlobalIndexOf.projection")?.try_into()?,
            status: status.try_into()?,
            backfilling: g.backfilling,
            online: g.online,
            backfilled: g.backfilled.into_iter().collect(),
        })
    }
}

impl From<&IndexWrite> for pb::IndexWrite {
    fn from(w: &IndexWrite) -> Self {
        pb::IndexWrite {
            source_table: w.source.0,
            source_partition: w.source.1,
            gated: w.gated,
            up_to: w.up_to,
            changes: w
                .changes
                .iter()
                .map(|(position, change)| match change {
                    IndexChange::Put { key, entry } => pb::SourcedIndexChange {
                        position: *position,
                        key: key.clone(),
                        entry: Some(item_to_wire(entry)),
                    },
                    IndexChange::Delete { key } => pb::SourcedIndexChange {
                        position: *position,
                        key: key.clone(),
                        entry: None,
                    },
                })
                .collect(),
            release: w.release.clone(),
            backfill: w.backfill.as_ref().map(|b| pb::BackfillPage {
                start: b.start,
                attempt: b.attempt,
                after: b.after.clone(),
                through: b.through.clone(),
            }),
        }
    }
}

impl TryFrom<pb::IndexWrite> for IndexWrite {
    type Error = WireError;

    fn try_from(w: pb::IndexWrite) -> Result<Self, WireError> {
        let changes = w
            .changes
            .into_iter()
            .map(|c| {
                let change = match c.entry {
                    Some(entry) => IndexChange::Put {
                        key: c.key,
                        entry: item_from_wire(entry)?,
                    },
                    None => IndexChange::Delete { key: c.key },
                };
                Ok((c.position, change))
            })
            .collect::<Result<_, WireError>>()?;
        Ok(IndexWrite {
            source: (w.source_table, w.source_partition),
            gated: w.gated,
            up_to: w.up_to,
            changes,
            release: w.release,
            backfill: w.backfill.map(|b| BackfillPage {
                start: b.start,
                attempt: b.attempt,
                after: b.after,
                through: b.through,
            }),
        })
    }
}
