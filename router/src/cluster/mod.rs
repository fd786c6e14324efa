//! `ClusterBackend`: the router's [`Backend`] over gRPC to Rotor storage nodes.
//!
//! It owns the router's copy of the cluster map (kept fresh by a task that follows
//! `Cluster.WatchMap` on any reachable node), one lazily connected channel per node
//! address, the cache of partition leaders, and the retry policy of every call: writes and
//! consistent reads go to the leader (following NOT_LEADER hints), eventually consistent
//! reads are spread over the replicas, metadata changes are proposed to any node (which
//! forwards them to the metadata leader).

mod backend_impl;
mod index_write;
pub use index_write::IndexWriteError;
mod map;
mod meta;
#[cfg(test)]
mod never_sent_tests;
mod route;
mod rpc;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rotor_model::cluster::{ClusterMap, NodeId};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tonic::transport::Channel;

#[cfg(doc)]
use crate::backend::Backend;
use crate::backend::BackendError;
use map::watch_maps;

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
}

impl Drop for ClusterBackend {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}
