//! Local secondary indexes: what a table declares of one (its sort key and projection),
//! and what it holds of an item. An LSI entry lives with its item, in the same
//! partition: its key is the table's partition key, the index's sort key and the
//! table's sort key (which keeps entries of one index value apart), its value the
//! item's projection. Items without the index's sort key have no entry (a sparse index).

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::keys::encode_key_value;
use crate::table::{KeyAttribute, KeySchema, TokenRange};
use crate::value::{item_size, AttributeValue, Item};

/// At most this many LSIs per table (DynamoDB's limit).
pub const MAX_LOCAL_INDEXES: usize = 5;
/// At most this many projected non-key attributes over all of a table's indexes.
pub const MAX_PROJECTED_ATTRIBUTES: usize = 100;

/// Which attributes an index copies from its items besides the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    /// The table's and the index's key attributes only.
    KeysOnly,
    /// The keys and these attributes.
    Include(Vec<String>),
    /// Every attribute.
    All,
}

impl Projection {
    /// DynamoDB's `ProjectionType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Projection::KeysOnly => "KEYS_ONLY",
            Projection::Include(_) => "INCLUDE",
            Projection::All => "ALL",
        }
    }
}

/// One local secondary index as its table defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalIndex {
    pub name: String,
    /// The index's sort key (its partition key is the table's).
    pub sort: KeyAttribute,
    pub projection: Projection,
}

/// A table's LSIs as one partition maintains them: with the table's key schema, which
/// says what every entry's key is made of. The position of an index in `indexes` is
/// its ordinal in storage keys; a table's LSIs never change after it is created.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalIndexes {
    pub table_key: Option<KeySchema>,
    pub indexes: Vec<LocalIndex>,
}

/// One index entry of an item: its storage key and the projected item.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub key: Vec<u8>,
    pub value: Item,
}

impl LocalIndexes {
    pub fn new(table_key: KeySchema, indexes: Vec<LocalIndex>) -> LocalIndexes {
        LocalIndexes {
            table_key: Some(table_key),
            indexes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.indexes.is_empty()
    }

    /// Refuses an item whose value for an index's sort key is not of its declared type
    /// (DynamoDB's message, naming the index), or an empty string or binary.
    pub fn check(&self, item: &Item) -> Result<()> {
        for index in &self.indexes {
            if let Some(v) = item.get(&index.sort.name) {
                check_index_key(&index.name, &index.sort, v)?;
            }
        }
        Ok(())
    }

    /// The entries `item` has in the table's indexes (none in an index whose sort key
    /// it lacks). `token` is its partition key's token. The item must have passed
    /// `check` and carry the table's key.
    pub fn entries(&self, table_id: u32, token: u64, item: &Item) -> Vec<IndexEntry> {
        let Some(table_key) = &self.table_key else {
            return Vec::new();
        };
        let Some(pk) = item.get(&table_key.partition.name) else {
            return Vec::new();
        };
        let table_sk = table_key.sort.as_ref().and_then(|s| item.get(&s.name));
        self.indexes
            .iter()
            .enumerate()
            .filter_map(|(ordinal, index)| {
                let sk = item.get(&index.sort.name)?;
                let key = local_index_key(table_id, ordinal as u8, token, pk, sk, table_sk);
                Some(IndexEntry {
                    key,
                    value: project(item, table_key, index),
                })
            })
            .collect()
    }
}

impl LocalIndexes {
    /// What replacing `old` by `new` costs in each index (see [`local_write_units`]).
    pub fn write_units(&self, old: Option<&Item>, new: Option<&Item>) -> Vec<f64> {
        match &self.table_key {
            Some(table_key) => local_write_units(table_key, &self.indexes, old, new),
            None => Vec::new(),
        }
    }
}

/// Refuses a value of an index key attribute `key` that is not of its declared type
/// (DynamoDB's message, naming the index), or an empty string or binary. Shared by
/// local and global secondary indexes.
pub fn check_index_key(index: &str, key: &KeyAttribute, v: &AttributeValue) -> Result<()> {
    if v.value_type() != key.ty.value_type() {
        return Err(ModelError::validation(format!(
            "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {index}",
            key.name,
            key.ty.descriptor(),
            v.value_type().descriptor(),
        )));
    }
    let ty = match v {
        AttributeValue::S(s) if s.is_empty() => "string",
        AttributeValue::B(b) if b.is_empty() => "binary",
        _ => return Ok(()),
    };
    Err(ModelError::validation(format!(
        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {ty} value. IndexName: {index}, IndexKey: {}",
        key.name
    )))
}

/// What replacing `old` by `new` costs in each of a table's LSIs, in DynamoDB's write
/// units (see [`entry_write_units`]); `table_key` is the table's key schema.
pub fn local_write_units(
    table_key: &KeySchema,
    indexes: &[LocalIndex],
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<f64> {
    let entry = |item: Option<&Item>, index: &LocalIndex| {
        let item = item.filter(|i| i.contains_key(&index.sort.name))?;
        Some((
            item.get(&index.sort.name).cloned(),
            project(item, table_key, index),
        ))
    };
    indexes
        .iter()
        .map(|index| entry_write_units(entry(old, index), entry(new, index)))
        .collect()
}

/// What changing one index entry costs, given the entry before and after (each with
/// what tells its key apart within the item's entries, and the entry), in write units
/// (one per KB of the entry written or removed): a new entry or a removed one is one
/// write, a changed entry under the same key one, an entry whose key changed two (a
/// delete and a put), an entry that did not change none.
pub fn entry_write_units<K: PartialEq>(before: Option<(K, Item)>, after: Option<(K, Item)>) -> f64 {
    let units = |entry: &Item| crate::capacity::write_units(item_size(entry));
    match (before, after) {
        (None, None) => 0.0,
        (Some((_, gone)), None) => units(&gone),
        (None, Some((_, added))) => units(&added),
        (Some((_, a)), Some((_, b))) if a == b => 0.0,
        (Some((ka, a)), Some((kb, b))) if ka == kb => {
            crate::capacity::write_units(item_size(&a).max(item_size(&b)))
        }
        (Some((_, a)), Some((_, b))) => units(&a) + units(&b),
    }
}

/// What an index holds of `item`: the table's and the index's keys, and the projected
/// attributes.
pub fn project(item: &Item, table_key: &KeySchema, index: &LocalIndex) -> Item {
    let keep = |name: &str| -> bool {
        table_key.is_key_attribute(name)
            || index.sort.name == name
            || match &index.projection {
                Projection::All => true,
                Projection::KeysOnly => false,
                Projection::Include(names) => names.iter().any(|n| n == name),
            }
    };
    item.iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, v)| (name.clone(), v.clone()))
        .collect()
}

