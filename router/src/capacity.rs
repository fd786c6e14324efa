//! The `ConsumedCapacity` response field; the unit arithmetic is the model's
//! (`rotor_model::capacity`), shared with the nodes' meters.

pub use rotor_model::capacity::{read_units, write_units};
use rotor_model::table::TableDef;
use rotor_model::value::item_size;
use rotor_model::Item;
use serde_json::{json, Map, Value as Json};

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

    /// The `ConsumedCapacity` object of writes to `def` (INDEXES: with what each
    /// secondary index they changed took).
    pub fn render_write(self, def: &TableDef, cost: &WriteCost) -> Option<Json> {
        let mut out = self.render(&def.name, cost.total())?;
        if self == CapacityReport::Indexes {
            out["Table"] = json!({ "CapacityUnits": cost.table });
            let indexes: Map<String, Json> = def
                .local_indexes
                .iter()
                .zip(&cost.local_indexes)
                .filter(|(_, units)| **units > 0.0)
                .map(|(index, units)| (index.name.clone(), json!({ "CapacityUnits": units })))
                .collect();
            if !indexes.is_empty() {
                out["LocalSecondaryIndexes"] = Json::Object(indexes);
            }
            let global: Map<String, Json> = cost
                .global_indexes
                .iter()
                .filter(|(_, units)| *units > 0.0)
                .map(|(name, units)| (name.clone(), json!({ "CapacityUnits": units })))
                .collect();
            if !global.is_empty() {
                out["GlobalSecondaryIndexes"] = Json::Object(global);
            }
        }
        Some(out)
    }

    /// The `ConsumedCapacity` object of a read of secondary index `index` (a global
    /// one when `global`).
    pub fn render_index_read(
        self,
        table: &str,
        index: &str,
        global: bool,
        units: f64,
    ) -> Option<Json> {
        let kind = if global {
            "GlobalSecondaryIndexes"
        } else {
            "LocalSecondaryIndexes"
        };
        match self {
            CapacityReport::Indexes => Some(json!({
                "TableName": table,
                "CapacityUnits": units,
                "Table": { "CapacityUnits": 0.0 },
                kind: { index: { "CapacityUnits": units } },
            })),
            other => other.render(table, units),
        }
    }
}

/// What writes cost a table and each of its secondary indexes, in write units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteCost {
    pub table: f64,
    /// In the order of the table's definition of them.
    pub local_indexes: Vec<f64>,
    /// Each global secondary index's name and units, oldest index first.
    pub global_indexes: Vec<(String, f64)>,
}

impl WriteCost {
    /// What replacing `old` by `new` cost: the larger item's units in the table, and
    /// what each index's entries changed (`LocalIndexes::write_units`,
    /// `GlobalIndexShape::write_units`); `globals` hold the table's GSIs.
    pub fn of(
        def: &TableDef,
        globals: &[TableDef],
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> WriteCost {
        let size = |i: Option<&Item>| i.map_or(0, item_size);
        // The definition's own indexes: no copy of the schema per write.
        let local_indexes =
            rotor_model::index::local_write_units(&def.key_schema, &def.local_indexes, old, new);
        let global_indexes = globals
            .iter()
            .filter_map(|g| g.global_index_shape())
            .map(|shape| {
                let units = shape.write_units(old, new);
                (shape.name, units)
            })
            .collect();
        WriteCost {
            table: write_units(size(old).max(size(new))),
            local_indexes,
            global_indexes,
        }
    }

    pub fn add(&mut self, other: &WriteCost) {
        self.table += other.table;
        if self.local_indexes.len() < other.local_indexes.len() {
            self.local_indexes.resize(other.local_indexes.len(), 0.0);
        }
        for (sum, units) in self.local_indexes.iter_mut().zip(&other.local_indexes) {
            *sum += units;
        }
        for (name, units) in &other.global_indexes {
            match self.global_indexes.iter_mut().find(|(n, _)| n == name) {
                Some((_, sum)) => *sum += units,
                None => self.global_indexes.push((name.clone(), *units)),
            }
        }
    }

    /// The table's and every index's units.
    pub fn total(&self) -> f64 {
        self.table
            + self.local_indexes.iter().sum::<f64>()
            + self.global_indexes.iter().map(|(_, u)| u).sum::<f64>()
    }
}
