//! The measured run: worker tasks (one connection each) looping over the workload's
//! operations, spread over threads that each run their own single-threaded event loop;
//! the warmup/measure/stop phases, the `--ops` budget, Ctrl-C, and the once-a-second
//! progress line on stderr.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::Notify;

use crate::client::{CallError, Client, ClientConfig};
use crate::http::Endpoint;
use crate::keys::{KeyChooser, Rng};
use crate::server::{ceiling_handler, Server};
use crate::stats::Recorder;
use crate::workload::{Op, Target, Templates, Workload, BATCH};

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// What every worker shares, read-only.
pub struct Plan {
    pub workload: Workload,
    pub templates: Templates,
    /// Picks items (or, for query, partitions).
    pub chooser: KeyChooser,
    /// Number of items `k0..k<keys-1>`.
    pub keys: u64,
}

/// One worker: a client (connection), its random stream and scratch buffers.
pub struct Worker {
    client: Client,
    rng: Rng,
    body: Vec<u8>,
    /// Where this worker's scan continues (raw LastEvaluatedKey JSON).
    scan_from: Option<Vec<u8>>,
    plan: Arc<Plan>,
}

impl Worker {
    pub fn new(client: Client, seed: u64, plan: Arc<Plan>) -> Worker {
        Worker {
            client,
            rng: Rng::new(seed),
            body: Vec::with_capacity(4096),
            scan_from: None,
            plan,
        }
    }

    /// Runs one operation (two requests for read-modify-write).
    async fn op(&mut self, op: Op) -> Result<(), CallError> {
        let Worker {
            client,
            rng,
            body,
            scan_from,
            plan,
        } = self;
        let t = &plan.templates;
        body.clear();
        match op {
            Op::Get => {
                t.get.render(body, plan.chooser.next(rng));
                client.call(Target::GetItem, body).await
            }
            Op::GetStrong => {
                t.get_strong.render(body, plan.chooser.next(rng));
                client.call(Target::GetItem, body).await
            }
            Op::Put => {
                t.put.render(body, plan.chooser.next(rng));
                client.call(Target::PutItem, body).await
            }
            Op::Update => {
                t.update.render(body, plan.chooser.next(rng));
                client.call(Target::UpdateItem, body).await
            }
            Op::Query => {
                t.query.render(body, plan.chooser.next(rng));
                client.call(Target::Query, body).await
            }
            Op::BatchWrite => {
                t.batch_write(body, plan.chooser.next(rng), BATCH, plan.keys);
                client.call(Target::BatchWriteItem, body).await
            }
            Op::Rmw => {
                let key = plan.chooser.next(rng);
                t.get.render(body, key);
                client.call(Target::GetItem, body).await?;
                body.clear();
                t.update.render(body, key);
                client.call(Target::UpdateItem, body).await
            }
            Op::Scan => {
                t.scan(body, scan_from.as_deref());
                let result = client.call(Target::Scan, body).await;
                if result.is_err() {
                    *scan_from = None;
                    return result;
                }
                match last_evaluated_key(client.body()) {
                    Ok(next) => {
                        *scan_from = next;
                        Ok(())
                    }
                    Err(_) => {
                        *scan_from = None;
                        Err(CallError::Api {
                            status: 200,
                            kind: "unparsable Scan response".into(),
                            message: String::new(),
                        })
                    }
                }
            }
        }
    }
}

/// A Scan response's LastEvaluatedKey (raw JSON), if the scan has more pages.
pub fn last_evaluated_key(body: &[u8]) -> serde_json::Result<Option<Vec<u8>>> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(rename = "LastEvaluatedKey", borrow, default)]
        last: Option<&'a RawValue>,
    }
    let page: Page<'_> = serde_json::from_slice(body)?;
    Ok(page
        .last
        .map(|raw| raw.get().as_bytes().to_vec())
        .filter(|raw| raw.as_slice() != b"null"))
}

/// Counters the workers update and the progress line reads.
struct Shared {
    phase: AtomicU8,
    done: AtomicU64,
    errors: AtomicU64,
    /// Operations left to measure under `--ops`.
    remaining: Option<AtomicI64>,
    exhausted: Notify,
}

