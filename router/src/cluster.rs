//! `ClusterBackend`: the router's [`Backend`] over gRPC to Rotor storage nodes.
//!
//! It owns the router's copy of the cluster map (kept fresh by a task that follows
//! `Cluster.WatchMap` on any reachable node), one lazily connected channel per node
//! address, the cache of partition leaders, and the retry policy of every call: writes and
//! consistent reads go to the leader (following NOT_LEADER hints), eventually consistent
//! reads are spread over the replicas, metadata changes are proposed to any node (which
//! forwards them to the metadata leader).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rotor_model::cluster::{ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeId};
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{TableDef, TableStats};
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::{Item, ModelError};
use rotor_proto::v1 as pb;
use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::partition_client::PartitionClient;
use rotor_proto::v1::Refusal;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::backend::{Backend, BackendError, MAX_REROUTES};

/// How long establishing a TCP connection to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest one RPC may take (less when the request's deadline is nearer).
const MAX_CALL: Duration = Duration::from_secs(5);
/// Pause before following the map stream of the next node.
const WATCH_RETRY: Duration = Duration::from_millis(200);
/// Pause after every known node refused a metadata proposal.
const PROPOSE_BACKOFF: Duration = Duration::from_millis(100);
/// NOT_LEADER redirects followed at once before each further one waits `REDIRECT_PAUSE`.
const FREE_REDIRECTS: u32 = 3;
const REDIRECT_PAUSE: Duration = Duration::from_millis(50);
/// Pauses between tries of other replicas grow from the first to the second.
const MIN_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// How long a node that failed to answer is avoided while other replicas can serve.
const SUSPECT_FOR: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Partitions a new table gets when its definition asks for none.
    pub partitions_per_table: u32,
    /// How long one backend call may take, retries included.
    pub request_deadline: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            partitions_per_table: 4,
            request_deadline: Duration::from_secs(10),
        }
    }
}

/// The cluster over gRPC. Create it with [`ClusterBackend::connect`]; dropping the last
/// `Arc` stops its map watcher.
pub struct ClusterBackend {
    shared: Arc<Shared>,
    options: ClusterOptions,
    /// The node that last led each (table id, partition), as far as this router knows.
    leaders: Mutex<HashMap<(u32, u32), NodeId>>,
    /// Per partition, the log index of the last write this router saw applied:
    /// eventually consistent reads ask replicas to have applied at least that much, so
    /// clients read their own writes while reads still spread across replicas.
    written: Mutex<HashMap<(u32, u32), u64>>,
    /// Round-robin start of eventually consistent reads.
    next_replica: AtomicUsize,
    /// Nodes that recently failed to answer (refused, timed out, connection lost), and
    /// until when requests avoid them while another replica can serve: a paused or cut
    /// off node must not hold every request for a whole call timeout.
    suspects: Mutex<HashMap<NodeId, Instant>>,
    /// Whether `suspects` may hold anyone: requests take no lock while it is false.
    any_suspect: AtomicBool,
    watcher: AbortHandle,
}

/// What the map watcher and the request paths share.
struct Shared {
    seeds: Vec<String>,
    map: RwLock<Arc<ClusterMap>>,
    /// The epoch of `map`, sent after every install.
    epoch: watch::Sender<u64>,
    channels: Mutex<HashMap<String, Channel>>,
}

impl ClusterBackend {
    /// Starts following the cluster map from `seeds` (`host:port` of any nodes) and
    /// returns at once; see [`ClusterBackend::wait_ready`]. Must run inside a tokio runtime.
    pub fn connect(seeds: Vec<String>, options: ClusterOptions) -> Arc<ClusterBackend> {
        let shared = Arc::new(Shared {
            seeds,
            map: RwLock::new(Arc::new(ClusterMap::default())),
            epoch: watch::Sender::new(0),
            channels: Mutex::new(HashMap::new()),
        });
        let watcher = tokio::spawn(watch_maps(Arc::clone(&shared))).abort_handle();
        Arc::new(ClusterBackend {
            shared,
            options,
            leaders: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            next_replica: AtomicUsize::new(0),
            suspects: Mutex::new(HashMap::new()),
            any_suspect: AtomicBool::new(false),
            watcher,
        })
    }