/// `table | ordinal | token`: where an index's entries of one token start. Entries of
/// one index are contiguous and in token order, as a table's items are.
pub fn local_index_token_prefix(table_id: u32, ordinal: u8, token: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(13);
    k.extend_from_slice(&table_id.to_be_bytes());
    k.push(ordinal);
    k.extend_from_slice(&token.to_be_bytes());
    k
}

/// The index-key range `[start, end)` of one index's entries of items in `tokens`
/// (the index's part of a partition, or of a parallel scan's segment).
pub fn local_index_key_range(
    table_id: u32,
    ordinal: u8,
    tokens: &TokenRange,
) -> (Vec<u8>, Vec<u8>) {
    let start = local_index_token_prefix(table_id, ordinal, tokens.start);
    let end = match tokens.end {
        Some(end) => local_index_token_prefix(table_id, ordinal, end),
        None => {
            let mut next = table_id.to_be_bytes().to_vec();
            next.push(ordinal.saturating_add(1));
            next
        }
    };
    (start, end)
}

/// Whether the index-key range `[start, end)` of index `ordinal` lies in `tokens`.
pub fn holds_index_keys(
    table_id: u32,
    ordinal: u8,
    tokens: &TokenRange,
    start: &[u8],
    end: &[u8],
) -> bool {
    let (lo, hi) = local_index_key_range(table_id, ordinal, tokens);
    start >= lo.as_slice() && end <= hi.as_slice() && start <= end
}

/// `table | ordinal | token | pk`: the prefix of one partition key's entries in an index.
pub fn local_index_partition_prefix(table_id: u32, ordinal: u8, pk: &AttributeValue) -> Vec<u8> {
    let mut k = local_index_token_prefix(table_id, ordinal, crate::keys::token(pk));
    encode_key_value(pk, &mut k);
    k
}

/// The storage key of an index entry: `table | ordinal | token | pk | index sk | table sk`.
pub fn local_index_key(
    table_id: u32,
    ordinal: u8,
    token: u64,
    pk: &AttributeValue,
    sk: &AttributeValue,
    table_sk: Option<&AttributeValue>,
) -> Vec<u8> {
    let mut k = local_index_token_prefix(table_id, ordinal, token);
    encode_key_value(pk, &mut k);
    encode_key_value(sk, &mut k);
    if let Some(table_sk) = table_sk {
        encode_key_value(table_sk, &mut k);
    }
    k
}