async fn work(mut w: Worker, shared: Arc<Shared>) -> Recorder {
    let mut rec = Recorder::default();
    loop {
        let phase = shared.phase.load(Relaxed);
        if phase == STOP {
            break;
        }
        let measuring = phase == MEASURE;
        if measuring {
            if let Some(left) = &shared.remaining {
                if left.fetch_sub(1, Relaxed) <= 0 {
                    shared.exhausted.notify_one();
                    break;
                }
            }
        }
        let op = w.plan.workload.pick(&mut w.rng);
        let start = Instant::now();
        let result = w.op(op).await;
        let elapsed = start.elapsed();
        shared.done.fetch_add(1, Relaxed);
        match result {
            Ok(()) => {
                if measuring {
                    rec.ok(op, elapsed);
                }
            }
            Err(e) => {
                shared.errors.fetch_add(1, Relaxed);
                if measuring {
                    rec.error(op, &e.kind());
                }
                if matches!(e, CallError::Connect(_)) {
                    // Do not spin on a server that is gone; retry soon.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    rec
}

/// Resolves on Ctrl-C; never, if the signal cannot be watched.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How the measured run is spread over threads.
pub struct Layout {
    pub config: ClientConfig,
    pub plan: Arc<Plan>,
    /// Workers (connections) in all.
    pub concurrency: usize,
    /// OS threads, each running its share of the workers on its own single-threaded
    /// event loop (no work stealing, no cross-thread wakeups).
    pub threads: usize,
    pub seed: u64,
    /// Each thread benches its own in-process ceiling server instead of the endpoint.
    pub ceiling: bool,
}

/// One thread's share: its workers on a current-thread runtime, plus its ceiling server.
fn run_thread(
    layout: &Layout,
    first_worker: usize,
    workers: usize,
    shared: Arc<Shared>,
) -> anyhow::Result<Recorder> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a bench thread's event loop")?;
    runtime.block_on(async {
        let mut config = layout.config.clone();
        let _server = if layout.ceiling {
            let server = Server::start(ceiling_handler())
                .await
                .context("cannot start the --ceiling server")?;
            config.endpoint = Arc::new(Endpoint::local(server.addr()));
            Some(server)
        } else {
            None
        };
        let handles: Vec<_> = (first_worker..first_worker + workers)
            .map(|i| {
                let seed = layout.seed ^ (i as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
                let worker = Worker::new(Client::new(&config), seed, layout.plan.clone());
                tokio::spawn(work(worker, shared.clone()))
            })
            .collect();
        let mut rec = Recorder::default();
        for h in handles {
            rec.merge(h.await?);
        }
        Ok(rec)
    })
}

/// Runs the workers through warmup and measurement; returns what was measured and for
/// how long.
pub async fn measure(
    layout: Layout,
    warmup: Duration,
    duration: Duration,
    ops: Option<u64>,
    progress: bool,
) -> anyhow::Result<(Recorder, Duration)> {
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(if warmup.is_zero() { MEASURE } else { WARMUP }),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        remaining: ops.map(|n| AtomicI64::new(n.min(i64::MAX as u64) as i64)),
        exhausted: Notify::new(),
    });
    let began = Instant::now();
    let mut t0 = began;
    let layout = Arc::new(layout);
    let threads = layout.threads.clamp(1, layout.concurrency.max(1));
    let mut results = Vec::with_capacity(threads);
    let mut first = 0;
    for t in 0..threads {
        let n = layout.concurrency / threads + usize::from(t < layout.concurrency % threads);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (layout, shared) = (layout.clone(), shared.clone());
        std::thread::Builder::new()
            .name(format!("rotor-bench-{t}"))
            .spawn(move || {
                let result = run_thread(&layout, first, n, shared.clone());
                if result.is_err() {
                    // Do not leave the others measuring for nothing.
                    shared.exhausted.notify_one();
                }
                let _ = tx.send(result);
            })
            .context("cannot start a bench thread")?;
        results.push(rx);
        first += n;
    }
    let ticker = progress.then(|| tokio::spawn(report_progress(shared.clone(), began)));

    let ctrl_c = interrupted();
    tokio::pin!(ctrl_c);
    let mut stopped = false;
    if !warmup.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(warmup) => {}
            _ = shared.exhausted.notified() => stopped = true,
            _ = &mut ctrl_c => stopped = true,
        }
        t0 = Instant::now();
        shared.phase.store(MEASURE, Relaxed);
    }
    if !stopped {
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = shared.exhausted.notified() => {}
            _ = &mut ctrl_c => eprintln!("interrupted: reporting what was measured so far"),
        }
    }
    shared.phase.store(STOP, Relaxed);
    let mut rec = Recorder::default();
    let mut failure = None;
    for rx in results {
        match rx.await {
            Ok(Ok(r)) => rec.merge(r),
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => failure = failure.or(Some(anyhow!("a bench thread panicked"))),
        }
    }
    let elapsed = t0.elapsed();
    if let Some(t) = ticker {
        t.abort();
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((rec, elapsed)),
    }
}

async fn report_progress(shared: Arc<Shared>, began: Instant) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let (mut last_done, mut last_at) = (0u64, Instant::now());
    loop {
        tick.tick().await;
        let phase = shared.phase.load(Relaxed);
        if phase == STOP {
            return;
        }
        let done = shared.done.load(Relaxed);
        let now = Instant::now();
        let rate = (done - last_done) as f64 / (now - last_at).as_secs_f64().max(1e-9);
        (last_done, last_at) = (done, now);
        eprintln!(
            "[{:6.1}s] {:<9} ops {:>10}  {:>10.0} ops/s  errors {}",
            began.elapsed().as_secs_f64(),
            if phase == WARMUP {
                "warmup"
            } else {
                "measuring"
            },
            done,
            rate,
            shared.errors.load(Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_pages() {
        let lek = |body: &[u8]| last_evaluated_key(body).unwrap();
        assert_eq!(
            lek(br#"{"Items":[{"pk":{"S":"a"}}],"Count":1,"LastEvaluatedKey":{"pk":{"S":"a"}}}"#),
            Some(br#"{"pk":{"S":"a"}}"#.to_vec())
        );
        assert_eq!(lek(br#"{"Items":[],"Count":0}"#), None);
        assert_eq!(lek(b"{}"), None);
        assert_eq!(lek(br#"{"LastEvaluatedKey":null}"#), None);
        assert!(last_evaluated_key(b"not json").is_err());
    }
}
