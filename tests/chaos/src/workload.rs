//! The workload that records a history: concurrent clients issuing PutItem, conditional
//! UpdateItem (compare-and-set on registers, ADD on counters), DeleteItem and both kinds
//! of GetItem over a bounded set of keys, one attempt per request (no SDK retries), each
//! recorded with its invoke time, completion time and outcome. A client whose router
//! does not answer moves to the next router, as an application behind a load balancer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotor_bench::client::{CallError, Client, ClientConfig};
use rotor_bench::http::Endpoint;
use rotor_bench::keys::Rng;
use rotor_bench::sigv4::Signer;
use rotor_bench::workload::Target;
use serde_json::{json, Value};

use crate::history::{Op, OpKind, Outcome};

pub const TABLE: &str = "chaos";

/// What the clients do.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    pub clients: u32,
    pub register_keys: u32,
    pub counter_keys: u32,
    /// Pause between one client's requests (bounds the history's size).
    pub pause: Duration,
    /// A request with no answer by then is indeterminate.
    pub request_timeout: Duration,
    pub seed: u64,
    /// How long the clients use one generation of keys before moving to fresh ones
    /// (`r0-g1`, ...): bounds each key's history, so a soak of any length stays
    /// checkable (the linearizability search grows with one key's operations).
    pub key_lifetime: Duration,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 8,
            register_keys: 6,
            counter_keys: 2,
            pause: Duration::from_millis(10),
            request_timeout: Duration::from_secs(5),
            seed: 1,
            key_lifetime: Duration::from_secs(120),
        }
    }
}

/// The history being recorded, shared by the clients.
pub struct Recorder {
    pub start: Instant,
    ops: Mutex<Vec<Op>>,
    next_id: AtomicU64,
}

