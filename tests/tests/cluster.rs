//! The replicated cluster's guarantees, each against real processes: `rotor node` ×3 and
//! `rotor router`, with `kill -9` of nodes and routers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue as AV;
use aws_sdk_dynamodb::Client;
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, sdk_client_with_attempts};

const TABLE: &str = "cluster_items";

async fn put(client: &Client, key: &str, value: u64) -> Result<(), String> {
    client
        .put_item()
        .table_name(TABLE)
        .item("pk", AV::S(key.to_owned()))
        .item("v", AV::N(value.to_string()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

async fn get(client: &Client, key: &str, consistent: bool) -> Result<Option<u64>, String> {
    let out = client
        .get_item()
        .table_name(TABLE)
        .key("pk", AV::S(key.to_owned()))
        .consistent_read(consistent)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(out.item.and_then(|i| {
        i.get("v")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
    }))
}

/// Checks that every acknowledged write reads back (strongly consistent).
async fn check_all(client: &Client, acked: &BTreeMap<String, u64>, cluster: &Cluster) {
    for (k, v) in acked {
        let got = get(client, k, true).await;
        assert_eq!(
            got,
            Ok(Some(*v)),
            "acknowledged write {k}={v} lost\n{}",
            cluster.output()
        );
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill9_of_each_node_and_of_all() {
    let mut cluster = blocking(|| Cluster::start(3, &[], &[]));
    let client = cluster.client(0);
    create_table(&client, TABLE, false).await;
    let mut acked = BTreeMap::new();
    for i in 0..60u64 {
        let k = format!("before-{i}");
        put(&client, &k, i).await.expect("put before faults");
        acked.insert(k, i);
    }

    let mut failovers = Vec::new();
    for round in 0..3u64 {
        // Kill the node leading the most partitions: every write to those partitions
        // waits for an election.
        let victim = cluster.busiest_leader().await;
        let killed = Instant::now();
        blocking(|| cluster.kill_node(victim));
        let mut slowest = Duration::ZERO;
        for i in 0..40u64 {
            let k = format!("round{round}-{i}");
            let started = Instant::now();
            put(&client, &k, i).await.unwrap_or_else(|e| {
                panic!(
                    "write with node {victim} down failed: {e}\n{}",
                    cluster.output()
                )
            });
            slowest = slowest.max(started.elapsed());
            acked.insert(k, i);
        }
        // Strongly consistent reads continue too.
        check_all(&client, &acked, &cluster).await;
        let recovered = killed.elapsed();
        println!(
            "failover: node {victim} (leading the most partitions) killed; slowest write {:.0} ms; 40 writes and {} consistent reads done {:.2} s after the kill",
            slowest.as_secs_f64() * 1000.0,
            acked.len(),
            recovered.as_secs_f64()
        );
        failovers.push(slowest);
        blocking(|| cluster.restart_node(victim));
        let took = cluster
            .wait_caught_up(victim, Duration::from_secs(60))
            .await;
        println!(
            "node {victim} restarted and caught up in {:.2} s",
            took.as_secs_f64()
        );
    }

    // Every node killed at once, then restarted: nothing acknowledged is lost.
    blocking(|| {
        for id in 1..=3 {
            cluster.kill_node(id);
        }
        for id in 1..=3 {
            cluster.restart_node(id);
        }
    });
    // Eventually consistent reads first: a restarted replica must not answer from a
    // state older than what it had acknowledged (its applied tail is not synced).
    for (k, v) in &acked {
        let got = get(&client, k, false).await;
        assert_eq!(
            got,
            Ok(Some(*v)),
            "eventually consistent read of {k} after a restart of every node\n{}",
            cluster.output()
        );
    }
    check_all(&client, &acked, &cluster).await;
    let max = failovers.iter().max().copied().unwrap_or_default();
    println!(
        "failover times (slowest write after a leader's kill -9): {:?} ms; max {:.0} ms",
        failovers.iter().map(|d| d.as_millis()).collect::<Vec<_>>(),
        max.as_secs_f64() * 1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventually_consistent_reads_answer_with_two_replicas_down() {
    let mut cluster = blocking(|| Cluster::start(3, &[], &["--request-deadline-secs", "2"]));
    let client = cluster.client(0);
    create_table(&client, TABLE, false).await;
    for i in 0..40u64 {
        put(&client, &format!("k{i}"), i).await.expect("put");
    }
    for id in 1..=3 {
        cluster.wait_caught_up(id, Duration::from_secs(30)).await;
    }
    blocking(|| {
        cluster.kill_node(1);
        cluster.kill_node(2);
    });
    for i in 0..40u64 {
        let got = get(&client, &format!("k{i}"), false).await;
        assert_eq!(
            got,
            Ok(Some(i)),
            "eventually consistent read of k{i} with two nodes down"
        );
    }
    // A strongly consistent read cannot be served without a quorum: it fails, it does
    // not answer from a lone replica.
    let single_try = sdk_client_with_attempts(&cluster.endpoint(0), 1);
    let strong = get(&single_try, "k1", true).await;
    assert!(
        strong
            .as_ref()
            .is_err_and(|e| e.contains("ServiceUnavailable") || e.contains("503")),
        "strong read without quorum answered {strong:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_compacted_log_catches_up_by_snapshot() {
    let mut cluster = blocking(|| Cluster::start(3, &["--snapshot-every", "20"], &[]));
    let client = cluster.client(0);
    create_table(&client, TABLE, false).await;
    for i in 0..10u64 {
        put(&client, &format!("early{i}"), i).await.expect("put");
    }
    blocking(|| cluster.kill_node(3));
    // Far more entries per partition than the leaders keep after a snapshot.
    for i in 0..240u64 {
        put(&client, &format!("late{i}"), i)
            .await
            .expect("put with node 3 down");
    }
    blocking(|| cluster.restart_node(3));
    let took = cluster.wait_caught_up(3, Duration::from_secs(60)).await;
    println!("node 3 caught up 250 writes in {:.2} s", took.as_secs_f64());
    assert!(
        cluster.node_output(3).contains("snapshot installed"),
        "node 3 caught up without a snapshot:\n{}",
        cluster.node_output(3)
    );
    // Only node 3 left: its copy alone must hold every write.
    blocking(|| {
        cluster.kill_node(1);
        cluster.kill_node(2);
    });
    for i in 0..10u64 {
        assert_eq!(get(&client, &format!("early{i}"), false).await, Ok(Some(i)));
    }
    for i in 0..240u64 {
        assert_eq!(
            get(&client, &format!("late{i}"), false).await,
            Ok(Some(i)),
            "late{i} missing on node 3"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_are_killed_and_restarted_under_load() {
    let mut cluster = blocking(|| Cluster::start(3, &[], &[]));
    let second = blocking(|| cluster.add_router());
    let admin = cluster.client(second);
    create_table(&admin, TABLE, false).await;
    // The SDK retries connection errors; with enough attempts a client rides over a
    // router restart.
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    let writer = tokio::spawn(async move {
        let mut failures = Vec::new();
        for i in 0..300u64 {
            if let Err(e) = put(&client, &format!("r{i}"), i).await {
                failures.push(format!("r{i}: {e}"));
            }
        }
        failures
    });
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        blocking(|| cluster.kill_router(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
        blocking(|| cluster.restart_router(0));
    }
    let failures = writer.await.expect("writer");
    assert!(
        failures.is_empty(),
        "requests failed across router restarts: {failures:?}"
    );
    for i in 0..300u64 {
        assert_eq!(get(&admin, &format!("r{i}"), true).await, Ok(Some(i)));
    }
}

/// Regression: DescribeTable right after CreateTable used to fail with 503 while the
/// nodes had not yet opened the new partitions (found by `rotor bench`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_table_right_after_create_table() {
    // Many partitions: the nodes take a while to open them all.
    let cluster = blocking(|| Cluster::start(3, &[], &["--partitions", "64"]));
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 1);
    for i in 0..5 {
        let name = format!("fresh_{i}");
        create_table(&client, &name, false).await;
        let described = client.describe_table().table_name(&name).send().await;
        let table = described
            .unwrap_or_else(|e| panic!("DescribeTable right after CreateTable failed: {e:?}"))
            .table
            .expect("table description");
        assert_eq!(table.item_count, Some(0));
    }
}
