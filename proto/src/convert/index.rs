//! Local secondary index definitions on the wire (metadata.proto `LocalIndex`).

use rotor_model::index::{LocalIndex, Projection};

use super::{required, unspecified, WireError};
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
