//! rotor-proto: the RPC contract between routers and nodes (and, with replication,
//! between nodes), as `.proto` files under `proto/` compiled at build time.
//!
//! ```text
//!   rotor.v1.Partition   router -> node: Write, Get, ReadRange, Stats on one partition replica
//!   rotor.v1.Cluster     join, metadata proposals, the cluster-map watch, status
//!   rotor.v1.Raft        node -> node: openraft messages of any group, by group id
//!   SnapshotFrame        a raft snapshot file (kept on disk, sent in chunks)
//! ```
//!
//! Payload fields carry Rotor's model types encoded once (bincode), the same bytes a
//! partition's log stores; the envelope (partition, epoch, refusals) is protobuf so that
//! routing decisions need no decoding.

/// Generated messages and services of package `rotor.v1`.
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
            payload: vec![1, 2, 3],
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