    /// Resolves once a cluster map with at least one node has arrived.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), BackendError> {
        let mut epochs = self.shared.epoch.subscribe();
        let ready = async {
            loop {
                if !self.map().nodes.is_empty() {
                    return;
                }
                if epochs.changed().await.is_err() {
                    // The sender lives as long as `self`: cannot happen.
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, ready).await.map_err(|_| {
            BackendError::Unavailable(format!(
                "no cluster map from any of the seed nodes {:?} within {} s",
                self.shared.seeds,
                timeout.as_secs_f64()
            ))
        })
    }

    /// The cluster map as this router knows it now.
    pub fn map(&self) -> Arc<ClusterMap> {
        self.shared.map()
    }

    /// Proposes a metadata change to any node, then waits (within `deadline`) until the
    /// cached map has caught up with it, so that the caller's next request sees it.
    async fn apply_meta(&self, command: MetaCommand) -> Result<MetaReply, BackendError> {
        let deadline = Instant::now() + self.options.request_deadline;
        let outcome = self.propose(&command, deadline).await?;
        if !self.wait_for_epoch(outcome.epoch, deadline).await {
            tracing::warn!(
                epoch = outcome.epoch,
                cached = self.map().epoch,
                "cluster map did not catch up with a metadata change in time"
            );
        }
        Ok(outcome.reply)
    }

    async fn propose(
        &self,
        command: &MetaCommand,
        deadline: Instant,
    ) -> Result<MetaOutcome, BackendError> {
        let payload = bincode::serialize(command)
            .map_err(|e| BackendError::Internal(format!("encoding a metadata command: {e}")))?;
        let mut last = String::from("no node is known");
        loop {
            for addr in self.shared.addresses() {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let per_call = (deadline - now).min(MAX_CALL);
                let channel = match self.shared.channel(&addr) {
                    Ok(c) => c,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                };
                let mut client = ClusterClient::new(channel);
                let req = request(
                    pb::ProposeRequest {
                        command: payload.clone(),
                    },
                    per_call,
                );
                match timed(per_call, client.propose(req)).await {
                    Ok(reply) => return decode(&reply.outcome, "metadata outcome"),
                    Err(s) if s.code() == Code::Unavailable => {
                        last = format!("{addr}: {}", status_text(&s));
                        retried("meta_unavailable");
                        tracing::debug!(node = %addr, error = %last, "metadata proposal not taken; trying another node");
                    }
                    // The change may or may not have been applied: do not propose it twice.
                    Err(s) => {
                        return Err(BackendError::Unavailable(format!(
                            "metadata change failed at {addr}: {}",
                            status_text(&s)
                        )))
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(BackendError::Unavailable(format!(
                    "no node took the metadata change within {} s: {last}",
                    self.options.request_deadline.as_secs_f64()
                )));
            }
            tokio::time::sleep_until((now + PROPOSE_BACKOFF).min(deadline)).await;
        }
    }

    /// Waits until the cached map's epoch is at least `epoch`; false at the deadline.
    async fn wait_for_epoch(&self, epoch: u64, deadline: Instant) -> bool {
        let mut epochs = self.shared.epoch.subscribe();
        loop {
            let current = *epochs.borrow_and_update();
            if current >= epoch {
                return true;
            }
            match tokio::time::timeout_at(deadline, epochs.changed()).await {
                Ok(Ok(())) => {}
                _ => return false,
            }
        }
    }

    /// Waits for the next map (or `pause`, or the deadline, whichever comes first).
    async fn wait_map_change(&self, pause: Duration, deadline: Instant) {
        let mut epochs = self.shared.epoch.subscribe();
        let until = (Instant::now() + pause).min(deadline);
        let _ = tokio::time::timeout_at(until, epochs.changed()).await;
    }

    fn note_written(&self, key: (u32, u32), index: u64) {
        let mut written = self.written.lock();
        let entry = written.entry(key).or_insert(0);
        *entry = (*entry).max(index);
    }

    fn written_at(&self, key: (u32, u32)) -> u64 {
        self.written.lock().get(&key).copied().unwrap_or(0)
    }

    fn cached_leader(&self, key: (u32, u32)) -> Option<NodeId> {
        self.leaders.lock().get(&key).copied()
    }

    fn set_leader(&self, key: (u32, u32), node: NodeId) {
        self.leaders.lock().insert(key, node);
    }

    fn is_suspect(&self, node: NodeId) -> bool {
        if !self.any_suspect.load(Ordering::Acquire) {
            return false;
        }
        let mut suspects = self.suspects.lock();
        let now = Instant::now();
        suspects.retain(|_, until| *until > now);
        self.any_suspect
            .store(!suspects.is_empty(), Ordering::Release);
        suspects.contains_key(&node)
    }

    fn suspect(&self, node: NodeId) {
        let mut suspects = self.suspects.lock();
        suspects.insert(node, Instant::now() + SUSPECT_FOR);
        self.any_suspect.store(true, Ordering::Release);
    }

    fn clear_suspect(&self, node: NodeId) {
        if !self.any_suspect.load(Ordering::Acquire) {
            return;
        }
        let mut suspects = self.suspects.lock();
        suspects.remove(&node);
        self.any_suspect
            .store(!suspects.is_empty(), Ordering::Release);
    }

    /// The replica at `turn` or the first after it that is not suspect (all suspect:
    /// the one at `turn`); moves `turn` to it.
    fn pick_replica(&self, replicas: &[NodeId], turn: &mut usize) -> NodeId {
        for step in 0..replicas.len() {
            let i = (*turn + step) % replicas.len();
            if !self.is_suspect(replicas[i]) {
                *turn = i;
                return replicas[i];
            }
        }
        replicas[*turn % replicas.len()]
    }

    fn forget_leader(&self, key: (u32, u32), node: NodeId) {
        let mut leaders = self.leaders.lock();
        if leaders.get(&key) == Some(&node) {
            leaders.remove(&key);
        }
    }

    /// Runs `call` against a replica of a partition chosen by `route`, retrying as the
    /// route allows until an answer or the request deadline.
    async fn call_partition<T, F, Fut>(
        &self,
        def: &TableDef,
        partition: u32,
        route: Route,
        op: &'static str,
        mut call: F,
    ) -> Result<T, BackendError>
    where
        F: FnMut(Channel, pb::PartitionRef, Duration) -> Fut,
        Fut: Future<Output = Result<Answer<T>, Status>>,
    {
        let deadline = Instant::now() + self.options.request_deadline;
        let key = (def.id, partition);
        let mut backoff = Backoff::new();
        let mut redirects = 0u32;
        // Index into the replica list of the next replica to try.
        let mut turn = match route {
            Route::Spread => self.next_replica.fetch_add(1, Ordering::Relaxed),
            Route::Leader { .. } => 0,
        };
        // Replicas tried since the last pause (Spread pauses after a full round).
        let mut tried = 0usize;
        let mut last = String::from("no replica was tried");
        loop {
            let now = Instant::now();
            if now >= deadline {
                let secs = self.options.request_deadline.as_secs_f64();
                return Err(BackendError::Unavailable(match route {
                    Route::Leader { .. } => format!(
                        "no leader for partition {partition} of table {} within {secs}s: {last}",
                        def.name
                    ),
                    Route::Spread => format!(
                        "no replica of partition {partition} of table {} answered within {secs}s: {last}",
                        def.name
                    ),
                }));
            }
            let map = self.map();
            let Some(info) = map
                .replicas(def.id, partition)
                .filter(|i| !i.replicas.is_empty())
            else {
                last = format!(
                    "partition {partition} of table {} is not in the cluster map (epoch {})",
                    def.name, map.epoch
                );
                retried("no_route");
                self.wait_map_change(backoff.next(), deadline).await;
                continue;
            };
            let replicas = &info.replicas;
            let leader = match route {
                Route::Leader { .. } => self
                    .cached_leader(key)
                    .filter(|id| map.node_addr(*id).is_some() && !self.is_suspect(*id)),
                Route::Spread => None,
            };
            let node = match leader {
                Some(l) => l,
                None => self.pick_replica(replicas, &mut turn),
            };
            let partition_ref = pb::PartitionRef {
                table_id: def.id,
                partition,
                epoch: info.epoch,
            };
            let per_call = (deadline - now).min(MAX_CALL);
            let result = match map.node_addr(node) {
                None => Err(format!("node {node} has no address in the cluster map")),
                Some(addr) => match self.shared.channel(addr) {
                    Err(e) => Err(e),
                    Ok(channel) => Ok(call(channel, partition_ref, per_call).await),
                },
            };

            // What to do next, when this attempt did not settle the call.
            let reason: &'static str;
            match result {
                Ok(Ok(Answer::Value(v))) => {
                    self.clear_suspect(node);
                    if matches!(route, Route::Leader { .. }) {
                        self.set_leader(key, node);
                    }
                    return Ok(v);
                }
                Ok(Ok(Answer::Fail(e))) => {
                    if matches!(route, Route::Leader { .. }) {
                        self.set_leader(key, node);
                    }
                    return Err(e);
                }
                Ok(Ok(Answer::Refused(r))) => {
                    let refusal = r.reason();
                    if let Route::Leader { .. } = route {
                        if refusal == Refusal::NotLeader
                            && r.leader_hint != 0
                            && r.leader_hint != node
                            && map.node_addr(r.leader_hint).is_some()
                            && !self.is_suspect(r.leader_hint)
                        {
                            retried("not_leader");
                            tracing::debug!(op, table = %def.name, partition, node, leader = r.leader_hint, "redirected to the leader");
                            self.set_leader(key, r.leader_hint);
                            redirects += 1;
                            if redirects > FREE_REDIRECTS {
                                tokio::time::sleep_until(
                                    (Instant::now() + REDIRECT_PAUSE).min(deadline),
                                )
                                .await;
                            }
                            continue;
                        }
                    }
                    if refusal == Refusal::Throttled {
                        // Over the table's capacity: the client's SDK backs off.
                        return Err(BackendError::Throttled {
                            reason: r.throttling_reason.clone(),
                            resource: def.arn(),
                            on_demand: def.billing_mode
                                == rotor_model::table::BillingMode::PayPerRequest,
                        });
                    }
                    if refusal == Refusal::StaleEpoch {
                        // The partition gave these keys away in a split: nothing was
                        // done; the caller routes again with a newer map.
                        retried("stale_epoch");
                        self.wait_for_epoch(r.epoch, deadline).await;
                        return Err(BackendError::StaleRoute(r.epoch));
                    }
                    reason = match refusal {
                        Refusal::NotLeader => "no_leader",
                        Refusal::StaleEpoch => "stale_epoch",
                        Refusal::UnknownPartition => "unknown_partition",
                        Refusal::Throttled => "throttled",
                        Refusal::None => "refused",
                    };
                    last = format!(
                        "node {node} refused: {} (leader hint {}, its epoch {})",
                        refusal.as_str_name(),
                        r.leader_hint,
                        r.epoch
                    );
                }
                Ok(Err(status)) => {
                    last = format!("node {node}: {}", status_text(&status));
                    if matches!(
                        status.code(),
                        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown
                    ) {
                        self.suspect(node);
                    }
                    let retryable = match route {
                        Route::Leader { idempotent } => idempotent || never_sent(&status),
                        Route::Spread => true,
                    };
                    if !retryable {
                        // The write may or may not have been applied: never apply it twice.
                        return Err(BackendError::Unavailable(format!(
                            "{op} on partition {partition} of table {} failed: {last}",
                            def.name
                        )));
                    }
                    reason = if status.code() == Code::Unavailable {
                        "unavailable"
                    } else {
                        "error"
                    };
                }
                Err(e) => {
                    last = e;
                    reason = "no_address";
                }
            }

            retried(reason);
            tracing::debug!(op, table = %def.name, partition, node, reason, error = %last, "retrying on another replica");
            self.forget_leader(key, node);
            turn = match replicas.iter().position(|r| *r == node) {
                Some(p) => p + 1,
                None => turn.wrapping_add(1),
            };
            tried += 1;
            let pause = match route {
                Route::Leader { .. } => true,
                Route::Spread => tried >= replicas.len(),
            };
            if pause {
                tried = 0;
                tokio::time::sleep_until((Instant::now() + backoff.next()).min(deadline)).await;
            }
        }
    }
}

impl Drop for ClusterBackend {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl Shared {
    fn map(&self) -> Arc<ClusterMap> {
        Arc::clone(&self.map.read())
    }

    /// Every node address known: the map's nodes (by id), then the seeds not among them.
    fn addresses(&self) -> Vec<String> {
        let map = self.map();
        let mut out: Vec<String> = map.nodes.values().map(|n| n.addr.clone()).collect();
        for seed in &self.seeds {
            if !out.contains(seed) {
                out.push(seed.clone());
            }
        }
        out
    }

    /// The channel to a node address, created (unconnected) on first use.
    fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut channels = self.channels.lock();
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad node address {addr:?}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            // Notice within two seconds a node that stopped answering without closing
            // its connections (paused, cut off): calls in flight on it fail instead of
            // waiting out their timeout, and map streams move to another node.
            .http2_keep_alive_interval(Duration::from_secs(1))
            .keep_alive_timeout(Duration::from_secs(1));
        let channel = endpoint.connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Installs `map` if it is newer than the cached one (or the first with nodes).
    fn install(&self, map: ClusterMap) -> bool {
        let mut current = self.map.write();
        let newer = map.epoch > current.epoch;
        let first_with_nodes = current.nodes.is_empty() && !map.nodes.is_empty();
        if !newer && !first_with_nodes {
            return false;
        }
        let epoch = map.epoch;
        let map = Arc::new(map);
        *current = Arc::clone(&map);
        drop(current);
        self.epoch.send_replace(epoch);
        // Channels to addresses no longer in the map (nor seeds) are not needed.
        self.channels.lock().retain(|addr, _| {
            self.seeds.contains(addr) || map.nodes.values().any(|n| n.addr == *addr)
        });
        true
    }
}

/// The map watcher: follows one node's map stream at a time, forever, moving to the next
/// known address whenever a stream ends or fails.
async fn watch_maps(shared: Arc<Shared>) {
    let mut turn = 0usize;
    loop {
        let addrs = shared.addresses();
        if !addrs.is_empty() {
            let addr = &addrs[turn % addrs.len()];
            match follow_map(&shared, addr).await {
                Ok(()) => tracing::debug!(node = %addr, "cluster map stream ended"),
                Err(Broken::Opening(e)) => {
                    tracing::debug!(node = %addr, error = %e, "cannot watch the cluster map")
                }
                Err(Broken::Stream(e)) => {
                    tracing::warn!(node = %addr, error = %e, "cluster map stream broke")
                }
            }
        }
        turn = turn.wrapping_add(1);
        tokio::time::sleep(WATCH_RETRY).await;
    }
}

enum Broken {
    Opening(String),
    Stream(String),
}

async fn follow_map(shared: &Shared, addr: &str) -> Result<(), Broken> {
    let channel = shared.channel(addr).map_err(Broken::Opening)?;
    let after_epoch = shared.map().epoch;
    let mut client = ClusterClient::new(channel);
    let mut stream = timed(MAX_CALL, client.watch_map(pb::WatchRequest { after_epoch }))
        .await
        .map_err(|s| Broken::Opening(status_text(&s)))?;
    loop {
        match stream.message().await {
            Ok(Some(update)) => {
                let map: ClusterMap = bincode::deserialize(&update.map).map_err(|e| {
                    Broken::Stream(format!(
                        "undecodable cluster map (epoch {}): {e}",
                        update.epoch
                    ))
                })?;
                let epoch = map.epoch;
                if shared.install(map) {
                    tracing::debug!(node = %addr, epoch, "cluster map updated");
                }
            }
            Ok(None) => return Ok(()),
            Err(s) => return Err(Broken::Stream(status_text(&s))),
        }
    }
}

/// How a partition call picks its replica.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// The leader. Only `idempotent` calls are retried after an error that leaves their
    /// effect unknown (anything but `Unavailable`, which means "not reached").
    Leader { idempotent: bool },
    /// Any replica, starting at a round-robin one.
    Spread,
}

/// A replica's answer to one partition call.
enum Answer<T> {
    Value(T),
    /// Final: a client error, or a reply this router cannot read.
    Fail(BackendError),
    Refused(pb::Refused),
}

impl<T> From<Result<T, BackendError>> for Answer<T> {
    fn from(r: Result<T, BackendError>) -> Self {
        match r {
            Ok(v) => Answer::Value(v),
            Err(e) => Answer::Fail(e),
        }
    }
}

struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(MIN_BACKOFF)
    }

    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (d * 2).min(MAX_BACKOFF);
        d
    }
}

