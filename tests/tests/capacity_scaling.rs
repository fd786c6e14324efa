//! Target-tracking auto scaling of a provisioned table, set with DynamoDB's
//! UpdateTableReplicaAutoScaling: a write load above the target raises the write
//! capacity (after the scale-out window), and once the load stops the capacity comes
//! back down to its minimum (after the scale-in window); DescribeTable and
//! DescribeTableReplicaAutoScaling show it. (Windows of seconds, not minutes.)

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeValue as AV, AutoScalingPolicyUpdate, AutoScalingSettingsUpdate,
    AutoScalingTargetTrackingScalingPolicyConfigurationUpdate, BillingMode, ProvisionedThroughput,
    ProvisionedThroughputDescription, ReplicaAutoScalingUpdate,
};
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table_request, sdk_client_with_attempts};

const TABLE: &str = "scaled_items";

const NODE_ARGS: [&str; 7] = [
    "--no-autoscale",
    "--autoscale-interval-secs",
    "0.5",
    "--capacity-scale-out-secs",
    "3",
    "--capacity-scale-in-secs",
    "4",
];

fn settings(min: i64, max: i64, target: f64) -> AutoScalingSettingsUpdate {
    AutoScalingSettingsUpdate::builder()
        .minimum_units(min)
        .maximum_units(max)
        .scaling_policy_update(
            AutoScalingPolicyUpdate::builder()
                .policy_name(format!("target-{target}"))
                .target_tracking_scaling_policy_configuration(
                    AutoScalingTargetTrackingScalingPolicyConfigurationUpdate::builder()
                        .target_value(target)
                        .build()
                        .expect("policy"),
                )
                .build(),
        )
        .build()
}

async fn provisioned(client: &aws_sdk_dynamodb::Client) -> ProvisionedThroughputDescription {
    client
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("describe")
        .table
        .and_then(|t| t.provisioned_throughput)
        .expect("ProvisionedThroughput")
}

async fn write_capacity(client: &aws_sdk_dynamodb::Client) -> (i64, Option<f64>, Option<f64>, i64) {
    let p = provisioned(client).await;
    (
        p.write_capacity_units().unwrap_or(0),
        p.last_increase_date_time().map(|t| t.as_secs_f64()),
        p.last_decrease_date_time().map(|t| t.as_secs_f64()),
        p.number_of_decreases_today().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_capacity_follows_its_target_up_under_load_and_down_when_idle() {
    let cluster = tokio::task::block_in_place(|| Cluster::start(3, &NODE_ARGS, &[]));
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 12);
    create_table_request(&client, TABLE, false)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(10)
                .build()
                .expect("throughput"),
        )
        .send()
        .await
        .expect("create table");

    // Writes between 10 and 200 units at 50%; reads between 5 and 50 at 70%.
    let out = client
        .update_table_replica_auto_scaling()
        .table_name(TABLE)
        .provisioned_write_capacity_auto_scaling_update(settings(10, 200, 50.0))
        .replica_updates(
            ReplicaAutoScalingUpdate::builder()
                .region_name("us-east-1")
                .replica_provisioned_read_capacity_auto_scaling_update(settings(5, 50, 70.0))
                .build()
                .expect("replica update"),
        )
        .send()
        .await
        .expect("update auto scaling");
    let replica = &out
        .table_auto_scaling_description()
        .expect("description")
        .replicas()[0];
    assert_eq!(replica.region_name(), Some("us-east-1"));
    let write = replica
        .replica_provisioned_write_capacity_auto_scaling_settings()
        .expect("write settings");
    assert_eq!(
        (write.minimum_units(), write.maximum_units()),
        (Some(10), Some(200))
    );
    let policy = &write.scaling_policies()[0];
    assert_eq!(
        policy
            .target_tracking_scaling_policy_configuration()
            .map(|c| c.target_value()),
        Some(50.0)
    );
    let described = client
        .describe_table_replica_auto_scaling()
        .table_name(TABLE)
        .send()
        .await
        .expect("describe auto scaling");
    let read = described
        .table_auto_scaling_description()
        .expect("d")
        .replicas()[0]
        .replica_provisioned_read_capacity_auto_scaling_settings()
        .expect("read settings")
        .clone();
    assert_eq!(
        (read.minimum_units(), read.maximum_units()),
        (Some(5), Some(50))
    );
    // Another region has no replica of this table.
    let elsewhere = client
        .update_table_replica_auto_scaling()
        .table_name(TABLE)
        .replica_updates(
            ReplicaAutoScalingUpdate::builder()
                .region_name("eu-west-1")
                .replica_provisioned_read_capacity_auto_scaling_update(settings(5, 50, 70.0))
                .build()
                .expect("replica update"),
        )
        .send()
        .await
        .expect_err("a region without a replica");
    assert!(format!("{:?}", elsewhere.into_service_error()).contains("ValidationException"));

    // About 30 writes of 1 unit a second: 300% of 10 units, above the 50% target.
    let started = Instant::now();
    let mut written = 0u64;
    let raised = loop {
        for _ in 0..3 {
            client
                .put_item()
                .table_name(TABLE)
                .item("pk", AV::S(format!("k{written}")))
                .send()
                .await
                .expect("put");
            written += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if written.is_multiple_of(15) {
            let (units, increased, _, _) = write_capacity(&client).await;
            if units > 10 {
                break (units, increased);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(40) && written < 2_000,
            "write capacity never rose after {written} writes\n{}",
            cluster.output()
        );
    };
    let rate = written as f64 / started.elapsed().as_secs_f64();
    println!(
        "scale-out: {:.0} writes/s, write capacity 10 -> {} after {:.1} s",
        rate,
        raised.0,
        started.elapsed().as_secs_f64()
    );
    // At 50% the consumption (at least 10 units/s here) needs at least 20 units.
    assert!(raised.0 >= 20 && raised.0 <= 200, "raised to {}", raised.0);
    assert!(raised.1.is_some(), "no LastIncreaseDateTime");

    // Idle: back to the minimum after the scale-in window.
    let idle = Instant::now();
    let lowered = loop {
        let (units, _, decreased, decreases) = write_capacity(&client).await;
        if units == 10 {
            break (decreased, decreases);
        }
        assert!(
            idle.elapsed() < Duration::from_secs(40),
            "write capacity still {units} after 40 s idle\n{}",
            cluster.output()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!(
        "scale-in: back to 10 after {:.1} s idle",
        idle.elapsed().as_secs_f64()
    );
    assert!(lowered.0.is_some(), "no LastDecreaseDateTime");
    assert!(lowered.1 >= 1, "NumberOfDecreasesToday {}", lowered.1);
    // Reads stayed within their bounds (no reads: at the minimum, 5).
    assert_eq!(provisioned(&client).await.read_capacity_units(), Some(5));
}
