//! Routing one call to a partition: the leader cache, the read-your-writes index, the
//! nodes under suspicion, and the retry loop that follows NOT_LEADER hints, skips replicas
//! that fail to answer and backs off until the request deadline.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rotor_model::cluster::NodeId;
use rotor_model::table::TableDef;
use rotor_proto::v1 as pb;
use rotor_proto::v1::Refusal;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::rpc::{never_sent, retried, status_text};
use super::{
    ClusterBackend, FREE_REDIRECTS, MAX_BACKOFF, MAX_CALL, MIN_BACKOFF, REDIRECT_PAUSE, SUSPECT_FOR,
};
use crate::backend::BackendError;

impl ClusterBackend {
    pub(super) fn note_written(&self, key: (u32, u32), index: u64) {
        let mut written = self.written.lock();
        let entry = written.entry(key).or_insert(0);
        *entry = (*entry).max(index);
    }

    pub(super) fn written_at(&self, key: (u32, u32)) -> u64 {
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
    pub(super) async fn call_partition<T, F, Fut>(
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
                        Refusal::NotReleased => "not_released",
                        Refusal::BackfillRestart => "backfill_restart",
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

/// How a partition call picks its replica.
#[derive(Debug, Clone, Copy)]
pub(super) enum Route {
    /// The leader. Only `idempotent` calls are retried after an error that leaves their
    /// effect unknown (anything but `Unavailable`, which means "not reached").
    Leader { idempotent: bool },
    /// Any replica, starting at a round-robin one.
    Spread,
}

/// A replica's answer to one partition call.
pub(super) enum Answer<T> {
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
