//! Before measuring: creating (or recreating) the table, and loading items with
//! BatchWriteItem (retrying throttling and UnprocessedItems) from parallel connections.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::json;

use crate::client::{CallError, Client, ClientConfig};
use crate::workload::{Target, Templates, Workload, BATCH, QUERY_ITEMS};

/// How long to wait for a table to become ACTIVE (or to disappear).
const TABLE_WAIT: Duration = Duration::from_secs(120);
const LOAD_ATTEMPTS: u32 = 12;

/// Creates the table (PAY_PER_REQUEST, `pk` S hash key, plus `n` N range key for the
/// query workload; `global_indexes` GSIs keyed the same, projecting ALL) and waits
/// until it is ACTIVE. An existing table is kept, unless `recreate`, which deletes it
/// first.
pub async fn create_table(
    client: &mut Client,
    templates: &Templates,
    table: &str,
    range_key: bool,
    recreate: bool,
    global_indexes: u8,
) -> anyhow::Result<()> {
    if recreate {
        match client
            .call(Target::DeleteTable, &templates.table_only())
            .await
        {
            Ok(()) => {
                eprintln!("deleted table {table}");
                wait_for_table(client, templates, table, None).await?;
            }
            Err(e) if e.is_api("ResourceNotFoundException") => {}
            Err(e) => bail!("DeleteTable {table} failed: {e}"),
        }
    }
    let mut attributes = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
    let mut schema = vec![json!({"AttributeName": "pk", "KeyType": "HASH"})];
    if range_key {
        attributes.push(json!({"AttributeName": "n", "AttributeType": "N"}));
        schema.push(json!({"AttributeName": "n", "KeyType": "RANGE"}));
    }
    let mut body = json!({
        "TableName": table,
        "AttributeDefinitions": attributes,
        "KeySchema": schema,
        "BillingMode": "PAY_PER_REQUEST",
    });
    if global_indexes > 0 {
        let indexes: Vec<serde_json::Value> = (0..global_indexes)
            .map(|i| {
                json!({
                    "IndexName": format!("gsi{i}"),
                    "KeySchema": schema,
                    "Projection": {"ProjectionType": "ALL"},
                })
            })
            .collect();
        body["GlobalSecondaryIndexes"] = json!(indexes);
    }
    match client
        .call(Target::CreateTable, body.to_string().as_bytes())
        .await
    {
        Ok(()) => eprintln!(
            "created table {table} (pk S{}; {global_indexes} global secondary indexes)",
            if range_key { ", n N range" } else { "" }
        ),
        Err(e) if e.is_api("ResourceInUseException") => {
            eprintln!("table {table} exists; using it (--recreate to start afresh)")
        }
        Err(e) => bail!("CreateTable {table} failed: {e}"),
    }
    wait_for_table(client, templates, table, Some("ACTIVE")).await
}

