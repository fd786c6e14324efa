//! A storage node: one RocksDB, the metadata group's replica, and a raft group per
//! partition replica the cluster map assigns to this node.
//!
//! The reconciler watches the map (the metadata group's state machine publishes it) and
//! opens, forms or closes partition groups to match it: the first replica listed for a
//! partition forms its group (a split's half starts formed on every replica that
//! applied the split); a table that disappears from the map has its groups shut
//! down and its data removed.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::BasicNode;
use parking_lot::RwLock;
use rotor_model::cluster::{ClusterMap, MetaCommand, MetaOutcome, NodeId, META_GROUP};
use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::{JoinRequest, ProposeRequest};
use rotor_storage::{Engine, GroupLog};
use tokio::sync::watch;

use crate::autoscaler::{AutoscaleConfig, Autoscaler};
use crate::raft::log_store::LogStore;
use crate::raft::network::{NetworkFactory, Peers};
use crate::raft::quiet::{GroupQuiet, Liveness};
use crate::raft::state_machine::{Machine, StateMachine};
use crate::raft::{Command, Raft, RaftSettings, Reply};

mod formation;
mod moves;
mod quiescence;
mod reconcile;
mod replica;

use replica::spawn_leader_log;
pub use replica::PartitionGroup;

/// How long a join or a metadata proposal sent to another node may take: a peer that
/// stops answering must not hang the caller (the caller retries).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

fn bounded<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(FORWARD_TIMEOUT);
    request
}

/// Settings of one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: NodeId,
    /// Where the gRPC server listens.
    pub listen: SocketAddr,
    /// The address other nodes and routers use to reach it.
    pub advertise: String,
    pub data_dir: PathBuf,
    /// Address of a node of an existing cluster; `None` bootstraps a new cluster.
    pub join: Option<String>,
    pub raft: RaftSettings,
    pub autoscale: AutoscaleConfig,
}

pub struct Host {
    pub id: NodeId,
    pub addr: String,
    pub engine: Arc<Engine>,
    pub peers: Arc<Peers>,
    pub meta: Raft,
    pub map: watch::Receiver<Arc<ClusterMap>>,
    config: Arc<openraft::Config>,
    snapshot_dir: PathBuf,
    groups: RwLock<HashMap<u64, Arc<PartitionGroup>>>,
    /// On the metadata leader: the map epoch at which each partition group's voters
    /// were last confirmed to match its listed replicas.
    verified: parking_lot::Mutex<HashMap<u64, u64>>,
    /// The node found cluster state on disk when it opened.
    restarted: bool,
    /// Wakes the reconciler before its next round (a split was applied here).
    reconcile_now: Arc<tokio::sync::Notify>,
    /// Splits applied here (parent group, child partition), for the host to act on.
    splits_applied: tokio::sync::mpsc::UnboundedSender<(u64, u32)>,
    splits_rx: parking_lot::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<(u64, u32)>>>,
    /// On the metadata leader: measures partitions and splits the hot and the large.
    pub autoscaler: Arc<Autoscaler>,
    /// The metadata group's quiescence (the partition groups' are theirs).
    pub meta_quiet: Arc<GroupQuiet>,
    /// Which peer nodes answer pings.
    pub liveness: Arc<Liveness>,
    /// A group idle this long goes quiet (zero: never).
    quiesce_after: Duration,
    /// Routes this node's index writes (made when a first index is fed from here).
    index_client: std::sync::OnceLock<Arc<rotor_router::ClusterBackend>>,
}

/// Errors of metadata proposals as the API edge needs to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    #[error("the metadata group has no leader yet; retry shortly")]
    NoLeader,
    #[error("metadata leader unreachable: {0}")]
    Forward(String),
    #[error("metadata group failed: {0}")]
    Raft(String),
}

impl Host {
    /// What feeding global secondary indexes from this node's partitions needs. Runs
    /// in the node's runtime (the index writes' router starts there).
    pub(crate) fn index_feeder(&self) -> crate::index::propagate::Feeder {
        let client = self
            .index_client
            .get_or_init(|| {
                rotor_router::ClusterBackend::connect(
                    vec![self.addr.clone()],
                    rotor_router::ClusterOptions::default(),
                )
            })
            .clone();
        crate::index::propagate::Feeder {
            node: self.id,
            engine: self.engine.clone(),
            map: self.map.clone(),
            client,
            lease: self.liveness.dead_after,
        }
    }

