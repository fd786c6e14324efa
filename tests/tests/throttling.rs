//! Capacity limits as DynamoDB applies them, seen by the AWS SDK for Rust: a provisioned
//! table serves its burst (five minutes of its capacity) and then answers
//! ProvisionedThroughputExceededException with a ThrottlingReason, until UpdateTable
//! raises the capacity; an on-demand table with an OnDemandThroughput maximum answers
//! ThrottlingException past it; an on-demand table without one is not throttled below
//! its partitions' own limits; a hot partition is throttled at its own limit (DynamoDB's
//! 1,000 write units per partition; here 20) in either mode, with the key-range reason.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, OnDemandThroughput, ProvisionedThroughput, PutRequest,
    WriteRequest,
};
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table_request, sdk_client_with_attempts, Rotor};

/// Puts distinct small items (1 WCU each) until one is refused; how many succeeded and
/// the refusal's error code and message. Bounded: `limit` puts at most.
async fn put_until_refused(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    limit: u32,
) -> (u32, Option<(String, String)>) {
    for i in 0..limit {
        let put = client
            .put_item()
            .table_name(table)
            .item("pk", AV::S(format!("k{i}")))
            .send()
            .await;
        if let Err(e) = put {
            let code = e.code().unwrap_or("no code").to_owned();
            let message = e.message().unwrap_or_default().to_owned();
            return (i, Some((code, message)));
        }
    }
    (limit, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioned_table_bursts_then_throttles_until_its_capacity_is_raised() {
    let rotor = tokio::task::block_in_place(Rotor::start);
    // One attempt per call: the SDK's own retries would hide the throttling.
    let client = sdk_client_with_attempts(&rotor.endpoint(), 1);
    create_table_request(&client, "provisioned", false)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .expect("throughput"),
        )
        .send()
        .await
        .expect("create");
    // 1 WCU over 4 partitions with 300 s of burst: 75 writes per partition, about 300
    // in all before the busiest partition runs dry.
    let (done, refused) = put_until_refused(&client, "provisioned", 2000).await;
    let (code, message) = refused.expect("2000 writes at 1 WCU were never throttled");
    assert_eq!(code, "ProvisionedThroughputExceededException", "{message}");
    assert!(
        message.contains("provisioned throughput"),
        "message: {message}"
    );
    assert!(
        (60..=400).contains(&done),
        "throttled after {done} writes: the burst should be about 75 per partition"
    );
    // The typed error carries DynamoDB's ThrottlingReason.
    let err = client
        .put_item()
        .table_name("provisioned")
        .item("pk", AV::S("again".into()))
        .send()
        .await
        .expect_err("still throttled");
    let service = err.into_service_error();
    let reasons = match &service {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ProvisionedThroughputExceededException(e) => {
            e.throttling_reasons().to_vec()
        }
        other => panic!("not ProvisionedThroughputExceededException: {other:?}"),
    };
    assert_eq!(
        reasons.first().and_then(|r| r.reason()),
        Some("TableWriteProvisionedThroughputExceeded")
    );
    assert!(reasons
        .first()
        .and_then(|r| r.resource())
        .is_some_and(|arn| arn.ends_with("table/provisioned")));
    // Reads have their own capacity: still served.
    client
        .get_item()
        .table_name("provisioned")
        .key("pk", AV::S("k0".into()))
        .send()
        .await
        .expect("reads are not throttled by writes");
    // A BatchWriteItem of which every item is throttled fails as a whole.
    let batch: Vec<WriteRequest> = (0..5)
        .map(|i| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", AV::S(format!("b{i}")))
                        .build()
                        .expect("put"),
                )
                .build()
        })
        .collect();
    let all_throttled = client
        .batch_write_item()
        .request_items("provisioned", batch)
        .send()
        .await;
    match all_throttled {
        Err(e) => assert_eq!(e.code(), Some("ProvisionedThroughputExceededException")),
        Ok(out) => {
            // Some partitions may have refilled a unit meanwhile: what was not written
            // comes back unprocessed.
            assert!(
                !out.unprocessed_items()
                    .unwrap_or(&Default::default())
                    .is_empty(),
                "a batch on an exhausted table was fully written"
            );
        }
    }

    // Raising the capacity lifts the throttling.
    client
        .update_table()
        .table_name("provisioned")
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(4000)
                .build()
                .expect("throughput"),
        )
        .send()
        .await
        .expect("update");
    let mut served = false;
    for _ in 0..50 {
        let put = client
            .put_item()
            .table_name("provisioned")
            .item("pk", AV::S("after-update".into()))
            .send()
            .await;
        if put.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served, "writes still throttled after raising the capacity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_tables_are_throttled_only_past_their_maximum() {
    let rotor = tokio::task::block_in_place(Rotor::start);
    let client = sdk_client_with_attempts(&rotor.endpoint(), 1);
    create_table_request(&client, "unlimited", false)
        .send()
        .await
        .expect("create");
    let (done, refused) = put_until_refused(&client, "unlimited", 1500).await;
    assert_eq!(
        refused, None,
        "an on-demand table without a maximum was refused after {done} writes"
    );

    create_table_request(&client, "capped", false)
        .on_demand_throughput(
            OnDemandThroughput::builder()
                .max_write_request_units(1)
                .max_read_request_units(-1)
                .build(),
        )
        .send()
        .await
        .expect("create with OnDemandThroughput");
    let described = client
        .describe_table()
        .table_name("capped")
        .send()
        .await
        .expect("describe");
    let limits = described
        .table()
        .and_then(|t| t.on_demand_throughput())
        .expect("DescribeTable shows OnDemandThroughput");
    assert_eq!(limits.max_write_request_units(), Some(1));
    assert_eq!(limits.max_read_request_units(), Some(-1));
    let (done, refused) = put_until_refused(&client, "capped", 2000).await;
    let (code, message) = refused.expect("2000 writes past a maximum of 1 were never throttled");
    assert_eq!(code, "ThrottlingException", "{message}");
    assert!(message.contains("OnDemandThroughput"), "message: {message}");
    assert!((60..=400).contains(&done), "throttled after {done} writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_partition_is_throttled_at_its_own_limit_until_split() {
    // One partition of 20 write units a second, never split for load here.
    let cluster = tokio::task::block_in_place(|| {
        Cluster::start(
            3,
            &["--partition-wcu", "20", "--no-autoscale"],
            &["--partitions", "1"],
        )
    });
    let client = sdk_client_with_attempts(&cluster.endpoint(0), 1);
    create_table_request(&client, "hot", false)
        .send()
        .await
        .expect("create");
    // An on-demand table with no maximum: only the partition's own limit (with a
    // second of burst) holds it.
    let (done, refused) = put_until_refused(&client, "hot", 2000).await;
    let (code, message) = refused.expect("2000 writes on one 20-unit partition never throttled");
    assert_eq!(code, "ThrottlingException", "{message}");
    assert!(message.contains("partitions"), "message: {message}");
    assert!(done >= 15, "throttled after only {done} writes: no burst");
    // The partition stays throttled. Not necessarily the very next write: at 20 units a
    // second a token comes back every 50 ms, and a loaded machine can take that long
    // between two requests (a full suite run saw it). So the next refusal within 200
    // writes, which must carry the hot key range as its reason.
    let mut refusal = None;
    for i in 0..200 {
        let put = client
            .put_item()
            .table_name("hot")
            .item("pk", AV::S(format!("again{i}")))
            .send()
            .await;
        if let Err(e) = put {
            refusal = Some(e);
            break;
        }
    }
    let err = refusal.expect("200 more writes on the throttled partition all passed");
    let reasons = match err.into_service_error() {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ThrottlingException(e) => {
            e.throttling_reasons().to_vec()
        }
        other => panic!("not ThrottlingException: {other:?}"),
    };
    assert_eq!(
        reasons.first().and_then(|r| r.reason()),
        Some("TableWriteKeyRangeThroughputExceeded")
    );
    // The same limit on a provisioned table with capacity to spare is a
    // ProvisionedThroughputExceededException.
    create_table_request(&client, "hot_provisioned", false)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1000)
                .write_capacity_units(1000)
                .build()
                .expect("throughput"),
        )
        .send()
        .await
        .expect("create");
    let (_, refused) = put_until_refused(&client, "hot_provisioned", 2000).await;
    let (code, message) = refused.expect("never throttled");
    assert_eq!(code, "ProvisionedThroughputExceededException", "{message}");
    assert!(message.contains("partitions"), "message: {message}");
}
