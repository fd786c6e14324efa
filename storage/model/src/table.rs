//! Table definitions: key schema, attribute definitions, capacity settings, and the
//! checks DynamoDB applies to an item's primary key.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::value::{AttributeValue, Item, ValueType};

/// Largest partition key value, in bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Largest sort key value, in bytes.
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// Largest item, in bytes of DynamoDB's size arithmetic.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// A key attribute's scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn descriptor(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    pub fn from_descriptor(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    fn value_type(self) -> ValueType {
        match self {
            ScalarType::S => ValueType::S,
            ScalarType::N => ValueType::N,
            ScalarType::B => ValueType::B,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    pub name: String,
    pub ty: ScalarType,
}

/// A table's primary key: a partition key and an optional sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub partition: KeyAttribute,
    pub sort: Option<KeyAttribute>,
}

/// A validated primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKey {
    pub partition: AttributeValue,
    pub sort: Option<AttributeValue>,
}

impl KeySchema {
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.partition.name == name || self.sort.as_ref().is_some_and(|s| s.name == name)
    }

    /// The primary key of an item being written (PutItem, BatchWriteItem put).
    pub fn key_of_item(&self, item: &Item) -> Result<PrimaryKey> {
        let partition = self.key_value(item, &self.partition, true)?;
        let sort = match &self.sort {
            Some(s) => Some(self.key_value(item, s, false)?),
            None => None,
        };
        Ok(PrimaryKey { partition, sort })
    }

    /// A `Key` parameter (GetItem, UpdateItem, DeleteItem, BatchGet, BatchWrite delete):
    /// exactly the key attributes, of the right types.
    pub fn key_from_request(&self, key: &Item) -> Result<PrimaryKey> {
        let expected = 1 + usize::from(self.sort.is_some());
        let schema_mismatch =
            || ModelError::validation("The provided key element does not match the schema");
        if key.len() != expected {
            return Err(schema_mismatch());
        }
        let get = |attr: &KeyAttribute, is_partition: bool| -> Result<AttributeValue> {
            let v = key.get(&attr.name).ok_or_else(schema_mismatch)?;
            if v.value_type() != attr.ty.value_type() {
                return Err(schema_mismatch());
            }
            check_key_value(attr, v, is_partition)?;
            Ok(v.clone())
        };
        let partition = get(&self.partition, true)?;
        let sort = match &self.sort {
            Some(s) => Some(get(s, false)?),
            None => None,
        };
        Ok(PrimaryKey { partition, sort })
    }

    fn key_value(
        &self,
        item: &Item,
        attr: &KeyAttribute,
        is_partition: bool,
    ) -> Result<AttributeValue> {
        let v = item.get(&attr.name).ok_or_else(|| {
            ModelError::validation(format!(
                "One or more parameter values were invalid: Missing the key {} in the item",
                attr.name
            ))
        })?;
        if v.value_type() != attr.ty.value_type() {
            return Err(ModelError::validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                attr.name,
                attr.ty.descriptor(),
                v.value_type().descriptor()
            )));
        }
        check_key_value(attr, v, is_partition)?;
        Ok(v.clone())
    }

    /// The key attributes of an item, as an item (for LastEvaluatedKey, UnprocessedKeys).
    pub fn key_item(&self, item: &Item) -> Item {
        let mut out = Item::new();
        for attr in std::iter::once(&self.partition).chain(self.sort.as_ref()) {
            if let Some(v) = item.get(&attr.name) {
                out.insert(attr.name.clone(), v.clone());
            }
        }
        out
    }
}

