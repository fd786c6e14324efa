//! The fault-injection API (`--fault-injection`) as a user testing their retries sees it:
//! rules set over HTTP at `/_rotor/faults`, injected DynamoDB errors reaching the AWS SDK
//! by type, the SDK's retries riding over a partial failure rate, added latency.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use rotor_tests::cluster::Cluster;
use rotor_tests::{create_table, http, sdk_client_with_attempts};

async fn put(client: &aws_sdk_dynamodb::Client, pk: &str) -> Result<(), String> {
    client
        .put_item()
        .table_name("faults")
        .item("pk", AttributeValue::S(pk.into()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            e.as_service_error()
                .and_then(|s| s.meta().code())
                .unwrap_or("no service error")
                .to_owned()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_and_latency_reach_the_client_until_cleared() {
    let cluster = Cluster::start(3, &[], &["--fault-injection"]);
    let endpoint = cluster.endpoint(0);
    let once = sdk_client_with_attempts(&endpoint, 1);
    create_table(&once, "faults", false).await;

    // A bad rule is refused with the reason, and nothing is injected.
    let (status, body) = http(
        &endpoint,
        "PUT",
        "/_rotor/faults",
        r#"{"error": "Oops", "error_fraction": 1.0}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("ProvisionedThroughputExceededException"),
        "{body}"
    );
    put(&once, "a").await.expect("no fault yet");

    // Every PutItem fails with the chosen error; other operations are untouched.
    let (status, body) = http(
        &endpoint,
        "PUT",
        "/_rotor/faults",
        r#"{"error": "ProvisionedThroughputExceededException", "error_fraction": 1.0, "operations": ["PutItem"]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = http(&endpoint, "GET", "/_rotor/faults", "");
    assert!(shown.contains("\"error_fraction\": 1.0"), "{shown}");
    assert_eq!(
        put(&once, "b").await,
        Err("ProvisionedThroughputExceededException".to_owned())
    );
    let got = once
        .get_item()
        .table_name("faults")
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .expect("GetItem is not affected");
    assert!(got.item.is_some());

    // Half the calls fail with a 500: the SDK's retries (20 attempts) get every put in
    // (with 10, one of the 40 puts failed all its attempts in about 4% of runs).
    http(
        &endpoint,
        "PUT",
        "/_rotor/faults",
        r#"{"error": "InternalServerError", "error_fraction": 0.5}"#,
    );
    let retrying = sdk_client_with_attempts(&endpoint, 20);
    let mut failed_once = 0;
    for i in 0..40 {
        put(&retrying, &format!("r{i}")).await.expect("retried in");
        if put(&once, &format!("o{i}")).await.is_err() {
            failed_once += 1;
        }
    }
    assert!(
        (5..=35).contains(&failed_once),
        "{failed_once} of 40 single attempts failed at a 50% fault rate"
    );

    // Added latency: every call waits at least the given time.
    http(&endpoint, "PUT", "/_rotor/faults", r#"{"latency_ms": 300}"#);
    let started = Instant::now();
    put(&once, "slow").await.expect("latency only");
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Cleared: everything works again.
    let (status, _) = http(&endpoint, "DELETE", "/_rotor/faults", "");
    assert_eq!(status, 200);
    for i in 0..20 {
        put(&once, &format!("c{i}")).await.expect("cleared");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_flag_there_is_no_fault_api() {
    let cluster = Cluster::start(3, &[], &[]);
    let (status, _) = http(
        &cluster.endpoint(0),
        "PUT",
        "/_rotor/faults",
        r#"{"error": "ThrottlingException", "error_fraction": 1.0}"#,
    );
    assert_ne!(status, 200);
    let (_, shown) = http(&cluster.endpoint(0), "GET", "/_rotor/faults", "");
    assert!(!shown.contains("error_fraction"), "{shown}");
}
