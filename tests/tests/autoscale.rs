//! The autoscaler splits a partition that stays above its target utilisation and moves
//! the new half to the least loaded nodes, while clients keep writing: no request
//! fails and no acknowledged write is lost. A partition whose load is one partition key
//! is reported, not split. (Shortened window and capacities: seconds, not minutes.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue as AV;
use rotor_model::cluster::ClusterMap;
use rotor_node::admin::{fetch_map, render_status};
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, sdk_client_with_attempts};

const TABLE: &str = "hot_items";
/// Writers, each owning its keys (so the last value it saw acknowledged is the one to read).
const WRITERS: usize = 4;
const KEYS_PER_WRITER: usize = 10;

/// Autoscaler settings for tests: a 3 s window, measured every 0.5 s, 20 WCU per
/// partition (target 70%: 14 WCU/s is hot).
const AUTOSCALE: [&str; 8] = [
    "--autoscale-window-secs",
    "3",
    "--autoscale-interval-secs",
    "0.5",
    "--partition-wcu",
    "20",
    "--partition-rcu",
    "60",
];

/// A write refused because its partition is over its own limit (DynamoDB's hot key
/// range throttling, until the range is split): refused before anything was done.
fn key_range_throttled(
    e: &aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
) -> bool {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ThrottlingException(t)) => t
            .throttling_reasons()
            .iter()
            .any(|r| r.reason() == Some("TableWriteKeyRangeThroughputExceeded")),
        _ => false,
    }
}

fn table_partitions(map: &ClusterMap) -> usize {
    map.tables.get(TABLE).map_or(0, |t| t.partitions.len())
}

/// The first split's halves, once the new half has moved where it was pinned:
/// (parent replicas, child replicas).
fn moved_split(map: &ClusterMap) -> Option<(Vec<u64>, Vec<u64>)> {
    let entry = map.tables.get(TABLE)?;
    let child = entry.partitions.get(1)?;
    let parent = entry.partitions.get(child.split_from? as usize)?;
    let pinned = child.pinned.as_ref()?;
    (&child.replicas == pinned).then(|| (parent.replicas.clone(), child.replicas.clone()))
}

