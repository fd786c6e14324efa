//! WarmThroughput: CreateTable makes a table with as many partitions as serve the
//! requested rate at once; UpdateTable raises it by splitting the table while clients
//! keep writing (the table is UPDATING until every new partition is where it was
//! placed), and DescribeTable shows what the partitions serve. With `--no-autoscale`:
//! these splits are asked for, not decided by load. (Small per-partition capacities,
//! so that a few partitions make a difference.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{TableStatus, WarmThroughput};
use rotor_model::cluster::ClusterMap;
use rotor_model::table::UnitsPerSecond;
use rotor_node::admin::fetch_map;
use rotor_tests::cluster::Cluster;
use rotor_tests::{
    create_table_request, missing_numbered, put_numbered, sdk_client_with_attempts,
    spawn_numbered_writer,
};

const TABLE: &str = "warm_items";
const WRITES: u64 = 400;

/// 300 RCU and 100 WCU per partition, measured every half second, no load splits.
const NODE_ARGS: [&str; 6] = [
    "--partition-rcu",
    "300",
    "--partition-wcu",
    "100",
    "--autoscale-interval-secs",
    "0.5",
];

fn warm(read: Option<i64>, write: Option<i64>) -> WarmThroughput {
    WarmThroughput::builder()
        .set_read_units_per_second(read)
        .set_write_units_per_second(write)
        .build()
}

fn partitions(map: &ClusterMap) -> usize {
    map.tables.get(TABLE).map_or(0, |t| t.partitions.len())
}

/// How many replicas each node holds, of every table.
fn replicas_per_node(map: &ClusterMap) -> BTreeMap<u64, usize> {
    let mut out: BTreeMap<u64, usize> = map.nodes.keys().map(|n| (*n, 0)).collect();
    for t in map.tables.values() {
        for p in &t.partitions {
            for r in &p.replicas {
                *out.entry(*r).or_default() += 1;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_throughput_pre_splits_a_table_and_raising_it_splits_under_write_load() {
    let mut node_args = NODE_ARGS.to_vec();
    node_args.push("--no-autoscale");
    let cluster =
        tokio::task::block_in_place(|| Cluster::start(4, &node_args, &["--partitions", "2"]));
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);

    // The metadata leader publishes its per-partition capacity once it leads.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let map = fetch_map(&cluster.node_addr(1)).await.ok();
        if map.is_some_and(|m| {
            m.partition_capacity
                == Some(UnitsPerSecond {
                    read: 300,
                    write: 100,
                })
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the per-partition capacity never reached the map\n{}",
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 500 WCU/s at once: five partitions of 100 (the router's default is two).
    let created = create_table_request(&client, TABLE, false)
        .warm_throughput(warm(None, Some(500)))
        .send()
        .await
        .expect("create table");
    let shown = created
        .table_description()
        .and_then(|t| t.warm_throughput())
        .expect("WarmThroughput in the TableDescription");
    assert_eq!(shown.write_units_per_second(), Some(500));
    assert_eq!(shown.read_units_per_second(), Some(1500));
    assert_eq!(shown.status(), Some(&TableStatus::Active));
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert_eq!(partitions(&map), 5, "made with five partitions");

    put_numbered(&client, TABLE, "pre", 300).await;
    let writer = spawn_numbered_writer(
        client.clone(),
        TABLE,
        "w",
        WRITES,
        Duration::from_millis(10),
        Duration::from_secs(90),
    );

    // Raise it to 1,200 WCU/s: twelve partitions; the table is UPDATING meanwhile.
    let updated = client
        .update_table()
        .table_name(TABLE)
        .warm_throughput(warm(None, Some(1200)))
        .send()
        .await
        .expect("update table");
    let description = updated.table_description().expect("description");
    assert_eq!(description.table_status(), Some(&TableStatus::Updating));
    assert_eq!(
        description.warm_throughput().and_then(|w| w.status()),
        Some(&TableStatus::Updating)
    );

    let started = Instant::now();
    let settled = loop {
        let table = client
            .describe_table()
            .table_name(TABLE)
            .send()
            .await
            .expect("describe")
            .table
            .expect("table");
        if table.table_status() == Some(&TableStatus::Active) {
            break table;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "still {:?} after 120 s\n{}",
            table.table_status(),
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed();
    let shown = settled.warm_throughput().expect("warm throughput");
    assert!(
        shown.write_units_per_second().unwrap_or(0) >= 1200,
        "ACTIVE but warm at {shown:?}"
    );
    assert_eq!(shown.status(), Some(&TableStatus::Active));
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    assert!(partitions(&map) >= 12, "{} partitions", partitions(&map));
    assert!(!map.table_moving(TABLE), "ACTIVE while partitions move");
    // The new partitions went to the nodes with fewest replicas.
    let counts = replicas_per_node(&map);
    let most = counts.values().max().copied().unwrap_or(0);
    let fewest = counts.values().min().copied().unwrap_or(0);
    assert!(
        most - fewest <= 4,
        "replicas unevenly spread after the splits: {counts:?}"
    );
    println!(
        "warm throughput 500 -> 1200 WCU/s: {} partitions, ACTIVE after {:.1} s, replicas per node {counts:?}",
        partitions(&map),
        took.as_secs_f64()
    );

    let (written, failures) = writer.await.expect("writer");
    assert!(
        failures.is_empty(),
        "writes failed while the table split: {failures:?}"
    );
    for (prefix, count) in [("pre", 300u64), ("w", written)] {
        let missing = missing_numbered(&client, TABLE, prefix, count).await;
        assert!(missing.is_empty(), "lost after the splits: {missing:?}");
    }
    let scanned = client
        .scan()
        .table_name(TABLE)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .expect("scan");
    assert_eq!(scanned.count(), (300 + written) as i32, "scan after splits");

    // Warm throughput only rises, and a table may ask for no more than 256 partitions.
    let lower = client
        .update_table()
        .table_name(TABLE)
        .warm_throughput(warm(None, Some(600)))
        .send()
        .await
        .expect_err("lowering warm throughput");
    let text = format!("{:?}", lower.into_service_error());
    assert!(
        text.contains("ValidationException") && text.contains("can only be increased"),
        "{text}"
    );
    let too_much = client
        .update_table()
        .table_name(TABLE)
        .warm_throughput(warm(None, Some(100 * 300)))
        .send()
        .await
        .expect_err("more than 256 partitions");
    let text = format!("{:?}", too_much.into_service_error());
    assert!(
        text.contains("ValidationException") && text.contains("at most 256"),
        "{text}"
    );
}
