//! Partition moves: on the metadata leader, the rebalancer that brings replicas to where
//! the ring of active nodes places them; on a group's leader, the membership change.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use rotor_model::cluster::{partition_group, ClusterMap, MetaCommand, NodeId, PartitionInfo};
use rotor_proto::v1::cluster_client::ClusterClient;

use super::Host;
use crate::raft::Raft;

/// How long one partition's membership change may take before the rebalancer gives up
/// on it for now (catching up a large partition by snapshot is most of it).
const MOVE_STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a group's leader waits for a new replica to catch up within one step.
const CATCH_UP_WAIT: Duration = Duration::from_secs(110);

impl Host {
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
                g.raft.add_learner(*v, BasicNode::new(addr), false).await?;
            }
        }
        let current: BTreeSet<NodeId> = membership.voter_ids().collect();
        for v in voters.iter().filter(|v| !current.contains(v)) {
            wait_caught_up(&g.raft, *v, CATCH_UP_WAIT).await?;
        }
        let target: BTreeSet<NodeId> = voters.into_iter().collect();
        if current != target {
            g.raft.change_membership(target, false).await?;
        }
        Ok(Ok(()))
    }

    /// On the metadata leader: moves partitions whose replicas differ from what the
    /// ring of active nodes says, one step of one partition at a time.
    pub(super) async fn rebalance_forever(self: Arc<Host>) {
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
    pub(super) fn meta_voters(&self) -> BTreeSet<NodeId> {
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
pub(super) async fn purge_to_snapshot(raft: &Raft) -> anyhow::Result<()> {
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

/// Waits until the leader has replicated to `learner` everything in its log when the
/// wait began: only then may the learner become a voter, in place of a replica that
/// holds the data. (openraft's own `add_learner` wait calls a learner caught up while
/// it is fewer than 5,000 entries behind, which for a small log is at once: an empty
/// replica would replace a full one.)
async fn wait_caught_up(raft: &Raft, learner: NodeId, timeout: Duration) -> anyhow::Result<()> {
    let target = raft.metrics().borrow().last_log_index.unwrap_or(0);
    let matched = |m: &openraft::RaftMetrics<NodeId, BasicNode>| {
        m.replication
            .as_ref()
            .and_then(|r| r.get(&learner).cloned().flatten())
            .map_or(0, |l| l.index)
    };
    let waited = raft
        .wait(Some(timeout))
        .metrics(|m| matched(m) >= target, "new replica caught up")
        .await;
    match waited {
        Ok(_) => Ok(()),
        Err(_) => {
            let now = matched(&raft.metrics().borrow());
            anyhow::bail!(
                "node {learner} is still catching up (it has log entries up to {now} of {target}); the move continues on the next step"
            )
        }
    }
}