/// The whole map's status report, as `rotor admin status` prints it.
async fn status_report(cluster: &Cluster, map: &ClusterMap) -> String {
    let mut statuses = std::collections::HashMap::new();
    for id in map.nodes.keys() {
        statuses.insert(*id, cluster.status(*id).await);
    }
    render_status(map, &statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_partition_splits_and_its_new_half_moves_without_a_failed_request() {
    let cluster =
        tokio::task::block_in_place(|| Cluster::start(4, &AUTOSCALE, &["--partitions", "1"]));
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 10);
    create_table(&client, TABLE, false).await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert_eq!(
        table_partitions(&map),
        1,
        "the table starts as one partition"
    );

    // Writers hammer a hot range of keys (every key of this table) until the split has
    // happened and its new half has moved, bounded in time and count.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = client.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut acked: BTreeMap<String, u64> = BTreeMap::new();
            let mut failures = Vec::new();
            let mut throttled = 0u64;
            let started = Instant::now();
            for seq in 0..20_000u64 {
                if stop.load(std::sync::atomic::Ordering::Relaxed)
                    || started.elapsed() > Duration::from_secs(90)
                {
                    break;
                }
                let key = format!("hot-{w}-{}", seq as usize % KEYS_PER_WRITER);
                let put = client
                    .put_item()
                    .table_name(TABLE)
                    .item("pk", AV::S(key.clone()))
                    .item("seq", AV::N(seq.to_string()))
                    .send()
                    .await;
                match put {
                    Ok(_) => {
                        acked.insert(key, seq);
                    }
                    // Over the partition's own limit until it is split, as in DynamoDB
                    // (the SDK's retries ran out): not applied, not a failure of the split.
                    Err(e) if key_range_throttled(&e) => throttled += 1,
                    Err(e) => failures.push(format!("{key} seq {seq}: {e:?}")),
                }
            }
            (acked, failures, throttled)
        }));
    }

    // The halves stay hot, so they split again: wait for a split of a split, and for
    // every new half to sit where it was pinned.
    let started = Instant::now();
    let (parent, child) = loop {
        if let Ok(map) = fetch_map(&cluster.node_addr(1)).await {
            let all_moved = map.tables.get(TABLE).is_some_and(|t| {
                t.partitions
                    .iter()
                    .all(|p| p.pinned.as_ref().is_none_or(|pin| pin == &p.replicas))
            });
            if let Some(halves) = moved_split(&map) {
                if all_moved && table_partitions(&map) >= 4 {
                    break halves;
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(75),
            "no split of a split, with every half moved, within 75 s\n{}",
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed();
    // Keep writing a little while the halves serve on their new nodes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let mut acked = BTreeMap::new();
    let mut failures = Vec::new();
    let mut writes = 0usize;
    let mut throttled = 0u64;
    for w in writers {
        let (a, f, t) = w.await.expect("writer");
        writes += a.len();
        acked.extend(a);
        failures.extend(f);
        throttled += t;
    }
    if !failures.is_empty() {
        let log = std::env::temp_dir().join("rotor-autoscale-test.log");
        let _ = std::fs::write(&log, cluster.output());
        panic!(
            "{} writes failed during the split and move, e.g. {:?}\n(the processes' logs: {})",
            failures.len(),
            &failures[..failures.len().min(3)],
            log.display()
        );
    }
    assert_ne!(
        parent, child,
        "the split's halves are on the same nodes: the new half did not move"
    );
    assert!(
        child.iter().any(|n| !parent.contains(n)),
        "the new half {child:?} gained no node the parent {parent:?} lacks"
    );

    // Every acknowledged write reads back, strongly and from a scan across the halves.
    for (key, seq) in &acked {
        let got = client
            .get_item()
            .table_name(TABLE)
            .key("pk", AV::S(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .expect("get after the split");
        let item = got
            .item()
            .unwrap_or_else(|| panic!("{key} lost after the split"));
        assert_eq!(
            item.get("seq"),
            Some(&AV::N(seq.to_string())),
            "{key}: the last acknowledged write is not what reads back"
        );
    }
    let mut scanned = 0usize;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(TABLE)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .limit(7)
            .send()
            .await
            .expect("scan");
        scanned += page.items().len();
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert_eq!(
        scanned,
        acked.len(),
        "a scan across the halves misses items"
    );
    let described = client
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        described.table().and_then(|t| t.item_count()),
        Some(acked.len() as i64),
        "ItemCount after the split"
    );

    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    let report = status_report(&cluster, &map).await;
    assert!(
        report.contains("split from 0") && report.contains("split at token"),
        "rotor admin status shows no split:\n{report}"
    );
    let entry = &map.tables[TABLE];
    assert!(
        entry
            .partitions
            .iter()
            .any(|p| p.split_from.is_some_and(|parent| parent != 0)),
        "no half was split again:\n{report}"
    );
    println!(
        "split and move of the hot partition done {:.1} s into the load ({} partitions now); {writes} keys, no failed write ({throttled} throttled past the SDK's retries for their key range's limit); halves on {parent:?} and {child:?}\n{report}",
        took.as_secs_f64(),
        table_partitions(&map)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hot_key_is_reported_not_split() {
    let cluster =
        tokio::task::block_in_place(|| Cluster::start(3, &AUTOSCALE, &["--partitions", "1"]));
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 10);
    create_table(&client, "one_key", false).await;
    let started = Instant::now();
    let mut reported = None;
    let mut seq = 0u64;
    // One key, written as fast as one client can, for at most 40 s.
    while started.elapsed() < Duration::from_secs(40) {
        for _ in 0..50 {
            put_one_key(&client, seq).await;
            seq += 1;
        }
        let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
        let report = status_report(&cluster, &map).await;
        if report.contains("one partition key") {
            reported = Some((map, report));
            break;
        }
    }
    let (map, report) = reported.unwrap_or_else(|| {
        panic!(
            "no hot-key report within 40 s ({seq} writes)\n{}",
            cluster.output()
        )
    });
    assert_eq!(
        map.tables["one_key"].partitions.len(),
        1,
        "a single hot key was split:\n{report}"
    );
    // Still not split a few windows later.
    for _ in 0..200 {
        put_one_key(&client, seq).await;
        seq += 1;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert_eq!(map.tables["one_key"].partitions.len(), 1);
}

/// Writes the one hot key; a write over its partition's own limit is throttled, as in
/// DynamoDB (a single key can never be split out of that).
async fn put_one_key(client: &aws_sdk_dynamodb::Client, seq: u64) {
    let put = client
        .put_item()
        .table_name("one_key")
        .item("pk", AV::S("the-one".into()))
        .item("seq", AV::N(seq.to_string()))
        .send()
        .await;
    if let Err(e) = put {
        assert!(key_range_throttled(&e), "put: {e:?}");
    }
}
