//! A split's half forms whichever of its replicas hold its items. Found by the one-hour
//! soak: the half's first listed replica had been cut off while the parent split, and
//! caught up on the parent by a snapshot taken after the split, so it held none of the
//! half's items; the half was formed by its first listed replica only, so by nobody,
//! and its keys stayed unavailable.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use rotor_model::cluster::partition_group;
use rotor_node::admin::fetch_map;
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, missing_numbered, sdk_client_with_attempts};

const TABLE: &str = "split_halves";

/// Puts `{prefix}{n}` items (with `v` their number) whose partition key's token is
/// below `below` (the split point: they land in the parent) or at or above it; returns
/// the numbers put.
async fn put_on_one_side(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    count: usize,
    at: u64,
    below: bool,
) -> Vec<u64> {
    let mut put = Vec::new();
    let mut n = 0u64;
    while put.len() < count {
        let pk = format!("{prefix}{n}");
        let token = rotor_model::keys::token(&rotor_model::value::AttributeValue::S(pk.clone()));
        if (token < at) == below {
            client
                .put_item()
                .table_name(TABLE)
                .item("pk", AttributeValue::S(pk.clone()))
                .item("v", AttributeValue::N(n.to_string()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {pk}: {e:?}"));
            put.push(n);
        }
        n += 1;
    }
    put
}

/// Polls `check` every 100 ms for up to 60 s; panics with `what` and the last answer.
async fn wait_until<F, Fut>(cluster: &Cluster, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = check().await;
        if last.is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within 60 s: {last:?}\n{}",
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_forms_when_its_first_replica_caught_up_on_the_parent_by_snapshot() {
    // A snapshot every 20 entries (10 kept after it): a replica 100 entries behind
    // catches up by snapshot.
    let cluster = tokio::task::block_in_place(|| {
        Cluster::start_with_fault_injection(3, &["--snapshot-every", "20"], &["--partitions", "1"])
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table(&client, TABLE, false).await;
    rotor_tests::put_numbered(&client, TABLE, "pre", 100).await;
    let map = fetch_map(&cluster.node_addr(1)).await.expect("map");
    let table_id = map.tables[TABLE].def.id;
    let first = map.tables[TABLE].partitions[0].replicas[0];
    let others: Vec<u64> = (1..=3).filter(|n| *n != first).collect();

    // The first listed replica hears nothing of the partition groups, either way.
    cluster.cut_off_partitions(first, &others).await;
    let parent_group = partition_group(table_id, 0);
    wait_until(
        &cluster,
        "the parent elects a leader away from the held-back replica",
        || async {
            let status = cluster.status(others[0]).await?;
            match status.groups.iter().find(|g| g.group == parent_group) {
                Some(g) if g.has_leader && g.leader != first => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    let child = rotor_node::admin::split(&cluster.node_addr(others[0]), TABLE, 0, None, None)
        .await
        .expect("split by hand");
    let addr = cluster.node_addr(others[0]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let half = loop {
        let map = fetch_map(&addr).await.expect("map");
        if let Some(half) = map.tables[TABLE].partitions.get(child as usize) {
            break half.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the map lists no half within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        half.replicas.first(),
        Some(&first),
        "the half lists the held-back replica first"
    );
    let at = half.initial.start;

    // The parent moves on past the split: its log is purged beyond it, so the held-back
    // replica will catch up on the parent by a snapshot that holds none of the half.
    put_on_one_side(&client, "parent", 100, at, true).await;

    // The half is formed by the replicas that applied the split, while the first listed
    // one is still cut off: its keys take writes.
    let half_group = partition_group(table_id, child);
    let written = tokio::time::timeout(
        Duration::from_secs(60),
        put_on_one_side(&client, "half", 20, at, false),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the half took no writes within 60 s while its first listed replica was cut off\n{}",
            cluster.output()
        )
    });
    assert_eq!(written.len(), 20);

    // Healed: the held-back replica catches up on the parent by snapshot, and on the
    // half by the half leader's snapshot; then it is a voter that has applied all.
    cluster.heal_faults().await;
    wait_until(
        &cluster,
        "the held-back replica installs a snapshot of the parent",
        || async {
            let installed = cluster
                .node_metric(first, "rotor_raft_snapshots_installed_total")
                .await;
            if installed >= 1.0 {
                Ok(())
            } else {
                Err("no snapshot installed".into())
            }
        },
    )
    .await;
    wait_until(
        &cluster,
        "the held-back replica opens the half as a voter",
        || async {
            let status = cluster.status(first).await?;
            match status.groups.iter().find(|g| g.group == half_group) {
                Some(g) if g.voters.contains(&first) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    cluster.wait_caught_up(first, Duration::from_secs(60)).await;

    // Every item is where a strongly consistent read finds it.
    let missing = missing_numbered(&client, TABLE, "pre", 100).await;
    assert!(
        missing.is_empty(),
        "items written before the split missing: {missing:?}"
    );
    for n in written {
        let got = client
            .get_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("half{n}")))
            .consistent_read(true)
            .send()
            .await
            .expect("read from the half")
            .item;
        assert_eq!(
            got.and_then(|i| i.get("v").cloned()),
            Some(AttributeValue::N(n.to_string())),
            "half{n} after the heal"
        );
    }
}
