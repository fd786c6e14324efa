//! A storage node: one RocksDB, the metadata group's replica, and a raft group per
//! partition replica the cluster map assigns to this node.
//!
//! The reconciler watches the map (the metadata group's state machine publishes it) and
//! opens, forms or closes partition groups to match it: the first replica listed for a
//! partition forms its group; a table that disappears from the map has its groups shut
//! down and its data removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::BasicNode;
use parking_lot::RwLock;
use rotor_model::cluster::{
    partition_group, ClusterMap, MetaCommand, MetaOutcome, NodeId, PartitionInfo, META_GROUP,
};
use rotor_model::table::TableDef;
use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::{JoinRequest, ProposeRequest};
use rotor_storage::{Engine, GroupLog, Partition};
use tokio::sync::watch;

use crate::autoscaler::{AutoscaleConfig, Autoscaler};
use crate::load::Meter;
use crate::raft::log_store::LogStore;
use crate::raft::network::{NetworkFactory, Peers};
use crate::raft::state_machine::{Machine, StateMachine};
use crate::raft::{Command, Raft, RaftSettings, Reply};

/// How long one partition's membership change may take before the rebalancer gives up
/// on it for now (catching up a large partition by snapshot is most of it).
const MOVE_STEP_TIMEOUT: Duration = Duration::from_secs(120);

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

/// A partition replica hosted here.
pub struct PartitionGroup {
    pub raft: Raft,
    pub partition: Arc<Partition>,
    pub table_id: u32,
    /// What this replica has served (the autoscaler's input).
    pub meter: Meter,
    /// The partition's share of the table's capacity limits.
    pub throttle: crate::throttle::Throttle,
    /// When the group opened here (Unix ms): tells the autoscaler its counters restarted.
    pub opened_at_ms: u64,
    opened: std::time::Instant,
    /// The last log index on disk when the group opened: everything this replica had
    /// acknowledged before a restart.
    log_at_open: u64,
    /// The highest commit index a leader has sent this replica since it opened (0: none
    /// yet), taken from the AppendEntries messages as they arrive.
    leader_commit: std::sync::atomic::AtomicU64,
    /// Set once this replica has caught up (see `ready_for_reads`).
    caught_up: std::sync::atomic::AtomicBool,
}

/// A voter that has not caught up this long after opening serves eventually consistent
/// reads from what it has (availability over freshness, as such reads allow).
const SERVE_STALE_AFTER: Duration = Duration::from_secs(5);