/// Polls DescribeTable until the table has `status`, or (`None`) no longer exists.
async fn wait_for_table(
    client: &mut Client,
    templates: &Templates,
    table: &str,
    status: Option<&str>,
) -> anyhow::Result<()> {
    let body = templates.table_only();
    let deadline = Instant::now() + TABLE_WAIT;
    loop {
        let now = match client.call(Target::DescribeTable, &body).await {
            Ok(()) => {
                let v: serde_json::Value = serde_json::from_slice(client.body())
                    .map_err(|e| anyhow!("DescribeTable {table}: unparsable response: {e}"))?;
                Some(v["Table"]["TableStatus"].as_str().unwrap_or("").to_owned())
            }
            Err(e) if e.is_api("ResourceNotFoundException") => None,
            // A table being created may not answer yet (Rotor: 503 until its partitions
            // have leaders): keep polling until the deadline.
            Err(e) if retryable(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => bail!("DescribeTable {table} failed: {e}"),
        };
        if now.as_deref() == status {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "table {table} is still {} after {} s (waiting for {})",
                now.as_deref().unwrap_or("absent"),
                TABLE_WAIT.as_secs(),
                status.unwrap_or("deletion")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn retryable(e: &CallError) -> bool {
    match e {
        CallError::Api { status, kind, .. } => {
            *status >= 500
                || matches!(
                    kind.as_str(),
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
        }
        CallError::Http(_) | CallError::Timeout | CallError::Connect(_) => true,
    }
}

/// A BatchWriteItem response's UnprocessedItems, re-serialized, if any are left.
fn unprocessed(body: &[u8]) -> anyhow::Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Resp {
        #[serde(rename = "UnprocessedItems", default)]
        unprocessed: Option<serde_json::Map<String, serde_json::Value>>,
    }
    let r: Resp = serde_json::from_slice(body)
        .map_err(|e| anyhow!("unparsable BatchWriteItem response: {e}"))?;
    Ok(r.unprocessed
        .filter(|m| {
            m.values()
                .any(|v| v.as_array().is_none_or(|a| !a.is_empty()))
        })
        .map(|m| serde_json::Value::Object(m).to_string()))
}

/// Sends one BatchWriteItem until every item is written.
async fn write_batch(client: &mut Client, first: Vec<u8>) -> anyhow::Result<()> {
    let mut body = first;
    let mut backoff = Duration::from_millis(20);
    for _ in 0..LOAD_ATTEMPTS {
        match client.call(Target::BatchWriteItem, &body).await {
            Ok(()) => match unprocessed(client.body())? {
                None => return Ok(()),
                Some(left) => body = Templates::batch_retry(&left),
            },
            Err(e) if retryable(&e) => {}
            Err(e) => bail!("loading failed: BatchWriteItem: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    bail!("loading failed: BatchWriteItem still throttled or unprocessed after {LOAD_ATTEMPTS} attempts")
}

/// Writes the workload's items: `keys` items `k0..`, or for query `keys/100` partitions of
/// 100 items. Returns the number of items written.
pub async fn load(
    config: &ClientConfig,
    templates: Arc<Templates>,
    workload: Workload,
    keys: u64,
    concurrency: usize,
) -> anyhow::Result<u64> {
    let per_partition = QUERY_ITEMS.div_ceil(BATCH);
    let (batches, items) = if workload == Workload::Query {
        let partitions = workload.key_space(keys);
        (partitions * per_partition, partitions * QUERY_ITEMS)
    } else {
        (keys.div_ceil(BATCH), keys)
    };
    let next = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..(concurrency as u64).min(batches) {
        let mut client = Client::new(config);
        let (next, written, t) = (next.clone(), written.clone(), templates.clone());
        tasks.spawn(async move {
            let mut body = Vec::new();
            loop {
                let b = next.fetch_add(1, Relaxed);
                if b >= batches {
                    return Ok::<(), anyhow::Error>(());
                }
                body.clear();
                let count = if workload == Workload::Query {
                    let first = b % per_partition * BATCH;
                    let count = BATCH.min(QUERY_ITEMS - first);
                    t.batch_write_query_items(&mut body, b / per_partition, first, count);
                    count
                } else {
                    let first = b * BATCH;
                    let count = BATCH.min(keys - first);
                    t.batch_write(&mut body, first, count, keys);
                    count
                };
                write_batch(&mut client, body.clone()).await?;
                written.fetch_add(count, Relaxed);
            }
        });
    }
    let ticker = {
        let written = written.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            loop {
                tick.tick().await;
                eprintln!("[load] {} / {items} items", written.load(Relaxed));
            }
        })
    };
    let mut result = Ok(());
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.map_err(anyhow::Error::from).and_then(|r| r) {
            if result.is_ok() {
                // Keep the first error; the aborted tasks' cancellations follow.
                result = Err(e);
                tasks.abort_all();
            }
        }
    }
    ticker.abort();
    result?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "loaded {items} items in {secs:.2} s ({:.0} items/s)",
        items as f64 / secs.max(1e-9)
    );
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprocessed_items() {
        assert_eq!(unprocessed(br#"{"UnprocessedItems":{}}"#).unwrap(), None);
        assert_eq!(unprocessed(b"{}").unwrap(), None);
        assert_eq!(
            unprocessed(br#"{"UnprocessedItems":{"t":[]}}"#).unwrap(),
            None
        );
        let left = unprocessed(
            br#"{"UnprocessedItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"k1"}}}}]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(left, r#"{"t":[{"PutRequest":{"Item":{"pk":{"S":"k1"}}}}]}"#);
        assert!(unprocessed(b"nope").is_err());
    }
}