fn retried(reason: &'static str) {
    metrics::counter!("rotor_router_retries_total", "reason" => reason).increment(1);
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, BackendError> {
    bincode::deserialize(bytes)
        .map_err(|e| BackendError::Internal(format!("undecodable {what} from a node: {e}")))
}

fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, BackendError> {
    bincode::serialize(value).map_err(|e| BackendError::Internal(format!("encoding {what}: {e}")))
}

/// A request that tells the server how long the client waits.
fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.set_timeout(timeout);
    req
}

/// An RPC bounded by `timeout` on this side too.
async fn timed<T>(
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// True when the call failed while connecting, so the node never saw the request and a
/// write may go elsewhere. A connection lost after sending (reset, keep-alive timeout:
/// also `Unavailable`, "http2 error") leaves a write's fate unknown: not retried.
fn never_sent(status: &Status) -> bool {
    status.code() == Code::Unavailable && status.message().contains("connect error")
}

fn status_text(s: &Status) -> String {
    let mut text = format!("{:?}: {}", s.code(), s.message());
    if let Some(source) = std::error::Error::source(s) {
        text.push_str(&format!(" ({source})"));
    }
    text
}

fn unexpected(reply: MetaReply) -> BackendError {
    BackendError::Internal(format!("unexpected metadata reply {reply:?}"))
}

impl Backend for ClusterBackend {
    async fn create_table(&self, mut def: TableDef) -> Result<TableDef, BackendError> {
        if def.partition_count == 0 {
            def.partition_count = self.options.partitions_per_table.max(1);
        }
        match self.apply_meta(MetaCommand::CreateTable { def }).await? {
            MetaReply::Table(def) => {
                tracing::info!(table = %def.name, id = def.id, partitions = def.partition_count, "table created");
                Ok(def)
            }
            MetaReply::TableExists(n) => Err(BackendError::TableExists(n)),
            MetaReply::TableNotFound(n) => Err(BackendError::TableNotFound(n)),
            MetaReply::Refused(why) => Err(BackendError::Invalid(why)),
            other => Err(unexpected(other)),
        }
    }

    async fn update_table(&self, before: &TableDef, after: &TableDef) -> Result<(), BackendError> {
        let command = MetaCommand::UpdateTable {
            def: after.clone(),
            expected: Box::new(before.clone()),
        };
        match self.apply_meta(command).await? {
            MetaReply::Changed(why) => Err(BackendError::Changed(why)),
            MetaReply::Table(_) | MetaReply::Done => Ok(()),
            MetaReply::TableExists(n) => Err(BackendError::TableExists(n)),
            MetaReply::TableNotFound(n) => Err(BackendError::TableNotFound(n)),
            MetaReply::Refused(why) => Err(BackendError::Invalid(why)),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_table(&self, name: &str) -> Result<TableDef, BackendError> {
        let known = self.table(name);
        let command = MetaCommand::DeleteTable {
            name: name.to_owned(),
        };
        let def = match self.apply_meta(command).await? {
            MetaReply::Table(def) => def,
            MetaReply::Done => known.ok_or_else(|| {
                BackendError::Internal(format!(
                    "table {name} was deleted but its definition was not in the cached map"
                ))
            })?,
            MetaReply::TableNotFound(n) => return Err(BackendError::TableNotFound(n)),
            MetaReply::TableExists(n) => return Err(BackendError::TableExists(n)),
            other => return Err(unexpected(other)),
        };
        tracing::info!(table = %def.name, id = def.id, "table deleted");
        Ok(def)
    }

    fn table(&self, name: &str) -> Option<TableDef> {
        self.map().table(name).map(|t| t.def.clone())
    }

    fn table_names(&self) -> Vec<String> {
        self.map().tables.keys().cloned().collect()
    }

    fn table_moving(&self, name: &str) -> bool {
        self.map().table_moving(name)
    }

    fn scaling_activities(&self, name: &str) -> Vec<rotor_model::table::ScalingActivity> {
        self.map()
            .table(name)
            .map(|t| t.scaling_activities.clone())
            .unwrap_or_default()
    }

    async fn table_stats(&self, def: &TableDef) -> Result<TableStats, BackendError> {
        let partitions = match self.map().table_by_id(def.id) {
            Some(entry) => entry.partitions.len() as u32,
            None => return Err(BackendError::TableNotFound(def.name.clone())),
        };
        // Like an eventually consistent read of each partition (any replica that has
        // applied this router's writes), all partitions at once.
        let replies = futures::future::join_all((0..partitions).map(|p| {
            let min_applied = self.written_at((def.id, p));
            self.call_partition(
                def,
                p,
                Route::Spread,
                "stats",
                move |channel, partition, t| {
                    let req = pb::StatsRequest {
                        partition: Some(partition),
                        min_applied,
                    };
                    async move {
                        let mut client = PartitionClient::new(channel);
                        let reply = timed(t, client.stats(request(req, t))).await?;
                        Ok(match reply.result {
                            Some(pb::stats_reply::Result::Stats(b)) => {
                                decode::<TableStats>(&b, "table stats").into()
                            }
                            Some(pb::stats_reply::Result::Refused(r)) => Answer::Refused(r),
                            None => Answer::Fail(BackendError::Internal(
                                "empty stats reply from a node".into(),
                            )),
                        })
                    }
                },
            )
        }))
        .await;
        let mut total = TableStats::default();
        for stats in replies {
            let stats = stats?;
            total.item_count += stats.item_count;
            total.size_bytes += stats.size_bytes;
        }
        Ok(total)
    }

    async fn write(
        &self,
        def: &TableDef,
        partition: u32,
        req: WriteRequest,
    ) -> Result<WriteOutcome, BackendError> {
        let payload = encode(&req, "a write")?;
        let mut partition = partition;
        for _ in 0..MAX_REROUTES {
            match self.write_once(def, partition, &payload).await {
                Err(BackendError::StaleRoute(_)) => {
                    partition = self.reroute(def, &req.item_key)?;
                }
                other => return other,
            }
        }
        Err(self.too_many_reroutes(def))
    }

    async fn get(
        &self,
        def: &TableDef,
        partition: u32,
        item_key: Vec<u8>,
        consistent: bool,
    ) -> Result<Option<Item>, BackendError> {
        let mut partition = partition;
        for _ in 0..MAX_REROUTES {
            match self.get_once(def, partition, &item_key, consistent).await {
                Err(BackendError::StaleRoute(_)) => {
                    partition = self.reroute(def, &item_key)?;
                }
                other => return other,
            }
        }
        Err(self.too_many_reroutes(def))
    }

    async fn read_range(
        &self,
        def: &TableDef,
        partition: u32,
        range: ReadRange,
        consistent: bool,
    ) -> Result<RangePage, BackendError> {
        let mut partition = partition;
        for _ in 0..MAX_REROUTES {
            match self
                .read_range_once(def, partition, &range, consistent)
                .await
            {
                Err(BackendError::StaleRoute(epoch)) => {
                    // Transparent when the whole range now lies in one partition (a
                    // Query); a Scan's range across partitions is the caller's to cut.
                    partition = self.reroute(def, &range.start)?;
                    let map = self.map();
                    let fits = map.table_by_id(def.id).is_some_and(|t| {
                        t.def
                            .partition_tokens(partition)
                            .is_some_and(|r| r.holds_keys(def.id, &range.start, &range.end))
                    });
                    if !fits {
                        return Err(BackendError::StaleRoute(epoch));
                    }
                }
                other => return other,
            }
        }
        Err(self.too_many_reroutes(def))
    }
}

impl ClusterBackend {
    /// The partition that owns a storage key in the current map.
    fn reroute(&self, def: &TableDef, item_key: &[u8]) -> Result<u32, BackendError> {
        let map = self.map();
        let entry = map
            .table_by_id(def.id)
            .ok_or_else(|| BackendError::TableNotFound(def.name.clone()))?;
        let token = rotor_model::keys::token_of_item_key(item_key)
            .ok_or_else(|| BackendError::Internal("a storage key without a token".into()))?;
        Ok(entry.def.partition_of_token(token))
    }

    fn too_many_reroutes(&self, def: &TableDef) -> BackendError {
        BackendError::Unavailable(format!(
            "the partitions of table {} kept changing while the request was routed; retry",
            def.name
        ))
    }

    async fn write_once(
        &self,
        def: &TableDef,
        partition: u32,
        payload: &[u8],
    ) -> Result<WriteOutcome, BackendError> {
        let route = Route::Leader { idempotent: false };
        let (outcome, index) = self
            .call_partition(def, partition, route, "write", |channel, partition, t| {
                let req = pb::WriteRequest {
                    partition: Some(partition),
                    payload: payload.to_vec(),
                };
                async move {
                    let mut client = PartitionClient::new(channel);
                    let reply = timed(t, client.write(request(req, t))).await?;
                    let index = reply.log_index;
                    Ok(match reply.result {
                        Some(pb::write_reply::Result::Outcome(b)) => {
                            decode::<WriteOutcome>(&b, "write outcome")
                                .map(|o| (o, index))
                                .into()
                        }
                        Some(pb::write_reply::Result::Validation(msg)) => {
                            Answer::Fail(BackendError::Model(ModelError::Validation(msg)))
                        }
                        Some(pb::write_reply::Result::Refused(r)) => Answer::Refused(r),
                        None => Answer::Fail(BackendError::Internal(
                            "empty write reply from a node".into(),
                        )),
                    })
                }
            })
            .await?;
        self.note_written((def.id, partition), index);
        Ok(outcome)
    }

    async fn get_once(
        &self,
        def: &TableDef,
        partition: u32,
        item_key: &[u8],
        consistent: bool,
    ) -> Result<Option<Item>, BackendError> {
        let route = if consistent {
            Route::Leader { idempotent: true }
        } else {
            Route::Spread
        };
        let min_applied = self.written_at((def.id, partition));
        let (item, applied) = self
            .call_partition(def, partition, route, "get", |channel, partition, t| {
                let req = pb::GetRequest {
                    partition: Some(partition),
                    item_key: item_key.to_vec(),
                    consistent,
                    min_applied,
                };
                async move {
                    let mut client = PartitionClient::new(channel);
                    let reply = timed(t, client.get(request(req, t))).await?;
                    let applied = reply.applied_index;
                    Ok(match reply.result {
                        Some(pb::get_reply::Result::Item(b)) => decode::<Item>(&b, "item")
                            .map(|item| (Some(item), applied))
                            .into(),
                        Some(pb::get_reply::Result::NotFound(_)) => Answer::Value((None, applied)),
                        Some(pb::get_reply::Result::Refused(r)) => Answer::Refused(r),
                        None => Answer::Fail(BackendError::Internal(
                            "empty get reply from a node".into(),
                        )),
                    })
                }
            })
            .await?;
        // Later reads through this router see at least what this one saw.
        self.note_written((def.id, partition), applied);
        Ok(item)
    }

    async fn read_range_once(
        &self,
        def: &TableDef,
        partition: u32,
        range: &ReadRange,
        consistent: bool,
    ) -> Result<RangePage, BackendError> {
        let encoded = encode(range, "a read range")?;
        let route = if consistent {
            Route::Leader { idempotent: true }
        } else {
            Route::Spread
        };
        let min_applied = self.written_at((def.id, partition));
        let (page, applied) = self
            .call_partition(
                def,
                partition,
                route,
                "read_range",
                |channel, partition, t| {
                    let req = pb::ReadRangeRequest {
                        partition: Some(partition),
                        range: encoded.clone(),
                        consistent,
                        min_applied,
                    };
                    async move {
                        let mut client = PartitionClient::new(channel);
                        let reply = timed(t, client.read_range(request(req, t))).await?;
                        let applied = reply.applied_index;
                        Ok(match reply.result {
                            Some(pb::read_range_reply::Result::Page(b)) => {
                                decode::<RangePage>(&b, "range page")
                                    .map(|page| (page, applied))
                                    .into()
                            }
                            Some(pb::read_range_reply::Result::Refused(r)) => Answer::Refused(r),
                            None => Answer::Fail(BackendError::Internal(
                                "empty read range reply from a node".into(),
                            )),
                        })
                    }
                },
            )
            .await?;
        self.note_written((def.id, partition), applied);
        Ok(page)
    }
}

#[cfg(test)]
mod never_sent_tests {
    use super::*;

    /// Found by the chaos suite (isolate-leader, seed 1): a write whose connection was
    /// dropped by the keep-alive after it was sent came back `Unavailable` and was sent
    /// again to the next leader, so a counter counted one ADD twice.
    #[test]
    fn only_connect_failures_count_as_never_sent() {
        assert!(never_sent(&Status::unavailable("tcp connect error")));
        assert!(!never_sent(&Status::unavailable("http2 error")));
        assert!(!never_sent(&Status::unknown("transport error")));
        assert!(!never_sent(&Status::deadline_exceeded(
            "no answer within 5000 ms"
        )));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicU32;

    use rotor_model::cluster::{NodeInfo, NodeState, PartitionInfo, TableEntry};
    use rotor_model::write::WriteCommand;
    use rotor_model::AttributeValue;
    use rotor_proto::v1::cluster_server::{Cluster, ClusterServer};
    use rotor_proto::v1::partition_server::{Partition, PartitionServer};
    use tokio::net::TcpListener;
    use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
    use tonic::{Request, Response};

    use super::*;

    /// One fake node's partition service: leads every partition or redirects to `leader`.
    struct FakePartition {
        id: NodeId,
        leader: NodeId,
        item: Item,
        calls: Arc<AtomicU32>,
    }

    impl FakePartition {
        fn refused(&self) -> pb::Refused {
            pb::Refused {
                reason: Refusal::NotLeader as i32,
                leader_hint: self.leader,
                epoch: 0,
                throttling_reason: String::new(),
            }
        }
    }

    #[tonic::async_trait]
    impl Partition for FakePartition {
        async fn write(
            &self,
            req: Request<pb::WriteRequest>,
        ) -> Result<Response<pb::WriteReply>, Status> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            use pb::write_reply::Result as R;
            if self.id != self.leader {
                let result = Some(R::Refused(self.refused()));
                return Ok(Response::new(pb::WriteReply {
                    result,
                    log_index: 1,
                }));
            }
            let write: WriteRequest = bincode::deserialize(&req.into_inner().payload)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let WriteCommand::Put { item, .. } = write.command else {
                let result = Some(R::Validation("only puts here".into()));
                return Ok(Response::new(pb::WriteReply {
                    result,
                    log_index: 1,
                }));
            };
            let outcome = WriteOutcome::Applied {
                old: None,
                new: Some(item),
            };
            let result = Some(R::Outcome(bincode::serialize(&outcome).unwrap()));
            Ok(Response::new(pb::WriteReply {
                result,
                log_index: 1,
            }))
        }

        async fn get(
            &self,
            req: Request<pb::GetRequest>,
        ) -> Result<Response<pb::GetReply>, Status> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            use pb::get_reply::Result as R;
            let req = req.into_inner();
            let result = if req.consistent && self.id != self.leader {
                R::Refused(self.refused())
            } else if req.item_key == b"k" {
                R::Item(bincode::serialize(&self.item).unwrap())
            } else {
                R::NotFound(true)
            };
            Ok(Response::new(pb::GetReply {
                result: Some(result),
                applied_index: 0,
            }))
        }

        async fn read_range(
            &self,
            _req: Request<pb::ReadRangeRequest>,
        ) -> Result<Response<pb::ReadRangeReply>, Status> {
            let page = bincode::serialize(&RangePage::default()).unwrap();
            Ok(Response::new(pb::ReadRangeReply {
                result: Some(pb::read_range_reply::Result::Page(page)),
                applied_index: 0,
            }))
        }

        async fn stats(
            &self,
            _req: Request<pb::StatsRequest>,
        ) -> Result<Response<pb::StatsReply>, Status> {
            let stats = TableStats {
                item_count: 1,
                size_bytes: 10,
            };
            Ok(Response::new(pb::StatsReply {
                result: Some(pb::stats_reply::Result::Stats(
                    bincode::serialize(&stats).unwrap(),
                )),
            }))
        }
    }

    /// The metadata service every fake node shares: applies CreateTable to its map and
    /// publishes the new map to watchers only after `publish_delay`.
    struct FakeCluster {
        map: watch::Sender<ClusterMap>,
        /// The map as proposals leave it (published later).
        pending: Mutex<ClusterMap>,
        publish_delay: Duration,
    }

    #[tonic::async_trait]
    impl Cluster for FakeCluster {
        async fn join(
            &self,
            _req: Request<pb::JoinRequest>,
        ) -> Result<Response<pb::JoinReply>, Status> {
            Err(Status::unimplemented("join"))
        }

        async fn propose(
            &self,
            req: Request<pb::ProposeRequest>,
        ) -> Result<Response<pb::ProposeReply>, Status> {
            let command: MetaCommand = bincode::deserialize(&req.into_inner().command)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let (epoch, reply, next) = {
                let mut map = self.pending.lock();
                let reply = match command {
                    MetaCommand::CreateTable { mut def } => {
                        if map.tables.contains_key(&def.name) {
                            MetaReply::TableExists(def.name)
                        } else {
                            map.epoch += 1;
                            map.next_table_id += 1;
                            def.id = map.next_table_id;
                            let nodes: Vec<NodeId> = map.nodes.keys().copied().collect();
                            let partitions = (0..def.partition_count)
                                .map(|p| PartitionInfo {
                                    replicas: nodes.clone(),
                                    epoch: map.epoch,
                                    initial: def
                                        .partition_tokens(p)
                                        .unwrap_or(rotor_model::table::TokenRange::ALL),
                                    split_from: None,
                                    pinned: None,
                                })
                                .collect();
                            map.tables.insert(
                                def.name.clone(),
                                TableEntry {
                                    def: def.clone(),
                                    partitions,
                                    scaling_activities: Vec::new(),
                                },
                            );
                            MetaReply::Table(def)
                        }
                    }
                    _ => MetaReply::Done,
                };
                (map.epoch, reply, map.clone())
            };
            let publish = self.map.clone();
            let delay = self.publish_delay;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                publish.send_replace(next);
            });
            let outcome = bincode::serialize(&MetaOutcome { epoch, reply }).unwrap();
            Ok(Response::new(pb::ProposeReply { outcome }))
        }

        type WatchMapStream = ReceiverStream<Result<pb::MapUpdate, Status>>;

        async fn watch_map(
            &self,
            req: Request<pb::WatchRequest>,
        ) -> Result<Response<Self::WatchMapStream>, Status> {
            let mut after = req.into_inner().after_epoch;
            let mut maps = self.map.subscribe();
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tokio::spawn(async move {
                loop {
                    let map = maps.borrow_and_update().clone();
                    if map.epoch > after || after == 0 {
                        after = map.epoch;
                        let update = pb::MapUpdate {
                            epoch: map.epoch,
                            map: bincode::serialize(&map).unwrap(),
                        };
                        if tx.send(Ok(update)).await.is_err() {
                            return;
                        }
                    }
                    if maps.changed().await.is_err() {
                        return;
                    }
                }
            });
            Ok(Response::new(ReceiverStream::new(rx)))
        }

        async fn status(
            &self,
            _req: Request<pb::StatusRequest>,
        ) -> Result<Response<pb::StatusReply>, Status> {
            Err(Status::unimplemented("status"))
        }

        async fn drain(
            &self,
            _req: Request<pb::DrainRequest>,
        ) -> Result<Response<pb::DrainReply>, Status> {
            Err(Status::unimplemented("not needed by these tests"))
        }

        async fn change_replicas(
            &self,
            _req: Request<pb::ChangeReplicasRequest>,
        ) -> Result<Response<pb::ChangeReplicasReply>, Status> {
            Err(Status::unimplemented("not needed by these tests"))
        }
        async fn load(
            &self,
            _req: Request<pb::LoadRequest>,
        ) -> Result<Response<pb::LoadReply>, Status> {
            Err(Status::unimplemented("not needed by these tests"))
        }
        async fn split_point(
            &self,
            _req: Request<pb::SplitPointRequest>,
        ) -> Result<Response<pb::SplitPointReply>, Status> {
            Err(Status::unimplemented("not needed by these tests"))
        }
    }

    fn item() -> Item {
        BTreeMap::from([("pk".to_owned(), AttributeValue::S("k".into()))])
    }

    fn table_def(name: &str, id: u32, partitions: u32) -> TableDef {
        TableDef {
            id,
            partition_count: partitions,
            ..TableDef::keyed_by_pk(name)
        }
    }

    /// An address nothing listens on (a port the OS just handed out and took back).
    async fn dead_addr() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    /// A fake cluster: nodes 1..=`live.len()` (node i is dead unless `live[i-1]`), every
    /// live one serving the partition service (with `leader` leading) and the shared
    /// metadata service. The map holds table "t" (id 1, one partition on every node).
    struct Fake {
        backend: Arc<ClusterBackend>,
        calls: Vec<Arc<AtomicU32>>,
        cluster: Arc<FakeCluster>,
    }

    async fn fake_cluster(live: &[bool], leader: NodeId, publish_delay: Duration) -> Fake {
        let mut listeners = Vec::new();
        let mut nodes = BTreeMap::new();
        for (i, up) in live.iter().enumerate() {
            let id = i as NodeId + 1;
            let addr = if *up {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = l.local_addr().unwrap();
                listeners.push((id, l));
                addr
            } else {
                dead_addr().await
            };
            let info = NodeInfo {
                addr: addr.to_string(),
                state: NodeState::Active,
            };
            nodes.insert(id, info);
        }
        let def = table_def("t", 1, 1);
        let partitions = vec![PartitionInfo {
            replicas: nodes.keys().copied().collect(),
            epoch: 1,
            initial: rotor_model::table::TokenRange::ALL,
            split_from: None,
            pinned: None,
        }];
        let map = ClusterMap {
            epoch: 1,
            nodes: nodes.clone(),
            tables: BTreeMap::from([(
                "t".to_owned(),
                TableEntry {
                    def,
                    partitions,
                    scaling_activities: Vec::new(),
                },
            )]),
            next_table_id: 1,
            partition_capacity: None,
        };
        let cluster = Arc::new(FakeCluster {
            map: watch::Sender::new(map.clone()),
            pending: Mutex::new(map),
            publish_delay,
        });
        let calls: Vec<Arc<AtomicU32>> = live.iter().map(|_| Arc::default()).collect();
        let mut seeds = Vec::new();
        for (id, listener) in listeners {
            seeds.push(nodes[&id].addr.clone());
            let partition = FakePartition {
                id,
                leader,
                item: item(),
                calls: Arc::clone(&calls[id as usize - 1]),
            };
            let router = tonic::transport::Server::builder()
                .add_service(PartitionServer::new(partition))
                .add_service(ClusterServer::from_arc(Arc::clone(&cluster)));
            tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
        }
        let options = ClusterOptions {
            partitions_per_table: 2,
            request_deadline: Duration::from_secs(5),
        };
        let backend = ClusterBackend::connect(seeds, options);
        backend.wait_ready(Duration::from_secs(5)).await.unwrap();
        Fake {
            backend,
            calls,
            cluster,
        }
    }

    #[tokio::test]
    async fn write_follows_the_leader_hint() {
        let fake = fake_cluster(&[true, true], 2, Duration::ZERO).await;
        let def = fake.backend.table("t").unwrap();
        let req = WriteRequest {
            table_id: def.id,
            item_key: b"k".to_vec(),
            command: WriteCommand::Put {
                item: item(),
                condition: None,
            },
        };
        let outcome = fake.backend.write(&def, 0, req.clone()).await.unwrap();
        assert_eq!(
            outcome,
            WriteOutcome::Applied {
                old: None,
                new: Some(item())
            }
        );
        // Node 1 (the first replica) redirected, node 2 applied it.
        assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
        assert_eq!(fake.calls[1].load(Ordering::SeqCst), 1);
        // The leader is remembered: the next write goes straight to it.
        fake.backend.write(&def, 0, req).await.unwrap();
        assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
        assert_eq!(fake.calls[1].load(Ordering::SeqCst), 2);
        // A consistent read also ends at the leader.
        let got = fake
            .backend
            .get(&def, 0, b"k".to_vec(), true)
            .await
            .unwrap();
        assert_eq!(got, Some(item()));
        assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn eventual_get_skips_a_dead_replica() {
        // Node 1, the first replica (where the round robin starts), is down.
        let fake = fake_cluster(&[false, true], 2, Duration::ZERO).await;
        let def = fake.backend.table("t").unwrap();
        for _ in 0..3 {
            let got = fake.backend.get(&def, 0, b"k".to_vec(), false).await;
            assert_eq!(got.unwrap(), Some(item()));
        }
        let missing = fake.backend.get(&def, 0, b"other".to_vec(), false).await;
        assert_eq!(missing.unwrap(), None);
        assert_eq!(fake.calls[1].load(Ordering::SeqCst), 4);
        let page = fake.backend.read_range(
            &def,
            0,
            ReadRange {
                start: vec![],
                end: vec![0xff],
                reverse: false,
                max_items: None,
                max_bytes: 1 << 20,
            },
            false,
        );
        assert_eq!(page.await.unwrap(), RangePage::default());
    }

    #[tokio::test]
    async fn write_skips_a_dead_first_replica() {
        // A refused connection is "not reached" (gRPC Unavailable): safe to try elsewhere.
        let fake = fake_cluster(&[false, true], 2, Duration::ZERO).await;
        let def = fake.backend.table("t").unwrap();
        let req = WriteRequest {
            table_id: def.id,
            item_key: b"k".to_vec(),
            command: WriteCommand::Put {
                item: item(),
                condition: None,
            },
        };
        fake.backend.write(&def, 0, req).await.unwrap();
        assert_eq!(fake.calls[1].load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn create_table_waits_for_the_map() {
        let fake = fake_cluster(&[true, true], 1, Duration::from_millis(300)).await;
        let created = fake
            .backend
            .create_table(table_def("fresh", 0, 0))
            .await
            .unwrap();
        assert_eq!(created.partition_count, 2);
        assert_eq!(created.id, 2);
        // The new map was published 300 ms after the proposal was answered.
        assert_eq!(fake.backend.table("fresh"), Some(created.clone()));
        assert_eq!(fake.backend.table_names(), vec!["fresh", "t"]);
        assert_eq!(fake.backend.map().epoch, 2);
        let stats = fake.backend.table_stats(&created).await.unwrap();
        assert_eq!(stats.item_count, 2);
        assert_eq!(stats.size_bytes, 20);

        let again = fake.backend.create_table(table_def("fresh", 0, 0)).await;
        assert!(matches!(again, Err(BackendError::TableExists(n)) if n == "fresh"));
        assert_eq!(fake.cluster.map.borrow().epoch, 2);
    }

    #[tokio::test]
    async fn wait_ready_names_the_seeds() {
        let dead = dead_addr().await.to_string();
        let backend = ClusterBackend::connect(vec![dead.clone()], ClusterOptions::default());
        let err = backend
            .wait_ready(Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BackendError::Unavailable(m) if m.contains(&dead)),
            "{err}"
        );
    }
}
