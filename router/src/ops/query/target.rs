//! What a Query or Scan reads: the table's items, one of its local secondary indexes
//! or one of its global secondary indexes (`IndexName`); and what that choice makes of
//! keys, cursors, ranges and routing. An LSI's entries are read from the table's
//! partitions; a GSI's are the items of the index's own table, read from its
//! partitions.

use rotor_model::global_index::GlobalIndexShape;
use rotor_model::index::{
    local_index_key, local_index_key_range, local_index_partition_prefix, token_of_index_key,
    LocalIndex, Projection,
};
use rotor_model::keys::{item_key, partition_key_prefix, token, token_of_item_key};
use rotor_model::read::IndexRead;
use rotor_model::table::{KeyAttribute, KeySchema, TableDef, TokenRange};
use rotor_model::{AttributeValue, Item};

use crate::error::{ApiError, ApiResult};
use crate::request::Request;

/// The table, one of its LSIs (with its position in the table's definition), or one
/// of its GSIs (with the table holding it).
pub(super) struct ReadTarget<'a> {
    def: &'a TableDef,
    index: Option<(u8, &'a LocalIndex)>,
    global: Option<(&'a TableDef, GlobalIndexShape)>,
}

impl<'a> ReadTarget<'a> {
    /// The target `IndexName` names (the table when absent); `globals` are the tables
    /// holding the table's GSIs.
    pub fn resolve(
        def: &'a TableDef,
        globals: &'a [TableDef],
        req: &Request,
    ) -> ApiResult<ReadTarget<'a>> {
        let table = ReadTarget {
            def,
            index: None,
            global: None,
        };
        let Some(name) = req.str("IndexName")? else {
            return Ok(table);
        };
        check_index_name(name)?;
        if let Some((ordinal, index)) = def
            .local_indexes
            .iter()
            .enumerate()
            .find(|(_, index)| index.name == name)
        {
            return Ok(ReadTarget {
                index: Some((ordinal as u8, index)),
                ..table
            });
        }
        let global = globals.iter().find_map(|g| {
            let shape = g.global_index_shape()?;
            (shape.name == name).then_some((g, shape))
        });
        match global {
            Some(global) => {
                if global
                    .0
                    .global_index_of
                    .as_ref()
                    .is_some_and(|g| g.backfilling)
                {
                    return Err(ApiError::validation(format!(
                        "Cannot read from backfilling global secondary index: {name}"
                    )));
                }
                if req.bool("ConsistentRead")? == Some(true) {
                    return Err(ApiError::validation(
                        "Consistent reads are not supported on global secondary indexes",
                    ));
                }
                Ok(ReadTarget {
                    global: Some(global),
                    ..table
                })
            }
            None => Err(ApiError::validation(format!(
                "The table does not have the specified index: {name}"
            ))),
        }
    }

    pub fn def(&self) -> &TableDef {
        self.def
    }

    /// The table whose partitions hold what is read (a GSI's own table).
    pub fn routing(&self) -> &'a TableDef {
        match &self.global {
            Some((g, _)) => g,
            None => self.def,
        }
    }

    pub fn is_index(&self) -> bool {
        self.index.is_some() || self.global.is_some()
    }

    /// Whether the target is a global secondary index.
    pub fn is_global(&self) -> bool {
        self.global.is_some()
    }

    pub fn index_name(&self) -> Option<&str> {
        match (&self.index, &self.global) {
            (Some((_, index)), _) => Some(index.name.as_str()),
            (None, Some((_, shape))) => Some(shape.name.as_str()),
            (None, None) => None,
        }
    }

    /// The key the target is ordered by: the table's, or the table's partition key and
    /// the index's sort key.
    pub fn key_schema(&self) -> KeySchema {
        if let Some((_, shape)) = &self.global {
            return shape.index_key.clone();
        }
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
        if let Some((_, shape)) = &self.global {
            for (name, v) in shape.index_key.key_item(item) {
                key.insert(name, v);
            }
            return key;
        }
        if let Some((_, index)) = self.index {
            if let Some(v) = item.get(&index.sort.name) {
                key.insert(index.sort.name.clone(), v.clone());
            }
        }
        key
    }

    /// The storage-key prefix of one partition key's items or entries.
    pub fn partition_prefix(&self, pk: &AttributeValue) -> Vec<u8> {
        if let Some((g, _)) = &self.global {
            return partition_key_prefix(g.id, pk);
        }
        match self.index {
            None => partition_key_prefix(self.def.id, pk),
            Some((ordinal, _)) => local_index_partition_prefix(self.def.id, ordinal, pk),
        }
    }

    /// The storage-key range of what the target holds of the items in `tokens`.
    pub fn key_range(&self, tokens: &TokenRange) -> (Vec<u8>, Vec<u8>) {
        if let Some((g, _)) = &self.global {
            return tokens.key_range(g.id);
        }
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
        if let Some((_, shape)) = &self.global {
            return shape.holds(name);
        }
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
        if let Some((_, shape)) = &self.global {
            return shape.projection == Projection::All;
        }
        self.index
            .is_none_or(|(_, index)| index.projection == Projection::All)
    }

    /// `ExclusiveStartKey` as a storage key of the target.
    pub fn start_key(&self, req: &Request) -> ApiResult<Option<Vec<u8>>> {
        let Some(esk) = req.item("ExclusiveStartKey")? else {
            return Ok(None);
        };
        let schema = &self.def.key_schema;
        if let Some((_, shape)) = &self.global {
            return global_start_key(shape, &esk).map(Some);
        }
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

/// A GSI's `ExclusiveStartKey` (its key and the table's) as an entry's storage key.
fn global_start_key(shape: &GlobalIndexShape, esk: &Item) -> ApiResult<Vec<u8>> {
    let attrs: Vec<&KeyAttribute> = [&shape.index_key, &shape.base_key]
        .into_iter()
        .flat_map(|k| std::iter::once(&k.partition).chain(k.sort.iter()))
        .collect();
    let complete = attrs.iter().all(|a| {
        esk.get(&a.name)
            .is_some_and(|v| v.value_type() == a.ty.value_type())
    });
    let known = esk.keys().all(|n| attrs.iter().any(|a| &a.name == n));
    if !complete || !known {
        return Err(ApiError::validation("The provided starting key is invalid"));
    }
    shape.entry_key(esk).ok_or_else(invalid_start_key)
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
