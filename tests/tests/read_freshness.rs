//! Eventually consistent reads never come from a replica that holds nothing yet: a new
//! replica still catching up (a node joined) and a split's half that is not seeded yet
//! stay out of the read rotation, and a client reads its own writes across a split.
//! The window is narrow in normal operation, so each test holds the replica back with
//! fault injection (`partitions_only` drops: the node keeps following the map).

use std::time::{Duration, Instant};

use rotor_model::cluster::ClusterMap;
use rotor_node::admin::fetch_map;
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, missing_numbered_read, put_numbered, sdk_client_with_attempts};

/// Longer than a replica's wait before it serves what it has after opening (5 s).
const PAST_STALE_WAIT: Duration = Duration::from_secs(7);

/// Reads `{prefix}0..count` eventually consistently `rounds` times through `client`;
/// panics naming the items a round missed.
async fn assert_all_found(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
    count: u64,
    rounds: usize,
    who: &str,
) {
    for round in 0..rounds {
        let missing = missing_numbered_read(client, table, prefix, count, false).await;
        assert!(
            missing.is_empty(),
            "round {round}: {who} missed {} items that exist: {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
    }
}

/// Waits until node 1's map satisfies `ready`; returns that map.
async fn wait_map(
    cluster: &Cluster,
    what: &str,
    ready: impl Fn(&ClusterMap) -> bool,
) -> ClusterMap {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(map) = fetch_map(&cluster.node_addr(1)).await {
            if ready(&map) {
                return map;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} within 60 s\n{}",
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_replica_held_back_from_catching_up_answers_no_reads() {
    const TABLE: &str = "joining_reads";
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start_with_fault_injection(3, &[], &["--partitions", "4"])
    });
    let writer = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table(&writer, TABLE, false).await;
    put_numbered(&writer, TABLE, "pre", 200).await;

    // Node 4's partition replicas will hear nothing: they open empty and stay learners.
    for n in 1..=3 {
        cluster
            .set_peer_faults(
                n,
                r#"{"peers": {"4": {"drop_fraction": 1.0, "partitions_only": true}}}"#,
            )
            .await;
    }
    let joined = tokio::task::block_in_place(|| cluster.add_node());
    wait_map(&cluster, "the map lists the new node as a replica", |m| {
        m.tables
            .get(TABLE)
            .is_some_and(|t| t.partitions.iter().any(|p| p.replicas.contains(&joined)))
    })
    .await;
    tokio::time::sleep(PAST_STALE_WAIT).await;

    // A router that never wrote (no read-your-writes index) reads every item twice,
    // its round robin passing the new replica for each partition it lists.
    let reader_router = tokio::task::block_in_place(|| cluster.add_router());
    let reader = sdk_client_with_attempts(&cluster.endpoint(reader_router), 12);
    assert_all_found(&reader, TABLE, "pre", 200, 2, "a router that never wrote").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unseeded_split_half_answers_no_reads_and_clients_read_their_writes() {
    const TABLE: &str = "splitting_reads";
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start_with_fault_injection(4, &[], &["--partitions", "1"])
    });
    let writer = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table(&writer, TABLE, false).await;
    put_numbered(&writer, TABLE, "pre", 200).await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    let parent = map.tables[TABLE].partitions[0].replicas.clone();
    let spare = (1..=4)
        .find(|n| !parent.contains(n))
        .expect("a node without the table");

    // The node that will receive the split's new half hears nothing from its group:
    // its copy opens holding none of the half's items and stays so.
    for n in (1..=4).filter(|n| *n != spare) {
        let rules = format!(
            r#"{{"peers": {{"{spare}": {{"drop_fraction": 1.0, "partitions_only": true}}}}}}"#
        );
        cluster.set_peer_faults(n, &rules).await;
    }
    // Writes the writer reads back after the split, from whichever half holds them.
    put_numbered(&writer, TABLE, "mine", 100).await;

    let place = vec![spare, parent[0], parent[1]];
    rotor_node::admin::split(&cluster.node_addr(1), TABLE, 0, None, Some(place))
        .await
        .expect("split by hand");
    wait_map(
        &cluster,
        "the map lists the spare node for the new half",
        |m| {
            m.tables
                .get(TABLE)
                .and_then(|t| t.partitions.get(1))
                .is_some_and(|p| p.replicas.contains(&spare))
        },
    )
    .await;
    tokio::time::sleep(PAST_STALE_WAIT).await;

    assert_all_found(
        &writer,
        TABLE,
        "mine",
        100,
        1,
        "the writer, after the split,",
    )
    .await;
    // A router that never wrote finds every item that existed before.
    let reader_router = tokio::task::block_in_place(|| cluster.add_router());
    let reader = sdk_client_with_attempts(&cluster.endpoint(reader_router), 12);
    assert_all_found(&reader, TABLE, "pre", 200, 2, "a router that never wrote").await;
}