impl Recorder {
    pub fn new(start: Instant) -> Arc<Recorder> {
        Arc::new(Recorder {
            start,
            ops: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        })
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn record(&self, op: Op) {
        if let Ok(mut ops) = self.ops.lock() {
            ops.push(op);
        }
    }

    pub fn take(&self) -> Vec<Op> {
        let mut ops = self
            .ops
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default();
        ops.sort_by_key(|o| o.id);
        ops
    }

    pub fn len(&self) -> usize {
        self.ops.lock().map(|o| o.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A signed single-attempt client per router, moving to the next router when one does
/// not answer.
pub struct ApiClient {
    clients: Vec<Client>,
    current: usize,
}

impl ApiClient {
    pub fn new(routers: &[SocketAddr], first: usize, timeout: Duration) -> ApiClient {
        let signer = Signer::new("chaos", "chaos-secret", "us-east-1", "dynamodb");
        let clients = routers
            .iter()
            .map(|addr| {
                Client::new(&ClientConfig {
                    endpoint: Arc::new(Endpoint::local(*addr)),
                    signer: signer.clone(),
                    timeout,
                })
            })
            .collect::<Vec<_>>();
        ApiClient {
            current: first % clients.len().max(1),
            clients,
        }
    }

    /// One attempt; on success returns the response body as JSON.
    pub async fn call(&mut self, target: Target, body: &Value) -> Result<Value, CallError> {
        let bytes = body.to_string().into_bytes();
        let Some(client) = self.clients.get_mut(self.current) else {
            return Err(CallError::Timeout);
        };
        let result = client.call(target, &bytes).await;
        match result {
            Ok(()) => Ok(serde_json::from_slice(client.body()).unwrap_or(Value::Null)),
            Err(e) => {
                if matches!(
                    e,
                    CallError::Connect(_) | CallError::Timeout | CallError::Http(_)
                ) {
                    self.current = (self.current + 1) % self.clients.len().max(1);
                }
                Err(e)
            }
        }
    }
}

fn key_json(key: &str) -> Value {
    json!({"pk": {"S": key}})
}

fn number_of(item: &Value, attr: &str) -> Option<u64> {
    item.get(attr)?.get("N")?.as_str()?.parse().ok()
}

/// The request for one op.
pub fn request(key: &str, kind: &OpKind) -> (Target, Value) {
    match kind {
        OpKind::Put { value } => (
            Target::PutItem,
            json!({"TableName": TABLE, "Item": {"pk": {"S": key}, "val": {"N": value.to_string()}}}),
        ),
        OpKind::Delete => (
            Target::DeleteItem,
            json!({"TableName": TABLE, "Key": key_json(key)}),
        ),
        OpKind::Cas { expected, new } => (
            Target::UpdateItem,
            json!({
                "TableName": TABLE, "Key": key_json(key),
                "UpdateExpression": "SET val = :new",
                "ConditionExpression": "val = :expected",
                "ExpressionAttributeValues": {
                    ":new": {"N": new.to_string()}, ":expected": {"N": expected.to_string()}
                }
            }),
        ),
        OpKind::Add => (
            Target::UpdateItem,
            json!({
                "TableName": TABLE, "Key": key_json(key),
                "UpdateExpression": "ADD cnt :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "UPDATED_NEW"
            }),
        ),
        OpKind::Read { consistent } => (
            Target::GetItem,
            json!({"TableName": TABLE, "Key": key_json(key), "ConsistentRead": consistent}),
        ),
    }
}

/// The outcome of one attempt, as the checker needs it.
pub fn outcome(key: &str, kind: &OpKind, result: Result<Value, CallError>) -> Outcome {
    match result {
        Ok(body) => match kind {
            OpKind::Read { .. } => {
                let attr = if key.starts_with('c') { "cnt" } else { "val" };
                Outcome::Ok {
                    value: body.get("Item").and_then(|item| number_of(item, attr)),
                }
            }
            OpKind::Add => Outcome::Ok {
                value: body.get("Attributes").and_then(|a| number_of(a, "cnt")),
            },
            _ => Outcome::Ok { value: None },
        },
        Err(CallError::Api {
            status,
            kind: error,
            ..
        }) => {
            if error == "ConditionalCheckFailedException" && matches!(kind, OpKind::Cas { .. }) {
                Outcome::ConditionFailed
            } else if status >= 500 {
                // The cluster may have applied it before failing to answer.
                Outcome::Info { error }
            } else {
                Outcome::Fail { error }
            }
        }
        // Never sent: the connection was refused.
        Err(e @ CallError::Connect(_)) => Outcome::Fail { error: e.kind() },
        // Sent, and no answer: it may or may not have been applied.
        Err(e) => Outcome::Info { error: e.kind() },
    }
}

/// Issues `kind` on `key` once and records it.
pub async fn issue(
    client: &mut ApiClient,
    recorder: &Recorder,
    client_id: u32,
    key: &str,
    kind: OpKind,
    is_final: bool,
) -> Outcome {
    let (target, body) = request(key, &kind);
    let id = recorder.next_id.fetch_add(1, Ordering::Relaxed);
    let invoke_ns = recorder.now_ns();
    let router = client.current as u32;
    let result = client.call(target, &body).await;
    let complete_ns = recorder.now_ns().max(invoke_ns);
    let outcome = outcome(key, &kind, result);
    recorder.record(Op {
        id,
        client: client_id,
        key: key.to_owned(),
        kind,
        invoke_ns,
        complete_ns,
        outcome: outcome.clone(),
        is_final,
        router: Some(router),
    });
    outcome
}

/// Register and counter key names.
/// The register and counter keys of one generation (the first: `r0`, `c0`; then
/// `r0-g1`, `c0-g1`, ...).
pub fn keys(config: &WorkloadConfig, generation: u64) -> (Vec<String>, Vec<String>) {
    let name = |kind: char, i: u32| match generation {
        0 => format!("{kind}{i}"),
        g => format!("{kind}{i}-g{g}"),
    };
    (
        (0..config.register_keys).map(|i| name('r', i)).collect(),
        (0..config.counter_keys).map(|i| name('c', i)).collect(),
    )
}

/// The generation of keys in use `elapsed_ns` into the run.
pub fn generation(config: &WorkloadConfig, elapsed_ns: u64) -> u64 {
    let lifetime = config.key_lifetime.as_nanos().max(1) as u64;
    elapsed_ns / lifetime
}

/// One client's loop until `stop`.
pub async fn run_client(
    client_id: u32,
    config: WorkloadConfig,
    routers: Vec<SocketAddr>,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng::new(
        config
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(u64::from(client_id)),
    );
    let mut api = ApiClient::new(&routers, client_id as usize, config.request_timeout);
    let mut current = 0;
    let (mut registers, mut counters) = keys(&config, current);
    let mut seq: u64 = 0;
    // The last value this client saw or wrote per register (what a CAS expects).
    let mut seen: Vec<Option<u64>> = vec![None; registers.len()];
    while !stop.load(Ordering::Relaxed) {
        let now = generation(&config, recorder.now_ns());
        if now != current {
            current = now;
            (registers, counters) = keys(&config, current);
            seen = vec![None; registers.len()];
        }
        let counter_op = !counters.is_empty() && rng.below(4) == 0;
        if counter_op {
            let key = &counters[rng.below(counters.len() as u64) as usize];
            let kind = match rng.below(4) {
                0 | 1 => OpKind::Add,
                2 => OpKind::Read { consistent: true },
                _ => OpKind::Read { consistent: false },
            };
            issue(&mut api, &recorder, client_id, key, kind, false).await;
        } else if !registers.is_empty() {
            let k = rng.below(registers.len() as u64) as usize;
            seq += 1;
            let fresh = (u64::from(client_id) + 1) << 40 | seq;
            let kind = match (rng.below(20), seen[k]) {
                (0..=5, _) | (6..=9, None) => OpKind::Put { value: fresh },
                (6..=9, Some(expected)) => OpKind::Cas {
                    expected,
                    new: fresh,
                },
                (10, _) => OpKind::Delete,
                (11..=15, _) => OpKind::Read { consistent: true },
                _ => OpKind::Read { consistent: false },
            };
            let written = kind.written_value();
            let outcome = issue(
                &mut api,
                &recorder,
                client_id,
                &registers[k],
                kind.clone(),
                false,
            )
            .await;
            match (&kind, &outcome) {
                (OpKind::Read { .. }, Outcome::Ok { value }) => seen[k] = *value,
                (OpKind::Delete, Outcome::Ok { .. }) => seen[k] = None,
                (_, Outcome::Ok { .. }) if written.is_some() => seen[k] = written,
                _ => {}
            }
        }
        tokio::time::sleep(config.pause).await;
    }
}

/// After the faults are healed: one strongly consistent read of every key, retried
/// until it answers (each attempt recorded as a final read).
pub async fn final_reads(
    config: &WorkloadConfig,
    routers: &[SocketAddr],
    recorder: &Recorder,
    deadline: Duration,
) -> anyhow::Result<()> {
    let mut api = ApiClient::new(routers, 0, config.request_timeout);
    let until = Instant::now() + deadline;
    let mut every_key = Vec::new();
    for g in 0..=generation(config, recorder.now_ns()) {
        let (registers, counters) = keys(config, g);
        every_key.extend(registers.into_iter().chain(counters));
    }
    for key in &every_key {
        loop {
            let outcome = issue(
                &mut api,
                recorder,
                u32::MAX,
                key,
                OpKind::Read { consistent: true },
                true,
            )
            .await;
            if matches!(outcome, Outcome::Ok { .. }) {
                break;
            }
            if Instant::now() > until {
                anyhow::bail!(
                    "the final read of {key} did not succeed within {deadline:?} after healing (last: {outcome:?})"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Creates the workload's table (retrying while the cluster forms) and waits until it
/// takes writes.
pub async fn create_table(routers: &[SocketAddr], deadline: Duration) -> anyhow::Result<()> {
    let mut api = ApiClient::new(routers, 0, Duration::from_secs(5));
    let until = Instant::now() + deadline;
    let create = json!({
        "TableName": TABLE,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST"
    });
    loop {
        match api.call(Target::CreateTable, &create).await {
            Ok(_) => break,
            Err(e) if e.is_api("ResourceInUseException") => break,
            Err(e) if Instant::now() > until => {
                anyhow::bail!("CreateTable did not succeed within {deadline:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let probe = json!({"TableName": TABLE, "Item": {"pk": {"S": "probe"}}});
    loop {
        match api.call(Target::PutItem, &probe).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > until => {
                anyhow::bail!("the new table took no write within {deadline:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
