//! A node's gRPC services, spoken to directly as a router or a peer would: protobuf
//! writes and reads round-trip, every refusal says what the sender must do (not the
//! leader, and who is; a partition the node does not host; a key the partition no
//! longer owns), and a malformed or hostile message is refused with InvalidArgument,
//! changes nothing, and leaves the node serving.

use std::collections::BTreeMap;

use rotor_model::cluster::{partition_group, ClusterMap};
use rotor_model::keys;
use rotor_model::value::AttributeValue;
use rotor_node::admin::fetch_map;
use rotor_proto::v1 as pb;
use rotor_proto::v1::partition_client::PartitionClient;
use rotor_proto::v1::raft_client::RaftClient;
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, sdk_client_with_attempts};
use tonic::transport::Channel;

const TABLE: &str = "service_items";

async fn channel(cluster: &Cluster, id: u64) -> Channel {
    Channel::from_shared(format!("http://{}", cluster.node_addr(id)))
        .expect("address")
        .connect()
        .await
        .expect("connect to the node")
}

/// The leader and a follower of partition 0 of the table, and the map.
async fn roles(cluster: &Cluster, table_id: u32) -> (u64, u64) {
    let group = partition_group(table_id, 0);
    for _ in 0..100 {
        if let Ok(s) = cluster.status(1).await {
            if let Some(g) = s.groups.iter().find(|g| g.group == group && g.has_leader) {
                let follower = g.voters.iter().copied().find(|v| *v != g.leader);
                if let Some(follower) = follower {
                    return (g.leader, follower);
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("partition 0 has no leader\n{}", cluster.output());
}

fn pref(table_id: u32, partition: u32, map: &ClusterMap) -> Option<pb::PartitionRef> {
    Some(pb::PartitionRef {
        table_id,
        partition,
        epoch: map.epoch,
    })
}

/// A put of `{pk: S(pk), v: N(v)}` as the router sends it, in the partition that owns
/// the key's token.
fn put(table_id: u32, pk: &str, v: &str, condition: Option<pb::Expression>) -> pb::WriteCommand {
    let key = AttributeValue::S(pk.into());
    let item = BTreeMap::from([
        ("pk".to_owned(), key.clone()),
        (
            "v".to_owned(),
            AttributeValue::N(v.parse().expect("number")),
        ),
    ]);
    pb::WriteCommand {
        table_id,
        item_key: keys::item_key(table_id, &key, None),
        op: Some(pb::write_command::Op::Put(pb::PutOp {
            item: Some(rotor_proto::item_to_wire(&item)),
            condition,
        })),
    }
}

/// A key whose token falls in partition `partition` of the map's table.
fn key_in(map: &ClusterMap, partition: u32) -> String {
    let table = map.table(TABLE).expect("table");
    (0..10_000)
        .map(|i| format!("k{i}"))
        .find(|k| {
            let token = keys::token(&AttributeValue::S(k.clone()));
            table.def.partition_of_token(token) == partition
        })
        .expect("a key in the partition")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_answer_refuse_and_survive_hostile_messages() {
    let cluster = tokio::task::block_in_place(|| Cluster::start(3, &[], &["--partitions", "2"]));
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table(&client, TABLE, false).await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    let table_id = map.table(TABLE).expect("table").def.id;
    let (leader, follower) = roles(&cluster, table_id).await;
    let mut on_leader = PartitionClient::new(channel(&cluster, leader).await);
    let mut on_follower = PartitionClient::new(channel(&cluster, follower).await);
    let mine = key_in(&map, 0);
    let theirs = key_in(&map, 1);

    // A write and a read, in protobuf end to end.
    let reply = on_leader
        .write(pb::WriteRequest {
            partition: pref(table_id, 0, &map),
            command: Some(put(table_id, &mine, "7", None)),
        })
        .await
        .expect("write")
        .into_inner();
    assert!(
        matches!(reply.result, Some(pb::write_reply::Result::Outcome(_))),
        "{reply:?}"
    );
    let get = |consistent| pb::GetRequest {
        partition: pref(table_id, 0, &map),
        item_key: keys::item_key(table_id, &AttributeValue::S(mine.clone()), None),
        consistent,
        min_applied: 0,
    };
    let reply = on_leader.get(get(true)).await.expect("get").into_inner();
    let Some(pb::get_reply::Result::Item(item)) = reply.result else {
        panic!("no item: {reply:?}");
    };
    let item = rotor_proto::item_from_wire(item).expect("item");
    assert_eq!(item["v"], AttributeValue::N("7".parse().unwrap()));

    // Refusals that tell the sender what to do.
    let reply = on_follower
        .write(pb::WriteRequest {
            partition: pref(table_id, 0, &map),
            command: Some(put(table_id, &mine, "8", None)),
        })
        .await
        .expect("write")
        .into_inner();
    match reply.result {
        Some(pb::write_reply::Result::Refused(r)) => {
            assert_eq!(r.reason(), pb::Refusal::NotLeader);
            assert_eq!(r.leader_hint, leader, "the hint names the leader");
        }
        other => panic!("a follower took a write: {other:?}"),
    }
    let reply = on_follower.get(get(true)).await.expect("get").into_inner();
    assert!(
        matches!(&reply.result, Some(pb::get_reply::Result::Refused(r)) if r.reason() == pb::Refusal::NotLeader),
        "a strongly consistent read on a follower: {reply:?}"
    );
    let reply = on_leader
        .write(pb::WriteRequest {
            partition: pref(table_id + 100, 0, &map),
            command: Some(put(table_id + 100, &mine, "8", None)),
        })
        .await
        .expect("write")
        .into_inner();
    assert!(
        matches!(&reply.result, Some(pb::write_reply::Result::Refused(r)) if r.reason() == pb::Refusal::UnknownPartition),
        "{reply:?}"
    );
    let reply = on_leader
        .write(pb::WriteRequest {
            partition: pref(table_id, 0, &map),
            command: Some(put(table_id, &theirs, "8", None)),
        })
        .await
        .expect("write")
        .into_inner();
    assert!(
        matches!(&reply.result, Some(pb::write_reply::Result::Refused(r)) if r.reason() == pb::Refusal::StaleEpoch),
        "a key of another partition: {reply:?}"
    );

    // Malformed messages: InvalidArgument, saying what was wrong; nothing written.
    let refused = |result: Result<tonic::Response<pb::WriteReply>, tonic::Status>, what: &str| {
        let status = result.expect_err(what);
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{what}: {status:?}"
        );
        status.message().to_owned()
    };
    let message = refused(
        on_leader
            .write(pb::WriteRequest {
                partition: pref(table_id, 0, &map),
                command: None,
            })
            .await,
        "a write without a command",
    );
    assert!(message.contains("WriteRequest.command"), "{message}");
    let bad_condition = pb::Expression {
        text: "attribute_exists(#0".into(),
        names: BTreeMap::from([("#0".to_owned(), "pk".to_owned())]),
        values: BTreeMap::new(),
    };
    let message = refused(
        on_leader
            .write(pb::WriteRequest {
                partition: pref(table_id, 0, &map),
                command: Some(put(table_id, &mine, "9", Some(bad_condition))),
            })
            .await,
        "a condition that does not parse",
    );
    assert!(message.contains("condition"), "{message}");
    let mut number = put(table_id, &mine, "9", None);
    if let Some(pb::write_command::Op::Put(p)) = &mut number.op {
        if let Some(item) = &mut p.item {
            item.attributes.insert(
                "v".into(),
                pb::AttributeValue {
                    value: Some(pb::attribute_value::Value::N("1e999".into())),
                },
            );
        }
    }
    refused(
        on_leader
            .write(pb::WriteRequest {
                partition: pref(table_id, 0, &map),
                command: Some(number),
            })
            .await,
        "a number out of DynamoDB's range",
    );
    let reply = on_leader.get(get(true)).await.expect("get").into_inner();
    let Some(pb::get_reply::Result::Item(item)) = reply.result else {
        panic!("the item is gone: {reply:?}");
    };
    let item = rotor_proto::item_from_wire(item).expect("item");
    assert_eq!(
        item["v"],
        AttributeValue::N("7".parse().unwrap()),
        "no refused write changed it"
    );

    // A peer's raft messages that are not what raft sends.
    let mut raft = RaftClient::new(channel(&cluster, follower).await);
    let no_vote = pb::RaftMessage {
        group: partition_group(table_id, 0),
        body: Some(pb::raft_message::Body::AppendEntries(
            pb::AppendEntriesRequest::default(),
        )),
        group_idle: false,
    };
    let status = raft
        .call(no_vote)
        .await
        .expect_err("an append without a vote");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let reply_as_request = pb::RaftMessage {
        group: partition_group(table_id, 0),
        body: Some(pb::raft_message::Body::VoteReply(pb::VoteReply::default())),
        group_idle: false,
    };
    let status = raft
        .call(reply_as_request)
        .await
        .expect_err("a reply sent as a request");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let elsewhere = pb::RaftMessage {
        group: partition_group(table_id + 100, 0),
        body: Some(pb::raft_message::Body::Vote(pb::VoteRequest::default())),
        group_idle: false,
    };
    let status = raft.call(elsewhere).await.expect_err("a group not hosted");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");

    // Still serving, through the API.
    rotor_tests::put_numbered(&client, TABLE, "after", 10).await;
    assert!(rotor_tests::missing_numbered(&client, TABLE, "after", 10)
        .await
        .is_empty());
}
