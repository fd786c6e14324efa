//! Conversions between Rotor's model types (rotor-model) and their protobuf messages
//! (`rotor.v1`): `From<&model>` for the message, `TryFrom<message>` for the model type,
//! whose errors ([`WireError`]) name the field a peer got wrong.
//!
//! ```text
//!   value    AttributeValue, Item (item_to_wire / item_from_wire), Expression
//!   write    WriteRequest <-> WriteCommand (expressions as text), WriteOutcome
//!   read     ReadRange, RangePage, TableStats
//!   table    TableDef and everything it holds, the enums of metadata.proto
//!   cluster  ClusterMap, MetaCommand, MetaReply, MetaOutcome
//! ```
//!
//! Decoding never panics and never recurses without bound: prost refuses messages
//! nested more than 100 deep, and attribute values are converted with a depth limit of
//! their own.

mod cluster;
mod index;
mod read;
mod table;
mod value;
mod write;

#[cfg(test)]
mod tests_meta;
#[cfg(test)]
mod tests_model;

pub use value::{item_from_wire, item_to_wire};

/// A peer's message that does not describe a model value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A field the model needs is absent (a message field or a oneof), e.g.
    /// `WriteCommand.op`.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field's value has no model counterpart: a number that does not parse, an
    /// UNSPECIFIED or unknown enum value, an expression that does not parse.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl WireError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> WireError {
        WireError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// The value of a field the model needs.
pub(crate) fn required<T>(value: Option<T>, field: &'static str) -> Result<T, WireError> {
    value.ok_or(WireError::Missing(field))
}

/// The model's value of an enum field (prost keeps them as `i32`): an unknown value or
/// UNSPECIFIED (which `M::try_from` refuses) is an error naming `field`.
pub(crate) fn enum_from_wire<P, M>(raw: i32, field: &'static str) -> Result<M, WireError>
where
    P: TryFrom<i32>,
    M: TryFrom<P, Error = WireError>,
{
    let known =
        P::try_from(raw).map_err(|_| WireError::invalid(field, format!("unknown value {raw}")))?;
    M::try_from(known).map_err(|_| unspecified(field))
}

/// The error for an enum left UNSPECIFIED.
pub(crate) fn unspecified(field: &'static str) -> WireError {
    WireError::invalid(field, "UNSPECIFIED")
}

/// A `u64` from the wire as a `usize`.
pub(crate) fn to_usize(v: u64, field: &'static str) -> Result<usize, WireError> {
    usize::try_from(v).map_err(|_| WireError::invalid(field, format!("{v} is too large")))
}
