//! Global secondary indexes: what a table declares of one, and what the index holds of
//! an item.
//!
//! A GSI lives in a table of its own: hidden from ListTables, named `base/index` (a
//! name no table can have, `/` being outside DynamoDB's name characters), with its own
//! id, partitions, replicas, capacity and splits, routed by the index's partition key.
//! Its entries are the items' projections, stored as that table's items under
//! `index table | token(index pk) | index pk | index sk | table pk | table sk`: the
//! table's key keeps items with equal index keys apart, and a Query on the index is
//! one key range, as on a table. Items without the index's key have no entry (a
//! sparse index).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::index::{check_index_key, entry_write_units, Projection};
use crate::keys::{encode_key_value, partition_key_prefix};
use crate::schema::KeySchema;
use crate::value::Item;

/// At most this many GSIs per table (DynamoDB's limit).
pub const MAX_GLOBAL_INDEXES: usize = 20;

/// An index's `IndexStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexStatus {
    Creating,
    Updating,
    Deleting,
    Active,
}

impl IndexStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexStatus::Creating => "CREATING",
            IndexStatus::Updating => "UPDATING",
            IndexStatus::Deleting => "DELETING",
            IndexStatus::Active => "ACTIVE",
        }
    }
}

/// What an index's own table records of the index it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalIndexOf {
    /// The indexed table.
    pub base_table_id: u32,
    pub base_table: String,
    pub index_name: String,
    /// The indexed table's key schema (every entry carries the item's table key).
    pub base_key: KeySchema,
    pub projection: Projection,
    pub status: IndexStatus,
    /// Whether existing items are still being copied in (`Backfilling`).
    pub backfilling: bool,
    /// Added to an existing table by UpdateTable (its partitions' change logs start
    /// when each of them learns of it), not made with the table.
    pub online: bool,
    /// While backfilling: the table's partitions that have copied their items in. The
    /// index is ACTIVE once every partition of the table is here.
    pub backfilled: BTreeSet<u32>,
}

/// The name of the table that holds index `index` of table `base`.
pub fn index_table_name(base: &str, index: &str) -> String {
    format!("{base}/{index}")
}

/// One change a write makes to a GSI: an entry put (the item's projection) or removed,
/// under its storage key in the index's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IndexChange {
    Put { key: Vec<u8>, entry: Item },
    Delete { key: Vec<u8> },
}

impl IndexChange {
    pub fn key(&self) -> &[u8] {
        match self {
            IndexChange::Put { key, .. } | IndexChange::Delete { key } => key,
        }
    }
}

/// A base partition's changes for one index partition, in log order (changes.proto
/// `IndexWrite`): applied past the position the index partition has from that base
/// partition, which then becomes `up_to`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IndexWrite {
    /// The base partition: (table id, partition).
    pub source: (u32, u32),
    /// The base partition was split off another: refused until that one released it.
    pub gated: bool,
    pub up_to: u64,
    /// Each change with the base log position that made it.
    pub changes: Vec<(u64, IndexChange)>,
    /// Partitions split off the source that may now send their own changes.
    pub release: Vec<u32>,
    /// A page of the source's items copied into a new index (its changes are all at
    /// the backfill's `start`), not changes from its log.
    #[serde(default)]
    pub backfill: Option<BackfillPage>,
}

/// Where one page of a backfill stands: a base partition copying its items, in key
/// order and a page at a time, into an index added to its table.
///
/// Each page goes to every partition of the index (empty where it has no entries for
/// it), which applies it only right after the page before it of the same attempt, or
/// as the first page of an attempt; so no page is applied twice, and an attempt cut
/// short by a leader change is started again rather than continued from a guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillPage {
    /// The base log position the index was added at: its log holds every change after
    /// it, which follows the backfill.
    pub start: u64,
    /// This run of the backfill (a new one after any restart).
    pub attempt: u64,
    /// The item key the page before ended at (None: the first page).
    pub after: Option<Vec<u8>>,
    /// The item key this page ends at.
    pub through: Vec<u8>,
}

/// One GSI as a writer of its entries sees it: where they go and what they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalIndexShape {
    /// The index's own table id.
    pub table_id: u32,
    pub name: String,
    /// The index's key schema (partition key, optional sort key).
    pub index_key: KeySchema,
    pub base_key: KeySchema,
    pub projection: Projection,
}

impl GlobalIndexShape {
    /// The index held by the index table `table_id` with key schema `index_key`.
    pub fn new(table_id: u32, index_key: &KeySchema, of: &GlobalIndexOf) -> GlobalIndexShape {
        GlobalIndexShape {
            table_id,
            name: of.index_name.clone(),
            index_key: index_key.clone(),
            base_key: of.base_key.clone(),
            projection: of.projection.clone(),
        }
    }

