//! The `ConsumedCapacity` response field; the unit arithmetic is the model's
//! (`rotor_model::capacity`), shared with the nodes' meters.

pub use rotor_model::capacity::{read_units, write_units};
use serde_json::{json, Value as Json};

use crate::error::ApiResult;
use crate::request::Request;

/// What the client asked for in `ReturnConsumedCapacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityReport {
    None,
    Total,
    Indexes,
}

impl CapacityReport {
    pub fn from_request(req: &Request) -> ApiResult<CapacityReport> {
        Ok(
            match req.one_of(
                "ReturnConsumedCapacity",
                "returnConsumedCapacity",
                &["INDEXES", "TOTAL", "NONE"],
            )? {
                Some("TOTAL") => CapacityReport::Total,
                Some("INDEXES") => CapacityReport::Indexes,
                _ => CapacityReport::None,
            },
        )
    }

    /// The `ConsumedCapacity` object for one table, or None when not asked for.
    pub fn render(self, table: &str, units: f64) -> Option<Json> {
        match self {
            CapacityReport::None => None,
            CapacityReport::Total => Some(json!({ "TableName": table, "CapacityUnits": units })),
            CapacityReport::Indexes => Some(json!({
                "TableName": table,
                "CapacityUnits": units,
                "Table": { "CapacityUnits": units },
            })),
        }
    }
}
