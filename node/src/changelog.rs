//! The node's encoding of partitions' change logs: protobuf `rotor.v1.ChangeRecord`
//! records (changes.proto). Which partitions keep one is `index::tracked`'s.

use prost::Message;
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