    /// Whether the index holds attribute `name` of its items.
    pub fn holds(&self, name: &str) -> bool {
        self.base_key.is_key_attribute(name)
            || self.index_key.is_key_attribute(name)
            || match &self.projection {
                Projection::All => true,
                Projection::KeysOnly => false,
                Projection::Include(names) => names.iter().any(|n| n == name),
            }
    }

    /// Refuses an item whose value for one of the index's key attributes is not of its
    /// declared type, or an empty string or binary (DynamoDB's messages, naming the
    /// index).
    pub fn check(&self, item: &Item) -> Result<()> {
        let keys = std::iter::once(&self.index_key.partition).chain(self.index_key.sort.iter());
        for key in keys {
            if let Some(v) = item.get(&key.name) {
                check_index_key(&self.name, key, v)?;
            }
        }
        Ok(())
    }

    /// The storage key of `item`'s entry (None: the item lacks the index's key or the
    /// table's, so the index has no entry of it).
    pub fn entry_key(&self, item: &Item) -> Option<Vec<u8>> {
        let index_pk = item.get(&self.index_key.partition.name)?;
        let index_sk = match &self.index_key.sort {
            Some(sort) => Some(item.get(&sort.name)?),
            None => None,
        };
        let table_pk = item.get(&self.base_key.partition.name)?;
        let table_sk = match &self.base_key.sort {
            Some(sort) => Some(item.get(&sort.name)?),
            None => None,
        };
        let mut key = partition_key_prefix(self.table_id, index_pk);
        for part in [index_sk, Some(table_pk), table_sk].into_iter().flatten() {
            encode_key_value(part, &mut key);
        }
        Some(key)
    }

    /// What the index holds of `item`: the table's and the index's keys, and the
    /// projected attributes.
    pub fn project(&self, item: &Item) -> Item {
        item.iter()
            .filter(|(name, _)| self.holds(name))
            .map(|(name, v)| (name.clone(), v.clone()))
            .collect()
    }

    /// What replacing `old` by `new` (either absent: a new item, or a delete) changes
    /// in the index, in the order to apply: the old entry removed if its key changed,
    /// then the new entry written if it differs from the old.
    pub fn changes(&self, old: Option<&Item>, new: Option<&Item>) -> Vec<IndexChange> {
        // An item whose index key has the wrong type (one written before the index was
        // added) has no entry: DynamoDB's index key violation.
        let entry = |item: &Item| {
            self.check(item).ok()?;
            Some((self.entry_key(item)?, self.project(item)))
        };
        let before = old.and_then(entry);
        let after = new.and_then(entry);
        let mut out = Vec::new();
        match (before, after) {
            (None, None) => {}
            (Some((key, _)), None) => out.push(IndexChange::Delete { key }),
            (None, Some((key, entry))) => out.push(IndexChange::Put { key, entry }),
            (Some((old_key, old_entry)), Some((key, entry))) => {
                if old_key != key {
                    out.push(IndexChange::Delete { key: old_key });
                    out.push(IndexChange::Put { key, entry });
                } else if old_entry != entry {
                    out.push(IndexChange::Put { key, entry });
                }
            }
        }
        out
    }

