//! Idle raft groups go quiet: once a partition takes no writes, its leader stops
//! heartbeating and its followers stop their election timers, so an idle cluster sends
//! no AppendEntries at all (one ping per node pair a few times a second keeps
//! failover). A write wakes its group; a leader's node dying still gets every quiet
//! group it led a new leader, and no acknowledged write is lost.

use std::time::{Duration, Instant};

use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, missing_numbered, put_numbered, sdk_client_with_attempts};

const TABLE: &str = "quiet_items";
const APPENDS: &str = "rotor_raft_rpcs_sent_total{kind=\"append_entries\"";

/// Waits until every group on every live node says it is quiet.
async fn wait_all_quiet(cluster: &Cluster, what: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let mut loud = Vec::new();
        for id in cluster.live_nodes() {
            match cluster.status(id).await {
                Ok(s) => loud.extend(
                    s.groups
                        .iter()
                        .filter(|g| !g.quiet)
                        .map(|g| format!("node {id} group {:x} ({})", g.group, g.role)),
                ),
                Err(e) => loud.push(format!("node {id}: {e}")),
            }
        }
        if loud.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "{what}: groups still not quiet after {timeout:?}: {loud:?}\n{}",
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn appends_sent(cluster: &Cluster) -> Vec<f64> {
    let mut sent = Vec::new();
    for id in cluster.live_nodes() {
        sent.push(cluster.node_metric(id, APPENDS).await);
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_groups_go_quiet_wake_on_writes_and_still_fail_over() {
    let mut cluster = tokio::task::block_in_place(|| {
        Cluster::start(3, &["--quiesce-after-ms", "1000"], &["--partitions", "6"])
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table(&client, TABLE, false).await;
    put_numbered(&client, TABLE, "a", 60).await;

    wait_all_quiet(&cluster, "after the first writes", Duration::from_secs(30)).await;
    // Quiet means silent: no AppendEntries from any node over a few seconds (before
    // quiescence, 7 groups x 2 followers x ~7 heartbeats a second).
    let before = appends_sent(&cluster).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = appends_sent(&cluster).await;
    assert_eq!(
        before,
        after,
        "quiet groups sent AppendEntries\n{}",
        cluster.output()
    );

    // A write wakes its group and is replicated as usual.
    put_numbered(&client, TABLE, "b", 30).await;
    assert!(
        appends_sent(&cluster).await > after,
        "writes were replicated"
    );
    assert_eq!(
        missing_numbered(&client, TABLE, "b", 30).await,
        Vec::<String>::new()
    );

    // Quiet again, then the node leading the most partitions dies: its followers hear
    // no pings from it, wake, elect, and every partition takes writes again.
    wait_all_quiet(&cluster, "after the second writes", Duration::from_secs(30)).await;
    let victim = cluster.busiest_leader().await;
    cluster.kill_node(victim);
    put_numbered(&client, TABLE, "c", 60).await;
    for prefix in ["a", "c"] {
        let count = 60;
        assert_eq!(
            missing_numbered(&client, TABLE, prefix, count).await,
            Vec::<String>::new(),
            "after node {victim} died\n{}",
            cluster.output()
        );
    }
    assert_eq!(
        missing_numbered(&client, TABLE, "b", 30).await,
        Vec::<String>::new()
    );
}