/// The token stored in an index entry's key (bytes 5..13).
pub fn token_of_index_key(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(5..13)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ScalarType;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    fn indexes(projection: Projection) -> LocalIndexes {
        LocalIndexes::new(
            KeySchema {
                partition: KeyAttribute {
                    name: "Artist".into(),
                    ty: ScalarType::S,
                },
                sort: Some(KeyAttribute {
                    name: "SongTitle".into(),
                    ty: ScalarType::S,
                }),
            },
            vec![LocalIndex {
                name: "AlbumIndex".into(),
                sort: KeyAttribute {
                    name: "AlbumTitle".into(),
                    ty: ScalarType::S,
                },
                projection,
            }],
        )
    }

    fn song() -> Item {
        [
            ("Artist", s("Acme Band")),
            ("SongTitle", s("Happy Day")),
            ("AlbumTitle", s("Songs About Life")),
            ("Genre", s("Rock")),
            ("Year", AttributeValue::N("2020".parse().unwrap())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn an_entry_holds_the_keys_and_the_projection() {
        let item = song();
        let keys_only = indexes(Projection::KeysOnly).entries(7, 42, &item);
        assert_eq!(keys_only.len(), 1);
        let names: Vec<&str> = keys_only[0].value.keys().map(String::as_str).collect();
        assert_eq!(names, ["AlbumTitle", "Artist", "SongTitle"]);
        let include = indexes(Projection::Include(vec!["Genre".into()])).entries(7, 42, &item);
        assert!(include[0].value.contains_key("Genre"));
        assert!(!include[0].value.contains_key("Year"));
        let all = indexes(Projection::All).entries(7, 42, &item);
        assert_eq!(all[0].value, item);
        assert_eq!(
            all[0].key,
            local_index_key(
                7,
                0,
                42,
                &s("Acme Band"),
                &s("Songs About Life"),
                Some(&s("Happy Day"))
            )
        );
        assert_eq!(token_of_index_key(&all[0].key), Some(42));
    }

    #[test]
    fn an_item_without_the_index_sort_key_has_no_entry() {
        let mut item = song();
        item.remove("AlbumTitle");
        assert!(indexes(Projection::All).entries(7, 42, &item).is_empty());
    }

    #[test]
    fn entries_of_one_partition_key_sort_by_the_index_sort_key() {
        let idx = indexes(Projection::KeysOnly);
        let mut a = song();
        a.insert("AlbumTitle".into(), s("B"));
        a.insert("SongTitle".into(), s("A"));
        let mut b = song();
        b.insert("AlbumTitle".into(), s("A"));
        b.insert("SongTitle".into(), s("Z"));
        let ka = &idx.entries(1, 5, &a)[0].key;
        let kb = &idx.entries(1, 5, &b)[0].key;
        assert!(kb < ka, "album A sorts before album B whatever the song");
        let prefix = local_index_partition_prefix(1, 0, &s("Acme Band"));
        let token = crate::keys::token(&s("Acme Band"));
        let real = &idx.entries(1, token, &a)[0].key;
        assert!(real.starts_with(&prefix));
    }

    #[test]
    fn index_writes_cost_what_dynamodb_charges() {
        let idx = indexes(Projection::Include(vec!["Genre".into()]));
        let item = song();
        assert_eq!(idx.write_units(None, Some(&item)), [1.0], "a new entry");
        assert_eq!(idx.write_units(Some(&item), None), [1.0], "a removed entry");
        let mut year = item.clone();
        year.insert("Year".into(), AttributeValue::N("1999".parse().unwrap()));
        assert_eq!(
            idx.write_units(Some(&item), Some(&year)),
            [0.0],
            "nothing projected changed"
        );
        let mut genre = item.clone();
        genre.insert("Genre".into(), s(&"x".repeat(1500)));
        assert_eq!(idx.write_units(Some(&item), Some(&genre)), [2.0]);
        let mut album = item.clone();
        album.insert("AlbumTitle".into(), s("Another"));
        assert_eq!(
            idx.write_units(Some(&item), Some(&album)),
            [2.0],
            "a moved entry: a delete and a put"
        );
        let mut sparse = item.clone();
        sparse.remove("AlbumTitle");
        assert_eq!(idx.write_units(Some(&sparse), Some(&sparse)), [0.0]);
    }

    #[test]
    fn a_wrong_type_or_empty_index_key_is_refused_naming_the_index() {
        let idx = indexes(Projection::All);
        let mut item = song();
        item.insert("AlbumTitle".into(), AttributeValue::N("3".parse().unwrap()));
        let e = idx.check(&item).unwrap_err().to_string();
        assert_eq!(e, "One or more parameter values were invalid: Type mismatch for Index Key AlbumTitle Expected: S Actual: N IndexName: AlbumIndex");
        item.insert("AlbumTitle".into(), s(""));
        let e = idx.check(&item).unwrap_err().to_string();
        assert!(
            e.contains("IndexName: AlbumIndex, IndexKey: AlbumTitle"),
            "{e}"
        );
        item.remove("AlbumTitle");
        assert!(idx.check(&item).is_ok(), "absent: not in the index");
    }
}