    /// What replacing `old` by `new` costs in the index, in write units (one per KB of
    /// each entry written or removed: an entry whose key changed costs a delete and a
    /// put; one that did not change costs nothing).
    pub fn write_units(&self, old: Option<&Item>, new: Option<&Item>) -> f64 {
        let entry =
            |item: Option<&Item>| item.and_then(|i| Some((self.entry_key(i)?, self.project(i))));
        entry_write_units(entry(old), entry(new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{decode_key_value, token_of_item_key};
    use crate::schema::{KeyAttribute, ScalarType};
    use crate::value::AttributeValue;

    fn attr(name: &str, ty: ScalarType) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            ty,
        }
    }

    /// The seed's Music table, indexed by AlbumTitle and SongTitle.
    fn album_index(projection: Projection) -> GlobalIndexShape {
        GlobalIndexShape {
            table_id: 9,
            name: "AlbumIndex".into(),
            index_key: KeySchema {
                partition: attr("AlbumTitle", ScalarType::S),
                sort: Some(attr("Year", ScalarType::N)),
            },
            base_key: KeySchema {
                partition: attr("Artist", ScalarType::S),
                sort: Some(attr("SongTitle", ScalarType::S)),
            },
            projection,
        }
    }

    fn song(title: &str, album: Option<&str>, year: &str, genre: &str) -> Item {
        let mut item = Item::new();
        item.insert("Artist".into(), AttributeValue::S("Acme Band".into()));
        item.insert("SongTitle".into(), AttributeValue::S(title.into()));
        if let Some(album) = album {
            item.insert("AlbumTitle".into(), AttributeValue::S(album.into()));
        }
        item.insert("Year".into(), AttributeValue::N(year.parse().unwrap()));
        item.insert("Genre".into(), AttributeValue::S(genre.into()));
        item
    }

    #[test]
    fn an_entry_is_keyed_by_the_index_key_then_the_table_key() {
        let index = album_index(Projection::KeysOnly);
        let item = song("Happy Day", Some("Songs About Life"), "2019", "Rock");
        let key = index.entry_key(&item).unwrap();
        let album = AttributeValue::S("Songs About Life".into());
        assert!(key.starts_with(&partition_key_prefix(9, &album)));
        assert_eq!(token_of_item_key(&key), Some(crate::keys::token(&album)));
        // After the index partition key: the index sort key, then the table's key.
        let mut rest = &key[partition_key_prefix(9, &album).len()..];
        for (ty, want) in [
            (ScalarType::N, AttributeValue::N("2019".parse().unwrap())),
            (ScalarType::S, AttributeValue::S("Acme Band".into())),
            (ScalarType::S, AttributeValue::S("Happy Day".into())),
        ] {
            let (v, used) = decode_key_value(rest, ty).unwrap();
            assert_eq!(v, want);
            rest = &rest[used..];
        }
        assert!(rest.is_empty());
        // Keys only: the index's and the table's keys.
        let entry = index.project(&item);
        let mut names: Vec<&str> = entry.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["AlbumTitle", "Artist", "SongTitle", "Year"]);
    }

    #[test]
    fn changes_follow_the_index_key() {
        let index = album_index(Projection::Include(vec!["Genre".into()]));
        let a = song("Happy Day", Some("A"), "2019", "Rock");
        let b = song("Happy Day", Some("B"), "2019", "Rock");
        let sparse = song("Happy Day", None, "2019", "Rock");
        let put = |i: &Item| IndexChange::Put {
            key: index.entry_key(i).unwrap(),
            entry: index.project(i),
        };
        let delete = |i: &Item| IndexChange::Delete {
            key: index.entry_key(i).unwrap(),
        };
        assert_eq!(index.changes(None, Some(&a)), [put(&a)], "a new item");
        assert_eq!(index.changes(Some(&a), None), [delete(&a)], "a delete");
        assert_eq!(index.changes(Some(&a), Some(&b)), [delete(&a), put(&b)]);
        assert_eq!(index.changes(Some(&a), Some(&sparse)), [delete(&a)]);
        assert!(index.changes(None, Some(&sparse)).is_empty(), "sparse");
        // An attribute the index does not project changes nothing there.
        let mut other = a.clone();
        other.insert("Plays".into(), AttributeValue::N("7".parse().unwrap()));
        assert!(index.changes(Some(&a), Some(&other)).is_empty());
        assert_eq!(index.write_units(Some(&a), Some(&other)), 0.0);
        // A projected one rewrites the entry in place.
        let jazz = song("Happy Day", Some("A"), "2019", "Jazz");
        assert_eq!(index.changes(Some(&a), Some(&jazz)), [put(&jazz)]);
        assert_eq!(index.write_units(Some(&a), Some(&jazz)), 1.0);
        assert_eq!(index.write_units(Some(&a), Some(&b)), 2.0, "moved");
        assert_eq!(index.write_units(None, Some(&sparse)), 0.0);
    }

    #[test]
    fn index_keys_of_the_wrong_type_are_refused_naming_the_index() {
        let index = album_index(Projection::All);
        let mut item = song("x", Some("A"), "2019", "Rock");
        assert!(index.check(&item).is_ok());
        item.insert("Year".into(), AttributeValue::S("soon".into()));
        let e = index.check(&item).unwrap_err().to_string();
        assert!(
            e.contains(
                "Type mismatch for Index Key Year Expected: N Actual: S IndexName: AlbumIndex"
            ),
            "{e}"
        );
        item.insert("Year".into(), AttributeValue::N("1".parse().unwrap()));
        item.insert("AlbumTitle".into(), AttributeValue::S(String::new()));
        let e = index.check(&item).unwrap_err().to_string();
        assert!(
            e.contains(
                "cannot contain an empty string value. IndexName: AlbumIndex, IndexKey: AlbumTitle"
            ),
            "{e}"
        );
    }
}
