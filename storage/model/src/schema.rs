//! Key schemas: a table's (or an index's) key attributes and their types, and the
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

    pub fn value_type(self) -> ValueType {
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
