//! Local secondary indexes stay exact while their table's partitions split and move and
//! a node is killed: after each step, every artist's index entries, read through the
//! AWS SDK for Rust with strongly and eventually consistent queries (paged), are
//! exactly what the table's items imply: no entry missing, extra or stale.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as AV, KeySchemaElement, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, ScalarAttributeType,
};
use rotor_node::admin::fetch_map;
use rotor_tests::cluster::Cluster;
use rotor_tests::index_rounds::{write_round, Truth, ARTISTS};
use rotor_tests::{create_table_request, sdk_client_with_attempts};

const TABLE: &str = "lsi_moves";
const INDEX: &str = "by_album";

async fn create_indexed_table(client: &aws_sdk_dynamodb::Client) {
    create_table_request(client, TABLE, true)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("album")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(INDEX)
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("pk")
                        .key_type(KeyType::Hash)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("album")
                        .key_type(KeyType::Range)
                        .build()
                        .unwrap(),
                )
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("v")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create a table with a local index");
}

/// Every artist's index entries, read in pages of 7, against what `truth` implies.
async fn check_index(
    client: &aws_sdk_dynamodb::Client,
    truth: &Truth,
    consistent: bool,
    when: &str,
) {
    for a in 0..ARTISTS {
        let artist = format!("artist{a}");
        let mut expected: Vec<(String, u64, u64)> = truth
            .iter()
            .filter(|((who, _), _)| *who == artist)
            .filter_map(|((_, song), (album, v))| album.clone().map(|al| (al, *song, *v)))
            .collect();
        expected.sort();
        let mut got = Vec::new();
        let mut start = None;
        for _ in 0..100 {
            let page = client
                .query()
                .table_name(TABLE)
                .index_name(INDEX)
                .key_condition_expression("pk = :a")
                .expression_attribute_values(":a", AV::S(artist.clone()))
                .consistent_read(consistent)
                .limit(7)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{when}: query {artist}: {e:?}"));
            for item in page.items() {
                assert!(
                    !item.contains_key("other"),
                    "{when}: an unprojected attribute in the index: {item:?}"
                );
                let text = |name: &str| match item.get(name) {
                    Some(AV::S(s)) => s.clone(),
                    Some(AV::N(n)) => n.clone(),
                    other => panic!("{when}: {name} is {other:?} in {item:?}"),
                };
                got.push((
                    text("album"),
                    text("sk").parse::<u64>().unwrap(),
                    text("v").parse::<u64>().unwrap(),
                ));
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        assert_eq!(
            got,
            expected,
            "{when} ({}): {artist}'s index entries are not what the table implies",
            if consistent {
                "strongly consistent"
            } else {
                "eventually consistent"
            }
        );
    }
}

/// Waits until every replica of the table's partitions has caught up.
async fn settle(cluster: &Cluster) {
    for id in cluster.live_nodes() {
        cluster.wait_caught_up(id, Duration::from_secs(60)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_indexes_stay_exact_through_splits_moves_and_a_kill() {
    // A snapshot every 20 entries: replicas that move catch up by snapshot, which
    // carries the index entries with the items.
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start(3, &["--snapshot-every", "20"], &["--partitions", "1"])
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_indexed_table(&client).await;
    let mut truth = Truth::new();
    write_round(&client, TABLE, 0, &mut truth).await;
    check_index(&client, &truth, true, "after the first writes").await;

    // A split whose new half moves to a new node (it catches up by snapshot).
    let fourth = tokio::task::block_in_place(|| cluster.add_node());
    let child = rotor_node::admin::split(&cluster.node_addr(1), TABLE, 0, None, Some(vec![fourth]))
        .await
        .expect("split by hand");
    write_round(&client, TABLE, 1, &mut truth).await;
    check_index(&client, &truth, true, "after the split").await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert!(
        map.tables[TABLE].partitions.len() > child as usize,
        "the map lists the new half"
    );

    // A drain moves every replica off node 1.
    rotor_node::admin::drain(&cluster.node_addr(2), 1)
        .await
        .expect("drain node 1");
    write_round(&client, TABLE, 2, &mut truth).await;
    check_index(&client, &truth, true, "after the drain").await;

    // A replica killed and restarted catches up, index entries included.
    let map = fetch_map(&cluster.node_addr(2)).await.expect("map");
    let victim = map.tables[TABLE].partitions[0]
        .replicas
        .iter()
        .copied()
        .find(|r| *r != 1)
        .expect("a replica other than the drained node");
    tokio::task::block_in_place(|| cluster.kill_node(victim));
    write_round(&client, TABLE, 3, &mut truth).await;
    check_index(&client, &truth, true, "with a replica killed").await;
    tokio::task::block_in_place(|| cluster.restart_node(victim));
    settle(&cluster).await;
    for round in 0..3 {
        check_index(&client, &truth, false, &format!("settled, pass {round}")).await;
    }
    check_index(&client, &truth, true, "settled").await;
}