impl PartitionGroup {
    /// Records the commit index a leader sent (AppendEntries' `leader_commit`).
    pub fn note_leader_commit(&self, index: u64) {
        self.leader_commit
            .fetch_max(index, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this replica may answer an eventually consistent read: only from a copy
    /// of the partition that some moment of the table really had, never from one still
    /// filling up. So it must hold its items (a split's half is seeded), be a voter of
    /// the membership it has applied (a learner is still catching up: it was added
    /// empty, and becomes a voter only once caught up), and have caught up since it
    /// opened: as the leader, applied its log as found on disk; as a follower, applied
    /// up to a commit index a leader sent it. After a restart a voter that hears from no
    /// leader (a majority down) serves what it has `SERVE_STALE_AFTER` after opening:
    /// it applied only committed entries, so that is a past state of the table
    /// (availability over freshness, as such reads allow).
    pub fn ready_for_reads(&self, me: NodeId) -> bool {
        use std::sync::atomic::Ordering;
        if !self.partition.is_seeded() {
            return false;
        }
        let (applied, leader, voter) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
            let membership = &m.membership_config;
            let voter = membership.membership().voter_ids().any(|v| v == me)
                && membership.log_id().map_or(0, |l| l.index) <= applied;
            (applied, m.current_leader, voter)
        };
        if !voter {
            return false;
        }
        if self.caught_up.load(Ordering::Relaxed) {
            return true;
        }
        let caught_up = if leader == Some(me) {
            applied >= self.log_at_open
        } else {
            let commit = self.leader_commit.load(Ordering::Relaxed);
            commit > 0 && applied >= commit
        };
        if caught_up {
            self.caught_up.store(true, Ordering::Relaxed);
            return true;
        }
        self.opened.elapsed() >= SERVE_STALE_AFTER
    }
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
    /// Opens the node's storage and its metadata replica (not yet serving).
    pub async fn open(cfg: &NodeConfig) -> anyhow::Result<Arc<Host>> {
        let db_dir = cfg.data_dir.join("db");
        let snapshot_dir = cfg.data_dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir)
            .with_context(|| format!("cannot create {}", snapshot_dir.display()))?;
        let engine = Arc::new(Engine::open(&db_dir).with_context(|| {
            format!(
                "cannot open the data in {} (is another rotor using it?)",
                db_dir.display()
            )
        })?);
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
        let meta = Raft::new(
            cfg.id,
            config.clone(),
            NetworkFactory {
                group: META_GROUP,
                peers: peers.clone(),
            },
            LogStore::new(log),
            sm,
        )
        .await?;
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
                let payload =
                    bincode::serialize(&cmd).map_err(|e| ProposeError::Raft(e.to_string()))?;
                let channel = self
                    .peers
                    .channel(&node.addr)
                    .map_err(|e| ProposeError::Forward(e.to_string()))?;
                let reply = ClusterClient::new(channel)
                    .propose(bounded(ProposeRequest { command: payload }))
                    .await
                    .map_err(|e| ProposeError::Forward(e.message().to_owned()))?;
                bincode::deserialize(&reply.into_inner().outcome)
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

    async fn reconcile_forever(self: Arc<Host>) {
        let mut map_rx = self.map.clone();
        loop {
            let map = map_rx.borrow_and_update().clone();
            if let Err(e) = self.reconcile(&map).await {
                tracing::error!(
                    "cannot bring partition groups in line with map epoch {}: {e:#}",
                    map.epoch
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            // A new map, a split applied here, or a second: splits in flight need
            // rounds of their own (the parent's leader proposes, then the child opens).
            tokio::select! {
                changed = map_rx.changed() => if changed.is_err() { return },
                _ = self.reconcile_now.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Opens the groups the map gives this node and closes the ones it no longer does;
    /// carries splits the map lists into the parents' logs.
    async fn reconcile(&self, map: &ClusterMap) -> anyhow::Result<()> {
        // In group order: a split's parent (a lower partition id) opens before its
        // children, so a child is only opened once its parent here has handed it over.
        let mut wanted: BTreeMap<u64, (&TableDef, u32, &PartitionInfo)> = BTreeMap::new();
        for entry in map.tables.values() {
            for (p, info) in entry.partitions.iter().enumerate() {
                if info.replicas.contains(&self.id) {
                    wanted.insert(
                        partition_group(entry.def.id, p as u32),
                        (&entry.def, p as u32, info),
                    );
                }
            }
        }
        let present: Vec<u64> = self.groups.read().keys().copied().collect();
        for group in present {
            if !wanted.contains_key(&group) {
                self.close_group(group, map).await?;
            }
        }
        self.propose_pending_splits(map).await;
        for (group, (def, p, info)) in wanted {
            if self.groups.read().contains_key(&group) {
                continue;
            }
            if !self.split_applied_here(def.id, info) {
                // The parent's replica here has not applied the split yet: the child's
                // items are still the parent's (a later round opens it).
                continue;
            }
            self.open_group(group, def, p, info, map).await?;
        }
        self.remove_unhosted_split_halves(map).await?;
        Ok(())
    }

    /// Whether a split's half may open here: its parent is not hosted here, or the
    /// parent's replica here has handed the half's tokens over already.
    fn split_applied_here(&self, table_id: u32, info: &PartitionInfo) -> bool {
        let Some(parent) = info.split_from else {
            return true;
        };
        match self.group(partition_group(table_id, parent)) {
            Some(g) => !g.partition.range().contains(info.initial.start),
            None => true,
        }
    }

    /// On the leader of a partition that the map says was split: puts the split into
    /// the partition's log, the lowest child first (each child's range starts where the
    /// parent's range ends after the splits before it).
    async fn propose_pending_splits(&self, map: &ClusterMap) {
        for entry in map.tables.values() {
            let mut pending: Vec<(u32, u32, u64)> = entry
                .partitions
                .iter()
                .enumerate()
                .filter_map(|(child, info)| {
                    info.split_from
                        .map(|parent| (parent, child as u32, info.initial.start))
                })
                .collect();
            pending.sort();
            let mut proposed = BTreeSet::new();
            for (parent, child, at) in pending {
                let Some(g) = self.group(partition_group(entry.def.id, parent)) else {
                    continue;
                };
                // Applied already here (the parent no longer owns `at`): not pending.
                if !g.partition.range().contains(at) || !proposed.insert(parent) {
                    continue;
                }
                if g.raft.metrics().borrow().current_leader != Some(self.id) {
                    continue;
                }
                let proposal = g.raft.client_write(Command::Split { at, child });
                match tokio::time::timeout(FORWARD_TIMEOUT, proposal).await {
                    Ok(Ok(_)) => {
                        tracing::info!(table = %entry.def.name, partition = parent, child, at, "split proposed to the partition's log")
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(table = %entry.def.name, partition = parent, "split not proposed yet: {e}")
                    }
                    Err(_) => {
                        tracing::warn!(table = %entry.def.name, partition = parent, "split proposal timed out; retrying")
                    }
                }
            }
        }
    }

    /// Removes the items of a split's half that this node holds from its parent's log
    /// but does not host (the half moved on before this replica applied the split).
    async fn remove_unhosted_split_halves(&self, map: &ClusterMap) -> anyhow::Result<()> {
        for entry in map.tables.values() {
            for (child, info) in entry.partitions.iter().enumerate() {
                let child = child as u32;
                let group = partition_group(entry.def.id, child);
                if info.split_from.is_none()
                    || info.replicas.contains(&self.id)
                    || self.groups.read().contains_key(&group)
                {
                    continue;
                }
                let engine = self.engine.clone();
                let table_id = entry.def.id;
                let removed = tokio::task::spawn_blocking(move || {
                    rotor_storage::items::remove_seeded_copy(&engine, table_id, child)
                })
                .await??;
                if removed {
                    tracing::info!(node = self.id, table = %entry.def.name, partition = child, "split half hosted elsewhere; its copy here removed");
                }
            }
        }
        Ok(())
    }

    /// After a split is applied here: a fresh snapshot of the parent (one taken before
    /// the split would hand a new replica the child's tokens too), and a reconcile round
    /// to open the child.
    async fn after_splits(
        self: Arc<Host>,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<(u64, u32)>,
    ) {
        while let Some((parent, _child)) = rx.recv().await {
            if let Some(g) = self.group(parent) {
                let _ = g.raft.trigger().snapshot().await;
            }
            self.reconcile_now.notify_one();
        }
    }

    async fn open_group(
        &self,
        group: u64,
        def: &TableDef,
        p: u32,
        info: &PartitionInfo,
        map: &ClusterMap,
    ) -> anyhow::Result<()> {
        let partition = Arc::new(Partition::open(
            &self.engine,
            def.id,
            p,
            info.initial,
            info.split_from.is_some(),
        )?);
        if partition.stats_estimated(&self.engine)? {
            // A split's estimate (a crash may have cut its recount short).
            crate::raft::state_machine::spawn_stats_recount(partition.clone(), self.engine.clone());
        }
        let log = GroupLog::new(self.engine.clone(), group);
        let log_at_open = log.last_entry()?.map(|(index, _)| index).unwrap_or(0);
        let splits = self.splits_applied.clone();
        let on_split: Arc<dyn Fn(u32) + Send + Sync> = Arc::new(move |child| {
            let _ = splits.send((group, child));
        });
        let sm = StateMachine::open(
            log.clone(),
            Machine::Partition {
                partition: partition.clone(),
                on_split: Some(on_split),
            },
            self.snapshot_dir.clone(),
        )?;
        let raft = Raft::new(
            self.id,
            self.config.clone(),
            NetworkFactory {
                group,
                peers: self.peers.clone(),
            },
            LogStore::new(log),
            sm,
        )
        .await?;
        // A split's half is formed by a replica that holds its items (from the parent).
        if info.replicas.first() == Some(&self.id) && partition.is_seeded() {
            let members: BTreeMap<NodeId, BasicNode> = info
                .replicas
                .iter()
                .filter_map(|r| map.node_addr(*r).map(|a| (*r, BasicNode::new(a))))
                .collect();
            match raft.initialize(members).await {
                Ok(()) => {
                    tracing::info!(table = %def.name, partition = p, replicas = ?info.replicas, "partition group formed");
                    let _ = raft.trigger().elect().await;
                    if info.split_from.is_some() {
                        // Its log does not start from nothing: purge it, so that every
                        // replica that lacks the items receives a snapshot instead.
                        let raft = raft.clone();
                        tokio::spawn(async move {
                            if let Err(e) = purge_to_snapshot(&raft).await {
                                tracing::debug!("split half's log not purged yet: {e:#}");
                            }
                        });
                    }
                }
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "cannot form group of partition {p} of {}: {e}",
                        def.name
                    ))
                }
            }
        }
        spawn_leader_log(raft.clone(), format!("{} partition {p}", def.name));
        let opened = Arc::new(PartitionGroup {
            raft,
            partition,
            table_id: def.id,
            meter: Meter::default(),
            throttle: crate::throttle::Throttle::default(),
            opened_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            opened: std::time::Instant::now(),
            log_at_open,
            leader_commit: std::sync::atomic::AtomicU64::new(0),
            caught_up: std::sync::atomic::AtomicBool::new(false),
        });
        spawn_catch_up_watch(Arc::downgrade(&opened), self.id);
        self.groups.write().insert(group, opened);
        metrics::gauge!("rotor_node_partition_groups").set(self.groups.read().len() as f64);
        Ok(())
    }

    /// Shuts a group down and removes its log; removes the table's data once no group
    /// of it is left here and the table is gone from the map.
    async fn close_group(&self, group: u64, map: &ClusterMap) -> anyhow::Result<()> {
        let Some(closing) = self.groups.write().remove(&group) else {
            return Ok(());
        };
        let _ = closing.raft.shutdown().await;
        GroupLog::new(self.engine.clone(), group).destroy()?;
        let _ = std::fs::remove_file(self.snapshot_dir.join(format!("{group:016x}.snap")));
        let table_id = closing.table_id;
        let (_, index) = rotor_model::cluster::group_partition(group);
        if let Some(entry) = map.table_by_id(table_id) {
            // The partition moved away: its items here are no longer ours to keep.
            let (start, end) = entry.def.partition_key_range(index);
            let engine = self.engine.clone();
            tokio::task::spawn_blocking(move || {
                rotor_storage::items::delete_partition(&engine, table_id, index, (&start, &end))
            })
            .await??;
            tracing::info!(node = self.id, table = %entry.def.name, partition = index, "partition moved off this node; its data removed");
        }
        let table_gone = map.table_by_id(table_id).is_none();
        let none_left = !self.groups.read().values().any(|g| g.table_id == table_id);
        if table_gone && none_left {
            let engine = self.engine.clone();
            tokio::task::spawn_blocking(move || {
                rotor_storage::items::delete_table(&engine, table_id)
            })
            .await??;
            tracing::info!(
                node = self.id,
                table_id,
                "table data removed from this node"
            );
        }
        metrics::gauge!("rotor_node_partition_groups").set(self.groups.read().len() as f64);
        Ok(())
    }

    /// Makes `voters` the voters of a partition group this node leads: new members join
    /// as learners and catch up (by log or snapshot) before the membership changes.
    /// `Ok(Err(hint))`: this node does not lead the group.
    pub async fn change_replicas(
        &self,
        group: u64,
        voters: Vec<NodeId>,
    ) -> anyhow::Result<Result<(), NodeId>> {
        let Some(g) = self.group(group) else {
            return Ok(Err(0));
        };
        let metrics = g.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.id) {
            return Ok(Err(metrics.current_leader.unwrap_or(0)));
        }
        let map = self.map.borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        let (table_id, index) = rotor_model::cluster::group_partition(group);
        let info = map.replicas(table_id, index);
        let split_half = info.is_some_and(|i| i.split_from.is_some());
        let was_split = info.is_some_and(|i| i.initial != g.partition.range());
        if (split_half || was_split) && voters.iter().any(|v| membership.get_node(v).is_none()) {
            // A new replica must catch up by snapshot, never from the start of the log:
            // a split's half holds none of its items there, and a partition that was
            // split would replay writes into the tokens it gave away (whose new owner
            // may live on that node).
            purge_to_snapshot(&g.raft).await?;
        }
        for v in &voters {
            if membership.get_node(v).is_none() {
                let addr = map
                    .node_addr(*v)
                    .ok_or_else(|| anyhow::anyhow!("node {v} has no address in the map"))?;
                g.raft.add_learner(*v, BasicNode::new(addr), true).await?;
            }
        }
        let target: BTreeSet<NodeId> = voters.into_iter().collect();
        let current: BTreeSet<NodeId> = membership.voter_ids().collect();
        if current != target {
            g.raft.change_membership(target, false).await?;
        }
        Ok(Ok(()))
    }

    /// On the metadata leader: moves partitions whose replicas differ from what the
    /// ring of active nodes says, one step of one partition at a time.
    async fn rebalance_forever(self: Arc<Host>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            if self.meta_leader().map(|(l, _)| l) != Some(self.id) {
                continue;
            }
            // Steps follow each other at once while there is work (at most 64 per
            // tick); a failed step waits for the next tick.
            for _ in 0..64 {
                match self.rebalance_step().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!("partition move step failed (will retry): {e:#}");
                        break;
                    }
                }
            }
        }
    }

    /// The metadata group's voters, as this node last saw them.
    fn meta_voters(&self) -> BTreeSet<NodeId> {
        self.meta
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect()
    }

    /// Keeps the metadata group's voters on up to three active nodes: a draining voter
    /// hands its vote to an active learner (it stays a learner, following the map).
    async fn rebalance_metadata(&self, map: &ClusterMap) -> anyhow::Result<()> {
        let voters = self.meta_voters();
        let active = |n: &NodeId| {
            map.nodes
                .get(n)
                .is_some_and(|i| i.state == rotor_model::cluster::NodeState::Active)
        };
        let mut desired: BTreeSet<NodeId> = voters.iter().copied().filter(active).collect();
        for n in map.nodes.keys().copied().filter(active) {
            if desired.len() >= 3 {
                break;
            }
            desired.insert(n);
        }
        if desired.is_empty() || desired == voters {
            return Ok(());
        }
        tracing::info!(from = ?voters, to = ?desired, "moving the metadata group's voters");
        self.meta.change_membership(desired, true).await?;
        Ok(())
    }

    /// One step of one move; `Ok(false)` when everything sits where the ring says.
    async fn rebalance_step(&self) -> anyhow::Result<bool> {
        let map = self.map.borrow().clone();
        self.rebalance_metadata(&map).await?;
        let ring = crate::meta::ring_of(&map);
        for entry in map.tables.values() {
            for (p, info) in entry.partitions.iter().enumerate() {
                let p = p as u32;
                let group = partition_group(entry.def.id, p);
                let desired = placement_of(&map, &ring, group, info);
                if desired.is_empty() {
                    continue;
                }
                if info.replicas == desired {
                    // The map says this partition sits where it should. Once per change
                    // of its replicas, make sure its group's voters say so too: a move
                    // whose first step listed exactly the desired replicas (a table made
                    // before the other nodes joined) still needs its membership change.
                    if self.verified.lock().get(&group) == Some(&info.epoch) {
                        continue;
                    }
                    if self
                        .ask_leader_to_change(&map, entry.def.id, p, info, &desired)
                        .await
                    {
                        self.verified.lock().insert(group, info.epoch);
                    }
                    continue;
                }
                let table = entry.def.name.as_str();
                let adding: Vec<NodeId> = desired
                    .iter()
                    .copied()
                    .filter(|n| !info.replicas.contains(n))
                    .collect();
                if !adding.is_empty() {
                    // Step 1: list the new replicas (after the old ones, so that none of
                    // them forms the group) so their nodes open it.
                    let mut union = info.replicas.clone();
                    union.extend(adding.iter().copied());
                    tracing::info!(table, partition = p, from = ?info.replicas, to = ?desired, "moving partition: opening it on the new nodes");
                    self.propose(MetaCommand::SetReplicas {
                        table_id: entry.def.id,
                        partition: p,
                        replicas: union,
                    })
                    .await?;
                    return Ok(true);
                }
                // Step 2: the group's leader adds the new members and drops the old.
                let started = std::time::Instant::now();
                let done = self
                    .ask_leader_to_change(&map, entry.def.id, p, info, &desired)
                    .await;
                if !done {
                    anyhow::bail!(
                        "no leader of {table} partition {p} accepted the replica change yet"
                    );
                }
                // Step 3: the map follows the group.
                self.propose(MetaCommand::SetReplicas {
                    table_id: entry.def.id,
                    partition: p,
                    replicas: desired.clone(),
                })
                .await?;
                metrics::counter!("rotor_partition_moves_total").increment(1);
                tracing::info!(table, partition = p, replicas = ?desired, seconds = started.elapsed().as_secs_f64(), "partition moved");
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Asks the leader of a partition's group (found among its listed replicas) to make
    /// `desired` its voters; true once it has.
    async fn ask_leader_to_change(
        &self,
        map: &ClusterMap,
        table_id: u32,
        p: u32,
        info: &PartitionInfo,
        desired: &[NodeId],
    ) -> bool {
        let mut candidates = info.replicas.clone();
        while let Some(node) = candidates.first().copied() {
            candidates.remove(0);
            let Some(addr) = map.node_addr(node) else {
                continue;
            };
            let Ok(channel) = self.peers.channel(addr) else {
                continue;
            };
            // Bounded: a new replica that never catches up (its node died) must not
            // stall every other move; the step is retried on a later tick.
            let mut request = tonic::Request::new(rotor_proto::v1::ChangeReplicasRequest {
                table_id,
                partition: p,
                voters: desired.to_vec(),
            });
            request.set_timeout(MOVE_STEP_TIMEOUT);
            let reply = ClusterClient::new(channel).change_replicas(request).await;
            match reply {
                Ok(r) if r.get_ref().done => return true,
                Ok(r) => {
                    let hint = r.get_ref().leader_hint;
                    if hint != 0 && candidates.contains(&hint) {
                        candidates.retain(|c| *c != hint);
                        candidates.insert(0, hint);
                    }
                }
                Err(e) => tracing::debug!(node, "change replicas: {}", e.message()),
            }
        }
        false
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

/// Where a partition belongs: its pinned nodes while they are all active, else where
/// the ring of active nodes places it.
fn placement_of(
    map: &ClusterMap,
    ring: &crate::placement::Ring,
    group: u64,
    info: &PartitionInfo,
) -> Vec<NodeId> {
    if let Some(pinned) = &info.pinned {
        let all_active = pinned.iter().all(|n| {
            map.nodes
                .get(n)
                .is_some_and(|i| i.state == rotor_model::cluster::NodeState::Active)
        });
        if all_active && !pinned.is_empty() {
            return pinned.clone();
        }
    }
    ring.replicas(group)
}

/// On a group's leader: builds a snapshot of everything applied and purges the log up
/// to it, so that a replica without the log catches up by snapshot. Bounded in time.
async fn purge_to_snapshot(raft: &Raft) -> anyhow::Result<()> {
    let deadline = Duration::from_secs(30);
    let mut metrics = raft.metrics();
    tokio::time::timeout(
        deadline,
        metrics.wait_for(|m| m.current_leader == Some(m.id) && m.last_applied.is_some()),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no leadership to purge the log under"))??;
    let applied = raft.metrics().borrow().last_applied.map_or(0, |l| l.index);
    let purged = raft.metrics().borrow().purged.map(|l| l.index);
    if purged.is_some_and(|p| p >= 1) {
        // Purged past the start already: a replica without the log gets a snapshot.
        return Ok(());
    }
    raft.trigger().snapshot().await?;
    let mut metrics = raft.metrics();
    tokio::time::timeout(
        deadline,
        metrics.wait_for(|m| m.snapshot.is_some_and(|s| s.index >= applied)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the snapshot was not built in time"))??;
    raft.trigger().purge_log(applied).await?;
    let mut metrics = raft.metrics();
    tokio::time::timeout(
        deadline,
        metrics.wait_for(|m| m.purged.is_some_and(|p| p.index >= applied)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the log was not purged in time"))??;
    tracing::debug!(upto = applied, "log purged to a snapshot");
    Ok(())
}

/// Logs a group's leader changes as this node sees them (openraft's own logs are off by
/// default: a down peer makes them repeat every heartbeat). A group's first election is
/// routine (debug); a change of leader or its loss is news (info).
fn spawn_leader_log(raft: Raft, name: String) {
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        let mut last = None;
        let mut ever = false;
        loop {
            let (leader, state) = {
                let m = metrics.borrow_and_update();
                (m.current_leader, m.state)
            };
            if state == openraft::ServerState::Shutdown {
                return;
            }
            if leader != last {
                match (leader, ever) {
                    (Some(l), false) => {
                        tracing::debug!(group = %name, leader = l, "leader elected")
                    }
                    (Some(l), true) => {
                        tracing::info!(group = %name, leader = l, "new leader elected")
                    }
                    (None, _) => tracing::info!(group = %name, "leader lost; election under way"),
                }
                ever |= leader.is_some();
                last = leader;
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Marks a replica caught up (see `PartitionGroup::ready_for_reads`) as soon as it is,
/// rather than at its first read.
fn spawn_catch_up_watch(group: std::sync::Weak<PartitionGroup>, me: NodeId) {
    let Some(g) = group.upgrade() else { return };
    let mut metrics = g.raft.metrics();
    drop(g);
    tokio::spawn(async move {
        loop {
            let Some(g) = group.upgrade() else { return };
            if g.ready_for_reads(me) && g.caught_up.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            if g.opened.elapsed() >= SERVE_STALE_AFTER {
                return;
            }
            drop(g);
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
}
