//! Forming a partition's raft group on a replica that holds its items.
//!
//! A table's partition is formed by its first listed replica, with every listed one.
//! A split's half was given its first raft state by the split entry on every replica
//! that applied it (`raft::split_half`), so such a replica only asks for an election
//! (the first listed one, to form at once; the others' timers would too). A half seeded
//! by a release that wrote no such state is formed as that release did: by its first
//! listed replica, with the listed replicas that are the parent's voters.

use std::collections::{BTreeMap, BTreeSet};

use openraft::error::{InitializeError, RaftError};
use openraft::BasicNode;
use rotor_model::cluster::{partition_group, ClusterMap, NodeId, PartitionInfo};
use rotor_model::table::TableDef;

use super::moves::purge_to_snapshot;
use super::Host;
use crate::raft::Raft;

impl Host {
    /// Forms the group of partition `p` here if this replica is the one to.
    /// `seeded`: this replica holds the partition's items.
    pub(super) async fn form_group(
        &self,
        raft: &Raft,
        def: &TableDef,
        p: u32,
        info: &PartitionInfo,
        map: &ClusterMap,
        seeded: bool,
    ) -> anyhow::Result<()> {
        let first_listed = info.replicas.first() == Some(&self.id);
        let Some(parent) = info.split_from else {
            if first_listed {
                self.initialize(raft, def, p, &info.replicas, map, false)
                    .await?;
            }
            return Ok(());
        };
        if !seeded {
            // It waits for a snapshot from the half's leader.
            return Ok(());
        }
        if raft.is_initialized().await? {
            let never_voted = raft.metrics().borrow().current_term == 0;
            if first_listed && never_voted {
                let _ = raft.trigger().elect().await;
            }
            return Ok(());
        }
        if first_listed {
            // Seeded without first state: a node the map lists while the parent moves
            // onto it may hold nothing of the parent, so only the parent's voters.
            let parent_voters: Option<BTreeSet<NodeId>> =
                self.group(partition_group(def.id, parent)).map(|g| {
                    let m = g.raft.metrics().borrow().membership_config.clone();
                    m.membership().voter_ids().collect()
                });
            let members: Vec<NodeId> = info
                .replicas
                .iter()
                .copied()
                .filter(|r| parent_voters.as_ref().is_none_or(|v| v.contains(r)))
                .collect();
            self.initialize(raft, def, p, &members, map, true).await?;
        }
        Ok(())
    }

    /// Initializes the group with `members` as its voters. `purge`: its log does not
    /// start from nothing (a split's half), so it is purged to a snapshot at once and
    /// every replica that lacks the items receives a snapshot instead of the log.
    async fn initialize(
        &self,
        raft: &Raft,
        def: &TableDef,
        p: u32,
        members: &[NodeId],
        map: &ClusterMap,
        purge: bool,
    ) -> anyhow::Result<()> {
        let nodes: BTreeMap<NodeId, BasicNode> = members
            .iter()
            .filter_map(|r| map.node_addr(*r).map(|a| (*r, BasicNode::new(a))))
            .collect();
        let member_ids: Vec<NodeId> = nodes.keys().copied().collect();
        match raft.initialize(nodes).await {
            Ok(()) => {
                tracing::info!(table = %def.name, partition = p, replicas = ?member_ids, "partition group formed");
                let _ = raft.trigger().elect().await;
                if purge {
                    let raft = raft.clone();
                    tokio::spawn(async move {
                        if let Err(e) = purge_to_snapshot(&raft).await {
                            tracing::debug!("split half's log not purged yet: {e:#}");
                        }
                    });
                }
                Ok(())
            }
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(anyhow::anyhow!(
                "cannot form group of partition {p} of {}: {e}",
                def.name
            )),
        }
    }
}
