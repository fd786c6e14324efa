//! What a Query or Scan reads: the table's items, or one of its local secondary
//! indexes (`IndexName`); and what that choice makes of keys, cursors and ranges.

use rotor_model::index::{
    local_index_key, local_index_key_range, local_index_partition_prefix, token_of_index_key,
    LocalIndex, Projection,
};
use rotor_model::keys::{item_key, partition_key_prefix, token, token_of_item_key};
use rotor_model::read::IndexRead;
use rotor_model::table::{KeySchema, TableDef, TokenRange};
use rotor_model::{AttributeValue, Item};

use crate::error::{ApiError, ApiResult};
use crate::request::Request;

/// The table, or one of its LSIs with its position in the table's definition.
pub(super) struct ReadTarget<'a> {
    def: &'a TableDef,
    index: Option<(u8, &'a LocalIndex)>,
}

impl<'a> ReadTarget<'a> {
    /// The target `IndexName` names (the table when absent).
    pub fn resolve(def: &'a TableDef, req: &Request) -> ApiResult<ReadTarget<'a>> {
        let Some(name) = req.str("IndexName")? else {
            return Ok(ReadTarget { def, index: None });
        };
        check_index_name(name)?;
        match def
            .local_indexes
            .iter()
            .enumerate()
            .find(|(_, index)| index.name == name)
        {
            Some((ordinal, index)) => Ok(ReadTarget {
                def,
                index: Some((ordinal as u8, index)),
            }),
            None => Err(ApiError::validation(format!(
                "The table does not have the specified index: {name}"
            ))),
        }
    }

    pub fn def(&self) -> &TableDef {
        self.def
    }

    pub fn is_index(&self) -> bool {
        self.index.is_some()
    }

    pub fn index_name(&self) -> Option<&str> {
        self.index.map(|(_, index)| index.name.as_str())
    }

    /// The key the target is ordered by: the table's, or the table's partition key and
    /// the index's sort key.
    pub fn key_schema(&self) -> KeySchema {
        match self.index {
            None => self.def.key_schema.clone(),
            Some((_, index)) => KeySchema {
                partition: self.def.key_schema.partition.clone(),
                sort: Some(index.sort.clone()),
            },
        }
    }

    /// The attributes that identify an item or entry read: the table's key, and the
    /// index's sort key (`LastEvaluatedKey`).
    pub fn cursor_key(&self, item: &Item) -> Item {
        let mut key = self.def.key_schema.key_item(item);
        if let Some((_, index)) = self.index {
            if let Some(v) = item.get(&index.sort.name) {
                key.insert(index.sort.name.clone(), v.clone());
            }
        }
        key
    }

    /// The storage-key prefix of one partition key's items or entries.
    pub fn partition_prefix(&self, pk: &AttributeValue) -> Vec<u8> {
        match self.index {
            None => partition_key_prefix(self.def.id, pk),
            Some((ordinal, _)) => local_index_partition_prefix(self.def.id, ordinal, pk),
        }
    }

    /// The storage-key range of what the target holds of the items in `tokens`.
    pub fn key_range(&self, tokens: &TokenRange) -> (Vec<u8>, Vec<u8>) {
        match self.index {
            None => tokens.key_range(self.def.id),
            Some((ordinal, _)) => local_index_key_range(self.def.id, ordinal, tokens),
        }
    }

    /// The token of a storage key of the target.
    pub fn token_of_key(&self, key: &[u8]) -> Option<u64> {
        match self.index {
            None => token_of_item_key(key),
            Some(_) => token_of_index_key(key),
        }
    }

    /// How a range read asks for the index (None: the table's items).
    pub fn index_read(&self, fetch_items: bool) -> Option<IndexRead> {
        self.index.map(|(ordinal, _)| IndexRead {
            ordinal,
            fetch_items,
        })
    }

    /// Whether the target holds attribute `name` of its items (a table holds all).
    pub fn holds(&self, name: &str) -> bool {
        match self.index {
            None => true,
            Some((_, index)) => {
                self.def.key_schema.is_key_attribute(name)
                    || index.sort.name == name
                    || match &index.projection {
                        Projection::All => true,
                        Projection::KeysOnly => false,
                        Projection::Include(names) => names.iter().any(|n| n == name),
                    }
            }
        }
    }

    /// Whether the target holds every attribute of the items (a table, or an index
    /// projecting ALL).
    pub fn holds_everything(&self) -> bool {
        self.index
            .is_none_or(|(_, index)| index.projection == Projection::All)
    }

    /// `ExclusiveStartKey` as a storage key of the target.
    pub fn start_key(&self, req: &Request) -> ApiResult<Option<Vec<u8>>> {
        let Some(esk) = req.item("ExclusiveStartKey")? else {
            return Ok(None);
        };
        let schema = &self.def.key_schema;
        let Some((ordinal, index)) = self.index else {
            if esk.len() != 1 + usize::from(schema.sort.is_some()) {
                return Err(ApiError::validation(
                    "Exclusive Start Key must have same size as table's key schema",
                ));
            }
            let key = schema
                .key_from_request(&esk)
                .map_err(|_| invalid_start_key())?;
            return Ok(Some(item_key(
                self.def.id,
                &key.partition,
                key.sort.as_ref(),
            )));
        };
        let index_sk = esk
            .get(&index.sort.name)
            .filter(|v| v.value_type() == index.sort.ty.value_type())
            .ok_or_else(|| ApiError::validation("The provided starting key is invalid"))?;
        let mut table_part = esk.clone();
        if !schema.is_key_attribute(&index.sort.name) {
            table_part.remove(&index.sort.name);
        }
        let key = schema
            .key_from_request(&table_part)
            .map_err(|_| invalid_start_key())?;
        Ok(Some(local_index_key(
            self.def.id,
            ordinal,
            token(&key.partition),
            &key.partition,
            index_sk,
            key.sort.as_ref(),
        )))
    }
}

fn invalid_start_key() -> ApiError {
    ApiError::validation(
        "The provided starting key is invalid: The provided key element does not match the schema",
    )
}

/// DynamoDB's constraints on `IndexName`: 3 to 255 characters of `[a-zA-Z0-9_.-]`.
fn check_index_name(name: &str) -> ApiResult<()> {
    let problem = if name.len() < 3 {
        Some("Member must have length greater than or equal to 3".to_owned())
    } else if name.len() > 255 {
        Some("Member must have length less than or equal to 255".to_owned())
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        Some("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'indexName' failed to satisfy constraint: {p}"
        ))),
    }
}
