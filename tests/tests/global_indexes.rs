//! Global secondary indexes stay exact while the base table's partitions and the
//! index's own partitions split and move, a node is drained and another killed and
//! restarted: writes keep changing every item's index key (entries move, leave and
//! come back), and after each step the index, read through the AWS SDK for Rust
//! (paged Scans and Queries of the index), converges to exactly what the table's items
//! imply: no entry missing, extra or stale.
//!
//! An index added later (UpdateTable) is backfilled while writes go on, a partition of
//! the table splits and a node holding its replicas is killed: once ACTIVE it too
//! holds exactly what the table implies; deleted, it is gone and checks nothing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as AV, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType,
};
use rotor_node::admin::fetch_map;
use rotor_tests::cluster::Cluster;
use rotor_tests::index_rounds::{write_round, Truth, ARTISTS, SONGS};
use rotor_tests::{create_table_request, sdk_client_with_attempts};

const TABLE: &str = "gsi_moves";
const INDEX: &str = "by_album";
/// How long the index may take to show the writes (it takes milliseconds when calm).
const CONVERGE: Duration = Duration::from_secs(60);

/// An index entry as read: (album, artist, song, v).
type Entry = (String, String, u64, u64);

fn index_table() -> String {
    format!("{TABLE}/{INDEX}")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn album_definition() -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name("album")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

/// The index's projection: its keys, the table's, and `v`.
fn projection() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::Include)
        .non_key_attributes("v")
        .build()
}

