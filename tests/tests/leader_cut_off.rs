//! A partition's leader cut off from its followers but not from the routers (an
//! asymmetric partition) refuses writes once a quorum has not answered it for an
//! election timeout, so routers find the leader the others elected. Found while testing
//! split halves: the old leader took every write into a log it could not commit, and
//! the partition took no writes until the cut healed.

use std::time::Duration;

use rotor_model::cluster::partition_group;
use rotor_node::admin::fetch_map;
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, missing_numbered, put_numbered, sdk_client_with_attempts};

const TABLE: &str = "leader_cut_off";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_the_new_leader_while_the_old_one_is_cut_off_from_its_followers() {
    let cluster = tokio::task::block_in_place(|| {
        Cluster::start_with_fault_injection(3, &[], &["--partitions", "1"])
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table(&client, TABLE, false).await;
    put_numbered(&client, TABLE, "before", 20).await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    let group = partition_group(map.tables[TABLE].def.id, 0);
    let mut old_leader = 0;
    for n in 1..=3 {
        let status = cluster.status(n).await.expect("status");
        if let Some(g) = status.groups.iter().find(|g| g.group == group) {
            if g.has_leader {
                old_leader = g.leader;
            }
        }
    }
    assert_ne!(old_leader, 0, "the partition has a leader");

    // The leader's partition groups hear nothing from the other nodes and reach none
    // of them; the routers and the cluster map still reach every node.
    let others: Vec<u64> = (1..=3).filter(|n| *n != old_leader).collect();
    cluster.cut_off_partitions(old_leader, &others).await;

    // Every write succeeds (the SDK's retries cover the election) while the cut lasts.
    tokio::time::timeout(
        Duration::from_secs(60),
        put_numbered(&client, TABLE, "during", 50),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "writes stalled while the old leader was cut off\n{}",
            cluster.output()
        )
    });
    let missing = missing_numbered(&client, TABLE, "during", 50).await;
    assert!(missing.is_empty(), "writes not found: {missing:?}");
    let missing = missing_numbered(&client, TABLE, "before", 20).await;
    assert!(missing.is_empty(), "earlier writes not found: {missing:?}");
}
