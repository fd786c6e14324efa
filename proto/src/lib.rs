//! rotor-proto: everything Rotor sends between processes, as versioned protobuf: the RPC
//! contract between routers and nodes (and between nodes), and the records raft logs
//! keep, as `.proto` files under `proto/` compiled at build time.
//!
//! ```text
//!   rotor.v1.Partition   router -> node: Write, Get, ReadRange, Stats on one partition replica
//!   rotor.v1.Cluster     join, metadata proposals, the cluster-map watch, status
//!   rotor.v1.Raft        node -> node: openraft messages of any group, by group id
//!   SnapshotFrame        a raft snapshot file (kept on disk, sent in chunks)
//!   model.proto          attribute values, items, write commands and outcomes, range reads
//!   metadata.proto       the cluster map, table definitions, metadata commands and replies
//!   convert              model types <-> messages (From / TryFrom, WireError)
//! ```
//!
//! Rotor's model types (rotor-model) never go on the wire themselves: `convert` turns
//! each into its message and back, and a peer's message that describes no model value
//! is a [`WireError`]. Conditions and updates travel as DynamoDB expression text.

mod convert;

pub use convert::{item_from_wire, item_to_wire, WireError};

/// Generated messages and services of package `rotor.v1`. (A oneof holding a TableDef
/// beside small variants is as large as the TableDef: a metadata command or reply is
/// made once per change, so boxing would buy nothing.)
#[allow(clippy::large_enum_variant)]
pub mod v1 {
    tonic::include_proto!("rotor.v1");
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::v1::{write_reply, PartitionRef, Refusal, Refused, WriteReply, WriteRequest};

    #[test]
    fn messages_round_trip() {
        let req = WriteRequest {
            partition: Some(PartitionRef {
                table_id: 7,
                partition: 3,
                epoch: 42,
            }),
            command: Some(super::v1::WriteCommand {
                table_id: 7,
                item_key: vec![1, 2, 3],
                op: None,
            }),
        };
        let bytes = req.encode_to_vec();
        assert_eq!(WriteRequest::decode(bytes.as_slice()).unwrap(), req);

        let reply = WriteReply {
            result: Some(write_reply::Result::Refused(Refused {
                reason: Refusal::NotLeader as i32,
                leader_hint: 2,
                epoch: 0,
                throttling_reason: String::new(),
            })),
            log_index: 0,
        };
        let decoded = WriteReply::decode(reply.encode_to_vec().as_slice()).unwrap();
        match decoded.result {
            Some(write_reply::Result::Refused(r)) => {
                assert_eq!(r.reason(), Refusal::NotLeader);
                assert_eq!(r.leader_hint, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
