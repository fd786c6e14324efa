//! The router's copy of the cluster map: the channels to node addresses, the task that
//! follows `Cluster.WatchMap` on one reachable node after another and installs each newer
//! map, and the waits for the cached map to reach an epoch.

use std::sync::Arc;
use std::time::Duration;

use rotor_model::cluster::ClusterMap;
use rotor_proto::v1 as pb;
use rotor_proto::v1::cluster_client::ClusterClient;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use super::rpc::{status_text, timed};
use super::{ClusterBackend, Shared, CONNECT_TIMEOUT, MAX_CALL, WATCH_RETRY};

impl ClusterBackend {
    /// Waits until the cached map's epoch is at least `epoch`; false at the deadline.
    pub(super) async fn wait_for_epoch(&self, epoch: u64, deadline: Instant) -> bool {
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
    pub(super) async fn wait_map_change(&self, pause: Duration, deadline: Instant) {
        let mut epochs = self.shared.epoch.subscribe();
        let until = (Instant::now() + pause).min(deadline);
        let _ = tokio::time::timeout_at(until, epochs.changed()).await;
    }
}

impl Shared {
    pub(super) fn map(&self) -> Arc<ClusterMap> {
        Arc::clone(&self.map.read())
    }

    /// Every node address known: the map's nodes (by id), then the seeds not among them.
    pub(super) fn addresses(&self) -> Vec<String> {
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
    pub(super) fn channel(&self, addr: &str) -> Result<Channel, String> {
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
pub(super) async fn watch_maps(shared: Arc<Shared>) {
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
                let map = update
                    .map
                    .ok_or(rotor_proto::WireError::Missing("MapUpdate.map"))
                    .and_then(ClusterMap::try_from)
                    .map_err(|e| {
                        Broken::Stream(format!(
                            "unreadable cluster map (epoch {}): {e}",
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