fn check_key_value(attr: &KeyAttribute, v: &AttributeValue, is_partition: bool) -> Result<()> {
    let len = match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::N(_) => return Ok(()),
        _ => 0,
    };
    if len == 0 {
        let ty = if matches!(v, AttributeValue::B(_)) {
            "binary"
        } else {
            "string"
        };
        return Err(ModelError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {ty} value. Key: {}",
            attr.name
        )));
    }
    if is_partition && len > MAX_PARTITION_KEY_BYTES {
        return Err(ModelError::validation(format!(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of{MAX_PARTITION_KEY_BYTES} bytes"
        )));
    }
    if !is_partition && len > MAX_SORT_KEY_BYTES {
        return Err(ModelError::validation(format!(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of {MAX_SORT_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Item count and bytes of a partition or a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStats {
    pub item_count: u64,
    pub size_bytes: u64,
}

/// How a table is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// A table as the catalog records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    /// Storage prefix of the table's items; never reused.
    pub id: u32,
    pub key_schema: KeySchema,
    /// AttributeDefinitions as given (name, type).
    pub attribute_definitions: Vec<KeyAttribute>,
    pub billing_mode: BillingMode,
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
    /// Seconds since the Unix epoch, with fractions, as DynamoDB reports it.
    pub creation_time: f64,
    pub last_billing_mode_change: Option<f64>,
    /// Partitions the table's token space is cut into (equal ranges).
    pub partition_count: u32,
    pub table_class: Option<String>,
    pub deletion_protection: bool,
}

impl TableDef {
    pub fn arn(&self) -> String {
        format!("arn:aws:dynamodb:ddblocal:000000000000:table/{}", self.name)
    }

    /// Which partition (0..partition_count) owns a token: equal slices of the ring.
    pub fn partition_of_token(&self, token: u64) -> u32 {
        let n = u128::from(self.partition_count.max(1));
        ((u128::from(token) * n) >> 64) as u32
    }

    /// The storage-key range `[start, end)` of partition `p`'s items.
    pub fn partition_key_range(&self, p: u32) -> (Vec<u8>, Vec<u8>) {
        let start = crate::keys::token_prefix(self.id, self.partition_start(p));
        let end = if p + 1 >= self.partition_count.max(1) {
            match self.id.checked_add(1) {
                Some(next) => next.to_be_bytes().to_vec(),
                None => vec![0xff; 5],
            }
        } else {
            crate::keys::token_prefix(self.id, self.partition_start(p + 1))
        };
        (start, end)
    }

    /// The first token of partition `p`.
    pub fn partition_start(&self, p: u32) -> u64 {
        let n = u128::from(self.partition_count.max(1));
        let start = (u128::from(p) << 64).div_ceil(n);
        start as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(parts: u32) -> TableDef {
        TableDef {
            name: "t".into(),
            id: 1,
            key_schema: KeySchema {
                partition: KeyAttribute {
                    name: "pk".into(),
                    ty: ScalarType::S,
                },
                sort: None,
            },
            attribute_definitions: vec![],
            billing_mode: BillingMode::PayPerRequest,
            read_capacity_units: 0,
            write_capacity_units: 0,
            creation_time: 0.0,
            last_billing_mode_change: None,
            partition_count: parts,
            table_class: None,
            deletion_protection: false,
        }
    }

    #[test]
    fn partitions_cover_the_ring_in_order() {
        for parts in [1, 3, 4, 7] {
            let t = def(parts);
            for p in 0..parts {
                let start = t.partition_start(p);
                assert_eq!(t.partition_of_token(start), p);
                if p > 0 {
                    assert_eq!(t.partition_of_token(start - 1), p - 1);
                }
            }
            assert_eq!(t.partition_of_token(u64::MAX), parts - 1);
        }
    }

    #[test]
    fn key_checks() {
        let t = def(1);
        let mut item = Item::new();
        assert!(t.key_schema.key_of_item(&item).is_err());
        item.insert("pk".into(), AttributeValue::S(String::new()));
        let e = t.key_schema.key_of_item(&item).unwrap_err();
        assert!(e.to_string().contains("empty string value"));
        item.insert("pk".into(), AttributeValue::S("x".repeat(2049)));
        assert!(t.key_schema.key_of_item(&item).is_err());
        item.insert("pk".into(), AttributeValue::S("x".into()));
        assert!(t.key_schema.key_of_item(&item).is_ok());
        assert!(t.key_schema.key_from_request(&item).is_ok());
        item.insert("other".into(), AttributeValue::Null);
        assert!(t.key_schema.key_from_request(&item).is_err());
    }
}
