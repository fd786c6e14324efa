//! Raft's protobuf forms: every entry, record and message survives the trip through
//! bytes, a peer's malformed message is an error (never a panic or a default), and a
//! log written in bincode by an older release reads back the same once upgraded.

use std::collections::BTreeMap;

use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use openraft::{
    BasicNode, CommittedLeaderId, Entry, EntryPayload, Membership, SnapshotSegmentId, Vote,
};
use prost::Message;
use rotor_model::cluster::{MetaCommand, NodeState};
use rotor_model::value::AttributeValue;
use rotor_model::write::{WriteCommand, WriteRequest};
use rotor_proto::v1 as pb;
use rotor_storage::format::RaftRecordsUpgrade;

use super::legacy::LegacyRaftRecords;
use super::records::Record;
use super::wire::{self, Meta};
use super::{Command, LogId, NodeId, StoredMembership, TypeConfig};

fn log_id(term: u64, node: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, node), index)
}

fn membership() -> Membership<NodeId, BasicNode> {
    let nodes: BTreeMap<NodeId, BasicNode> = (1..=4)
        .map(|id| {
            (
                id,
                BasicNode {
                    addr: format!("127.0.0.1:70{id}0"),
                },
            )
        })
        .collect();
    Membership::new(vec![[1, 2, 3].into(), [2, 3, 4].into()], nodes)
}

fn entries() -> Vec<Entry<TypeConfig>> {
    let item = [
        ("pk".to_owned(), AttributeValue::S("user#1".into())),
        ("blob".to_owned(), AttributeValue::B(vec![0, 1, 255])),
    ]
    .into_iter()
    .collect();
    vec![
        Entry {
            log_id: log_id(1, 1, 1),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(1, 1, 2),
            payload: EntryPayload::Membership(membership()),
        },
        Entry {
            log_id: log_id(2, 3, 3),
            payload: EntryPayload::Normal(Command::Write(WriteRequest {
                table_id: 7,
                item_key: vec![0, 0, 0, 7, 1, 2, 3],
                command: WriteCommand::Put {
                    item,
                    condition: None,
                },
            })),
        },
        Entry {
            log_id: log_id(2, 3, 4),
            payload: EntryPayload::Normal(Command::Meta(Box::new(MetaCommand::SetNodeState {
                id: 4,
                state: NodeState::Draining,
            }))),
        },
        Entry {
            log_id: log_id(2, 3, 5),
            payload: EntryPayload::Normal(Command::Split {
                at: 1 << 63,
                child: 9,
            }),
        },
    ]
}

#[test]
fn entries_and_records_survive_the_trip_through_bytes() {
    for entry in entries() {
        let back = Entry::<TypeConfig>::from_bytes(&entry.to_bytes()).unwrap();
        assert_eq!(back, entry);
    }
    let vote = Vote::new_committed(5, 2);
    assert_eq!(Vote::from_bytes(&vote.to_bytes()).unwrap(), vote);
    for applied in [None, Some(log_id(3, 1, 99))] {
        assert_eq!(
            Option::<LogId>::from_bytes(&applied.to_bytes()).unwrap(),
            applied
        );
    }
    let stored = StoredMembership::new(Some(log_id(1, 1, 2)), membership());
    assert_eq!(
        StoredMembership::from_bytes(&stored.to_bytes()).unwrap(),
        stored
    );
    let meta = Meta {
        last_log_id: Some(log_id(2, 3, 5)),
        last_membership: stored,
        snapshot_id: "7-5-1".into(),
    };
    assert_eq!(Meta::from_bytes(&meta.to_bytes()).unwrap(), meta);
}