    /// Opens the node's storage and its metadata replica (not yet serving).
    pub async fn open(cfg: &NodeConfig) -> anyhow::Result<Arc<Host>> {
        let db_dir = cfg.data_dir.join("db");
        let snapshot_dir = cfg.data_dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir)
            .with_context(|| format!("cannot create {}", snapshot_dir.display()))?;
        let engine = Arc::new(
            Engine::open_upgrading(&db_dir, &crate::raft::legacy::LegacyRaftRecords).with_context(
                || {
                    format!(
                        "cannot open the data in {} (is another rotor using it?)",
                        db_dir.display()
                    )
                },
            )?,
        );
        let config = Arc::new(cfg.raft.config()?);
        let peers = Arc::new(Peers::default());
        let (map_tx, map_rx) = watch::channel(Arc::new(ClusterMap::default()));
        let log = GroupLog::new(engine.clone(), META_GROUP);
        // A vote or a log on disk: this node has been part of a cluster before.
        let restarted = log.record("vote")?.is_some() || log.last_entry()?.is_some();
        let sm = StateMachine::open(
            log.clone(),
            Machine::Meta { map: map_tx },
            snapshot_dir.clone(),
        )?;
        let meta_quiet = GroupQuiet::new();
        let meta = Raft::new(
            cfg.id,
            config.clone(),
            NetworkFactory {
                group: META_GROUP,
                peers: peers.clone(),
                quiet: meta_quiet.clone(),
            },
            LogStore::new(log),
            sm,
        )
        .await?;
        meta_quiet.attach(meta.clone());
        let (splits_applied, splits_rx) = tokio::sync::mpsc::unbounded_channel();
        Ok(Arc::new(Host {
            reconcile_now: Arc::new(tokio::sync::Notify::new()),
            splits_applied,
            splits_rx: parking_lot::Mutex::new(Some(splits_rx)),
            autoscaler: Arc::new(Autoscaler::new(cfg.autoscale.clone())),
            id: cfg.id,
            addr: cfg.advertise.clone(),
            engine,
            peers,
            meta,
            map: map_rx,
            config,
            snapshot_dir,
            groups: RwLock::new(HashMap::new()),
            verified: parking_lot::Mutex::new(HashMap::new()),
            restarted,
            meta_quiet,
            liveness: Liveness::new(Duration::from_millis(cfg.raft.election_max_ms)),
            quiesce_after: Duration::from_millis(cfg.raft.quiesce_after_ms),
            index_client: std::sync::OnceLock::new(),
        }))
    }

    /// Bootstraps or joins the cluster, then keeps partition groups in line with the map.
    /// Call once the gRPC server is serving.
    pub async fn start(self: &Arc<Host>, join: Option<String>) -> anyhow::Result<()> {
        if self.restarted {
            // A restart: serve at once from the groups on disk, and re-register the
            // address in the background (the metadata group may still lack a quorum,
            // e.g. when every node restarts together).
            tracing::info!(
                node = self.id,
                "restarting as a member of an existing cluster"
            );
            let host = self.clone();
            tokio::spawn(async move {
                let result = match join {
                    None => host.bootstrap().await,
                    Some(addr) => host.join(&addr).await,
                };
                if let Err(e) = result {
                    tracing::error!("cannot re-register with the cluster: {e:#}");
                }
            });
        } else {
            match join {
                None => self.bootstrap().await?,
                Some(addr) => self.join(&addr).await?,
            }
        }
        let host = self.clone();
        tokio::spawn(async move { host.reconcile_forever().await });
        let host = self.clone();
        tokio::spawn(async move { host.rebalance_forever().await });
        if let Some(rx) = self.splits_rx.lock().take() {
            let host = self.clone();
            tokio::spawn(async move { host.after_splits(rx).await });
        }
        let host = self.clone();
        tokio::spawn(async move { crate::autoscaler::run(host).await });
        if !self.quiesce_after.is_zero() {
            let host = self.clone();
            tokio::spawn(async move { host.ping_forever().await });
            let host = self.clone();
            tokio::spawn(async move { host.quiesce_forever().await });
        }
        Ok(())
    }

    async fn bootstrap(self: &Arc<Host>) -> anyhow::Result<()> {
        let members = BTreeMap::from([(self.id, BasicNode::new(&self.addr))]);
        match self.meta.initialize(members).await {
            Ok(()) => tracing::info!(node = self.id, "bootstrapped a new cluster"),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                tracing::info!(
                    node = self.id,
                    "cluster state found on disk; not bootstrapping"
                )
            }
            Err(e) => return Err(anyhow::anyhow!("cannot bootstrap the cluster: {e}")),
        }
        // Register (or re-register) this node's address in the map.
        let cmd = MetaCommand::AddNode {
            id: self.id,
            addr: self.addr.clone(),
        };
        let mut attempts = 0;
        loop {
            match self.propose(cmd.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    attempts += 1;
                    if attempts % 20 == 0 {
                        tracing::warn!("waiting for the metadata group to register this node: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn join(&self, addr: &str) -> anyhow::Result<()> {
        let mut attempts = 0u32;
        loop {
            let result = async {
                let channel = self.peers.channel(addr)?;
                let mut client = ClusterClient::new(channel);
                let reply = client
                    .join(bounded(JoinRequest {
                        node_id: self.id,
                        addr: self.addr.clone(),
                    }))
                    .await?;
                anyhow::Ok(reply.into_inner().epoch)
            }
            .await;
            match result {
                Ok(epoch) => {
                    tracing::info!(node = self.id, via = addr, epoch, "joined the cluster");
                    return Ok(());
                }
                Err(e) => {
                    attempts += 1;
                    if attempts % 10 == 1 {
                        tracing::warn!(
                            "cannot join the cluster through {addr} yet (retrying): {e}"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }

    /// Whether this node leads the metadata group now.
    pub fn is_meta_leader(&self) -> bool {
        self.meta.metrics().borrow().current_leader == Some(self.id)
    }

    /// The metadata leader's id and address, when known.
    fn meta_leader(&self) -> Option<(NodeId, String)> {
        let metrics = self.meta.metrics().borrow().clone();
        let leader = metrics.current_leader?;
        let node = metrics.membership_config.membership().get_node(&leader)?;
        Some((leader, node.addr.clone()))
    }

    /// Adds a node to the cluster (on the metadata leader, or forwarded there).
    pub async fn handle_join(&self, id: NodeId, addr: String) -> Result<u64, ProposeError> {
        let Some((leader, leader_addr)) = self.meta_leader() else {
            return Err(ProposeError::NoLeader);
        };
        if leader != self.id {
            let channel = self
                .peers
                .channel(&leader_addr)
                .map_err(|e| ProposeError::Forward(e.to_string()))?;
            let reply = ClusterClient::new(channel)
                .join(bounded(JoinRequest { node_id: id, addr }))
                .await
                .map_err(|e| ProposeError::Forward(e.message().to_owned()))?;
            return Ok(reply.into_inner().epoch);
        }
        let membership = self.meta.metrics().borrow().membership_config.clone();
        let known = membership
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone());
        if known.as_deref() != Some(addr.as_str()) {
            self.meta
                .add_learner(id, BasicNode::new(&addr), true)
                .await
                .map_err(|e| ProposeError::Raft(e.to_string()))?;
        }
        let outcome = self
            .propose(MetaCommand::AddNode {
                id,
                addr: addr.clone(),
            })
            .await?;
        let voters = self.meta_voters();
        if voters.len() < 3 && !voters.contains(&id) {
            let mut next = voters.clone();
            next.insert(id);
            self.meta
                .change_membership(next, true)
                .await
                .map_err(|e| ProposeError::Raft(e.to_string()))?;
            tracing::info!(node = id, "node is now a metadata voter");
        }
        tracing::info!(node = id, %addr, "node joined");
        Ok(outcome.epoch)
    }

    /// Applies a metadata command through the metadata leader (forwarding if needed).
    pub async fn propose(&self, cmd: MetaCommand) -> Result<MetaOutcome, ProposeError> {
        match self
            .meta
            .client_write(Command::Meta(Box::new(cmd.clone())))
            .await
        {
            Ok(resp) => match resp.data {
                Reply::Meta(outcome) => Ok(*outcome),
                other => Err(ProposeError::Raft(format!("unexpected reply {other:?}"))),
            },
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                let Some(node) = f.leader_node else {
                    return Err(ProposeError::NoLeader);
                };
                let command = Some(rotor_proto::v1::MetaCommand::from(&cmd));
                let channel = self
                    .peers
                    .channel(&node.addr)
                    .map_err(|e| ProposeError::Forward(e.to_string()))?;
                let reply = ClusterClient::new(channel)
                    .propose(bounded(ProposeRequest { command }))
                    .await
                    .map_err(|e| ProposeError::Forward(e.message().to_owned()))?;
                reply
                    .into_inner()
                    .outcome
                    .ok_or(rotor_proto::WireError::Missing("ProposeReply.outcome"))
                    .and_then(MetaOutcome::try_from)
                    .map_err(|e| ProposeError::Forward(format!("bad reply: {e}")))
            }
            Err(e) => Err(ProposeError::Raft(e.to_string())),
        }
    }

    pub fn group(&self, group: u64) -> Option<Arc<PartitionGroup>> {
        self.groups.read().get(&group).cloned()
    }

    pub fn groups(&self) -> Vec<(u64, Arc<PartitionGroup>)> {
        let mut all: Vec<_> = self
            .groups
            .read()
            .iter()
            .map(|(g, p)| (*g, p.clone()))
            .collect();
        all.sort_by_key(|(g, _)| *g);
        all
    }

    /// Starts logging the metadata group's leader changes.
    pub fn log_meta_leaders(&self) {
        spawn_leader_log(self.meta.clone(), "metadata".into());
    }

    /// Stops every raft group (the engine closes when the last reference goes).
    pub async fn shutdown(&self) {
        let groups: Vec<_> = self.groups.write().drain().collect();
        for (_, g) in groups {
            let _ = g.raft.shutdown().await;
        }
        let _ = self.meta.shutdown().await;
    }
}