async fn create_indexed_table(client: &aws_sdk_dynamodb::Client) {
    create_table_request(client, TABLE, true)
        .attribute_definitions(album_definition())
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(INDEX)
                .key_schema(key("album", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .projection(projection())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create a table with a global index");
}

fn expected(truth: &Truth) -> BTreeSet<Entry> {
    truth
        .iter()
        .filter_map(|((artist, song), (album, v))| {
            album.clone().map(|al| (al, artist.clone(), *song, *v))
        })
        .collect()
}

fn entry_of(item: &std::collections::HashMap<String, AV>, when: &str) -> Entry {
    assert!(
        !item.contains_key("other"),
        "{when}: an unprojected attribute in the index: {item:?}"
    );
    let text = |name: &str| match item.get(name) {
        Some(AV::S(s)) => s.clone(),
        Some(AV::N(n)) => n.clone(),
        other => panic!("{when}: {name} is {other:?} in {item:?}"),
    };
    (
        text("album"),
        text("pk"),
        text("sk").parse().unwrap(),
        text("v").parse().unwrap(),
    )
}

/// The whole index, by a Scan in pages of 25.
async fn scan_index(client: &aws_sdk_dynamodb::Client, when: &str) -> Vec<Entry> {
    let mut got = Vec::new();
    let mut start = None;
    for _ in 0..1000 {
        let page = client
            .scan()
            .table_name(TABLE)
            .index_name(INDEX)
            .limit(25)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{when}: scan the index: {e:?}"));
        got.extend(page.items().iter().map(|i| entry_of(i, when)));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    got
}

/// One album's entries, by a Query in pages of 7, in index order (by song).
async fn query_album(client: &aws_sdk_dynamodb::Client, album: &str, when: &str) -> Vec<Entry> {
    let mut got = Vec::new();
    let mut start = None;
    for _ in 0..1000 {
        let page = client
            .query()
            .table_name(TABLE)
            .index_name(INDEX)
            .key_condition_expression("album = :a")
            .expression_attribute_values(":a", AV::S(album.to_owned()))
            .limit(7)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{when}: query {album}: {e:?}"));
        got.extend(page.items().iter().map(|i| entry_of(i, when)));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    got
}

/// Waits (bounded) until the index holds exactly what `truth` implies, each entry
/// once; then checks every album's Query gives its entries in index order.
async fn converges(client: &aws_sdk_dynamodb::Client, truth: &Truth, when: &str) {
    let want = expected(truth);
    let deadline = Instant::now() + CONVERGE;
    loop {
        let got = scan_index(client, when).await;
        let unique: BTreeSet<Entry> = got.iter().cloned().collect();
        if unique.len() == got.len() && unique == want {
            break;
        }
        if Instant::now() >= deadline {
            let missing: Vec<_> = want.difference(&unique).take(5).collect();
            let extra: Vec<_> = unique.difference(&want).take(5).collect();
            panic!(
                "{when}: the index did not converge in {CONVERGE:?}: {} entries read ({} distinct), {} expected; missing {missing:?}, extra or stale {extra:?}",
                got.len(),
                unique.len(),
                want.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for a in 0..11 {
        let album = format!("album{a}");
        let mut want: Vec<Entry> = want.iter().filter(|e| e.0 == album).cloned().collect();
        want.sort_by_key(|e| e.2);
        let got = query_album(client, &album, when).await;
        let mut by_song = got.clone();
        by_song.sort_by_key(|e| e.2);
        assert_eq!(got, by_song, "{when}: {album}'s entries are in index order");
        assert_eq!(
            got.iter().cloned().collect::<BTreeSet<_>>(),
            want.into_iter().collect::<BTreeSet<_>>(),
            "{when}: {album}'s entries"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_indexes_stay_exact_through_splits_moves_a_drain_and_a_kill() {
    // A snapshot every 20 entries: replicas that move catch up by snapshot, which
    // carries the change log and the index records with the items.
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start(3, &["--snapshot-every", "20"], &["--partitions", "1"])
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_indexed_table(&client).await;
    let mut truth = Truth::new();
    write_round(&client, TABLE, 0, &mut truth).await;
    converges(&client, &truth, "after the first writes").await;

    // The base table's partition splits; its new half moves to a new node.
    let fourth = tokio::task::block_in_place(|| cluster.add_node());
    rotor_node::admin::split(&cluster.node_addr(1), TABLE, 0, None, Some(vec![fourth]))
        .await
        .expect("split the table by hand");
    write_round(&client, TABLE, 1, &mut truth).await;
    converges(&client, &truth, "after the table's split").await;

    // The index's own partition splits too; its new half moves to the new node.
    let child = rotor_node::admin::split(
        &cluster.node_addr(1),
        &index_table(),
        0,
        None,
        Some(vec![fourth]),
    )
    .await
    .expect("split the index by hand");
    write_round(&client, TABLE, 2, &mut truth).await;
    converges(&client, &truth, "after the index's split").await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert!(
        map.tables[&index_table()].partitions.len() > child as usize,
        "the map lists the index's new half"
    );
    assert_eq!(map.tables[TABLE].partitions.len(), 2);

    // A drain moves every replica, of the table and of the index, off node 1.
    rotor_node::admin::drain(&cluster.node_addr(2), 1)
        .await
        .expect("drain node 1");
    write_round(&client, TABLE, 3, &mut truth).await;
    converges(&client, &truth, "after the drain").await;

    // A node holding replicas of both is killed while writes go on, then restarted.
    let map = fetch_map(&cluster.node_addr(2)).await.expect("map");
    let victim = map.tables[&index_table()].partitions[0]
        .replicas
        .iter()
        .copied()
        .find(|r| *r != 1)
        .expect("a replica other than the drained node");
    tokio::task::block_in_place(|| cluster.kill_node(victim));
    write_round(&client, TABLE, 4, &mut truth).await;
    converges(&client, &truth, "with a replica killed").await;
    tokio::task::block_in_place(|| cluster.restart_node(victim));
    write_round(&client, TABLE, 5, &mut truth).await;
    converges(&client, &truth, "after the restart").await;

    // `rotor admin status` shows each table partition's index lag: none once idle.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let map = fetch_map(&cluster.node_addr(2)).await.expect("map");
        let mut statuses = std::collections::HashMap::new();
        for id in map.nodes.keys() {
            statuses.insert(*id, cluster.status(*id).await);
        }
        let report = rotor_node::admin::render_status(&map, &statuses);
        let lines: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with(&format!("{TABLE} ")) && l.contains("0x"))
            .collect();
        if lines.len() == 2 && lines.iter().all(|l| l.contains(" index lag 0")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the status report does not show the index caught up:\n{report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Songs written before the index is added, beyond the rounds' (several backfill
/// pages per partition).
const FILLER: u64 = 1_500;

/// Writes the filler songs (albums like the rounds') and records them in `truth`.
async fn fill(client: &aws_sdk_dynamodb::Client, truth: &mut Truth) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let songs: Vec<u64> = (SONGS..SONGS + FILLER).collect();
    for chunk in songs.chunks(25) {
        let mut requests = Vec::new();
        for &song in chunk {
            let artist = format!("artist{}", song % ARTISTS);
            let album = format!("album{}", song % 11);
            let item = PutRequest::builder()
                .item("pk", AV::S(artist.clone()))
                .item("sk", AV::N(song.to_string()))
                .item("v", AV::N("100".into()))
                .item("album", AV::S(album.clone()))
                .item("other", AV::S("not projected".into()))
                .build()
                .unwrap();
            requests.push(WriteRequest::builder().put_request(item).build());
            truth.insert((artist, song), (Some(album), 100));
        }
        let reply = client
            .batch_write_item()
            .request_items(TABLE, requests)
            .send()
            .await
            .expect("write the filler");
        assert!(
            reply.unprocessed_items().is_none_or(|u| u.is_empty()),
            "filler left unprocessed"
        );
    }
}

/// The index's status and backfilling flag, as DescribeTable gives them.
async fn index_status(client: &aws_sdk_dynamodb::Client) -> Option<(String, bool)> {
    let table = client
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("describe the table");
    let table = table.table().expect("a table description");
    table
        .global_secondary_indexes()
        .iter()
        .find(|g| g.index_name() == Some(INDEX))
        .map(|g| {
            (
                g.index_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                g.backfilling().unwrap_or(false),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_added_later_is_backfilled_exactly_through_a_split_and_a_kill() {
    use aws_sdk_dynamodb::types::{
        CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
        GlobalSecondaryIndexUpdate,
    };
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start(3, &["--snapshot-every", "50"], &["--partitions", "2"])
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table_request(&client, TABLE, true)
        .send()
        .await
        .expect("create a table without indexes");
    let mut truth = Truth::new();
    write_round(&client, TABLE, 0, &mut truth).await;
    fill(&client, &mut truth).await;

    let create = GlobalSecondaryIndexUpdate::builder()
        .create(
            CreateGlobalSecondaryIndexAction::builder()
                .index_name(INDEX)
                .key_schema(key("album", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .projection(projection())
                .build()
                .unwrap(),
        )
        .build();
    client
        .update_table()
        .table_name(TABLE)
        .attribute_definitions(album_definition())
        .global_secondary_index_updates(create)
        .send()
        .await
        .expect("add the index");
    assert_eq!(
        index_status(&client).await,
        Some(("CREATING".to_owned(), true)),
        "a new index starts CREATING, backfilling"
    );

    // While it backfills: writes that move entries, a split of the table's first
    // partition (its half moving to a new node), and a node of the table killed.
    let writer = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut written = Truth::new();
            for round in 1..=3 {
                write_round(&client, TABLE, round, &mut written).await;
            }
            written
        })
    };
    let fourth = tokio::task::block_in_place(|| cluster.add_node());
    rotor_node::admin::split(&cluster.node_addr(1), TABLE, 0, None, Some(vec![fourth]))
        .await
        .expect("split the table during the backfill");
    tokio::task::block_in_place(|| cluster.kill_node(2));
    let written = writer.await.expect("the writer");
    truth.extend(written);
    tokio::task::block_in_place(|| cluster.restart_node(2));

    let deadline = Instant::now() + CONVERGE;
    loop {
        match index_status(&client).await {
            Some((status, _)) if status == "ACTIVE" => break,
            Some((status, backfilling)) => {
                assert_eq!((status.as_str(), backfilling), ("CREATING", true));
            }
            None => panic!("the index is gone"),
        }
        assert!(
            Instant::now() < deadline,
            "the index did not become ACTIVE in {CONVERGE:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    converges(&client, &truth, "after the backfill").await;
    write_round(&client, TABLE, 4, &mut truth).await;
    converges(&client, &truth, "with writes after the backfill").await;

    // Deleted: gone from the table, its data from the map, its key types unchecked.
    client
        .update_table()
        .table_name(TABLE)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name(INDEX)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .expect("delete the index");
    assert_eq!(index_status(&client).await, None);
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert!(!map.tables.contains_key(&index_table()));
    let deadline = Instant::now() + CONVERGE;
    loop {
        let put = client
            .put_item()
            .table_name(TABLE)
            .item("pk", AV::S("artist0".into()))
            .item("sk", AV::N("0".into()))
            .item("album", AV::N("7".into()))
            .send()
            .await;
        match put {
            Ok(_) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "a number album is still refused after the index was deleted: {e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
