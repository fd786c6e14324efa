//! The node's encoding of partitions' change logs: protobuf `rotor.v1.ChangeRecord`
//! records (changes.proto), and which partitions keep one (those of tables with
//! global secondary indexes).

use std::sync::Arc;

use prost::Message;
use rotor_model::cluster::ClusterMap;
use rotor_model::global_index::GlobalIndexShape;
use rotor_proto::v1 as pb;
use rotor_proto::{item_from_wire, item_to_wire};
use rotor_storage::changelog::{Change, ChangeFormat, ItemChange};

/// Change records as `rotor.v1.ItemChange`.
pub struct ProtoChangeFormat;

impl ChangeFormat for ProtoChangeFormat {
    fn encode(&self, change: &Change) -> Vec<u8> {
        use pb::change_record::Change as C;
        let change = match change {
            Change::Item(item) => C::Item(pb::ItemChange {
                item_key: item.item_key.clone(),
                old: item.old.as_ref().map(item_to_wire),
                new: item.new.as_ref().map(item_to_wire),
            }),
            Change::Split { child, at } => C::Split(pb::PartitionSplit {
                child: *child,
                at: *at,
            }),
        };
        pb::ChangeRecord {
            change: Some(change),
        }
        .encode_to_vec()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Change, String> {
        use pb::change_record::Change as C;
        let record = pb::ChangeRecord::decode(bytes).map_err(|e| e.to_string())?;
        let image = |item: Option<pb::Item>| item.map(item_from_wire).transpose();
        match record.change {
            Some(C::Item(item)) => Ok(Change::Item(ItemChange {
                item_key: item.item_key,
                old: image(item.old).map_err(|e| e.to_string())?,
                new: image(item.new).map_err(|e| e.to_string())?,
            })),
            Some(C::Split(split)) => Ok(Change::Split {
                child: split.child,
                at: split.at,
            }),
            None => Err("a change record without a change".into()),
        }
    }
}

/// The change log format a partition of table `table_id` keeps its changes in: Some
/// while the table has global secondary indexes to feed.
pub fn format_for(map: &ClusterMap, table_id: u32) -> Option<Arc<dyn ChangeFormat>> {
    if map.global_indexes_of(table_id).is_empty() {
        None
    } else {
        Some(Arc::new(ProtoChangeFormat))
    }
}

/// The global secondary indexes of table `table_id`, as its writes are checked
/// against.
pub fn global_shapes(map: &ClusterMap, table_id: u32) -> Vec<GlobalIndexShape> {
    map.global_indexes_of(table_id)
        .iter()
        .filter_map(|t| t.def.global_index_shape())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::{AttributeValue, Item};

    #[test]
    fn changes_round_trip_through_protobuf() {
        let item = Item::from([
            ("pk".into(), AttributeValue::S("a".into())),
            ("n".into(), AttributeValue::N("1.5".parse().unwrap())),
        ]);
        for (old, new) in [
            (None, Some(item.clone())),
            (Some(item.clone()), None),
            (Some(item.clone()), Some(item.clone())),
        ] {
            let change = Change::Item(ItemChange {
                item_key: vec![0, 0, 0, 4, 9],
                old,
                new,
            });
            let bytes = ProtoChangeFormat.encode(&change);
            assert_eq!(ProtoChangeFormat.decode(&bytes).unwrap(), change);
        }
        let split = Change::Split {
            child: 3,
            at: 1 << 63,
        };
        assert_eq!(
            ProtoChangeFormat
                .decode(&ProtoChangeFormat.encode(&split))
                .unwrap(),
            split
        );
        assert!(ProtoChangeFormat.decode(&[0xff, 0xff]).is_err());
        assert!(ProtoChangeFormat.decode(&[]).is_err(), "no change in it");
    }
}