#[test]
fn messages_and_refusals_survive_the_trip_through_bytes() {
    let rpc = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(2, 3),
        prev_log_id: Some(log_id(1, 1, 2)),
        entries: entries(),
        leader_commit: Some(log_id(1, 1, 2)),
    };
    let bytes = wire::append_request_to_wire(&rpc).encode_to_vec();
    let back =
        wire::append_request_from_wire(pb::AppendEntriesRequest::decode(&bytes[..]).unwrap())
            .unwrap();
    assert_eq!(back.vote, rpc.vote);
    assert_eq!(back.prev_log_id, rpc.prev_log_id);
    assert_eq!(back.entries, rpc.entries);
    assert_eq!(back.leader_commit, rpc.leader_commit);

    let replies = || {
        [
            AppendEntriesResponse::Success,
            AppendEntriesResponse::PartialSuccess(Some(log_id(1, 1, 4))),
            AppendEntriesResponse::PartialSuccess(None),
            AppendEntriesResponse::Conflict,
            AppendEntriesResponse::HigherVote(Vote::new(9, 4)),
        ]
    };
    for (reply, expected) in replies().into_iter().zip(replies()) {
        let wire_reply = wire::append_reply_to_wire(&Ok(reply));
        let back = wire::append_reply_from_wire(wire_reply).unwrap();
        assert!(matches!(back, Ok(r) if r == expected));
    }
    let stopped = wire::append_reply_to_wire(&Err(RaftError::Fatal(Fatal::Stopped)));
    assert!(matches!(
        wire::append_reply_from_wire(stopped).unwrap(),
        Err(Ok(RaftError::Fatal(Fatal::Stopped)))
    ));

    // A chunk the receiver did not expect: the sender learns where to start again.
    let mismatch = InstallSnapshotError::SnapshotMismatch(SnapshotMismatch {
        expect: SnapshotSegmentId {
            id: "s1".into(),
            offset: 0,
        },
        got: SnapshotSegmentId {
            id: "s1".into(),
            offset: 4096,
        },
    });
    let reply = wire::snapshot_reply_to_wire(&Err(RaftError::APIError(mismatch.clone())));
    match wire::snapshot_reply_from_wire(reply).unwrap() {
        Err(Ok(RaftError::APIError(e))) => assert_eq!(e, mismatch),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_malformed_message_is_an_error_not_a_default() {
    // No vote: a leader's AppendEntries without its term must not read as term 0.
    let rpc = pb::AppendEntriesRequest {
        vote: None,
        ..Default::default()
    };
    assert!(wire::append_request_from_wire(rpc).is_err());
    // An entry without a payload, and a command of no kind.
    let entry = pb::LogEntry {
        log_id: Some(pb::LogId::default()),
        payload: None,
    };
    assert!(wire::entry_from_wire(entry).is_err());
    let entry = pb::LogEntry {
        log_id: Some(pb::LogId::default()),
        payload: Some(pb::log_entry::Payload::Command(pb::Command {
            command: None,
        })),
    };
    assert!(wire::entry_from_wire(entry).is_err());
    assert!(wire::append_reply_from_wire(pb::AppendEntriesReply { result: None }).is_err());
    // Garbage bytes in the log.
    assert!(Entry::<TypeConfig>::from_bytes(&[0xff, 0xff, 0xff]).is_err());
}

#[test]
fn bincode_records_of_older_releases_are_rewritten_as_the_same_values() {
    let upgrade = LegacyRaftRecords;
    for entry in entries() {
        let old = bincode::serialize(&entry).unwrap();
        let new = upgrade.log_entry(2, 7, &old).unwrap();
        assert_eq!(Entry::<TypeConfig>::from_bytes(&new).unwrap(), entry);
    }
    let vote = Vote::new_committed(5, 2);
    let new = upgrade
        .record(2, 7, "vote", &bincode::serialize(&vote).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(Vote::from_bytes(&new).unwrap(), vote);
    let applied = Some(log_id(3, 1, 99));
    let new = upgrade
        .record(1, 7, "applied", &bincode::serialize(&applied).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(Option::<LogId>::from_bytes(&new).unwrap(), applied);
    // Records the node does not own are left alone.
    assert_eq!(upgrade.record(2, 7, "estimated/3", b"x").unwrap(), None);
    // Bytes that are not what the record should hold stop the upgrade.
    assert!(upgrade.log_entry(2, 7, &[1, 2]).is_err());
}
