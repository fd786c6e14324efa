//! The reconciler: opens, forms or closes this node's partition groups to match the
//! cluster map, and carries the splits the map lists into the parents' logs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rotor_model::cluster::{partition_group, ClusterMap, PartitionInfo};
use rotor_model::table::TableDef;
use rotor_storage::{GroupLog, Partition};

use super::replica::{spawn_catch_up_watch, spawn_leader_log, PartitionGroup};
use super::{Host, FORWARD_TIMEOUT};
use crate::load::Meter;
use crate::raft::log_store::LogStore;
use crate::raft::network::NetworkFactory;
use crate::raft::quiet::GroupQuiet;
use crate::raft::state_machine::{Machine, StateMachine};
use crate::raft::{Command, Raft};

impl Host {
    pub(super) async fn reconcile_forever(self: Arc<Host>) {
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
        let mut failed = None;
        for (group, (def, p, info)) in wanted {
            if self.groups.read().contains_key(&group) {
                continue;
            }
            if !self.split_applied_here(def.id, info) {
                // The parent's replica here has not applied the split yet: the child's
                // items are still the parent's (a later round opens it).
                continue;
            }
            // One group that cannot open must not keep this node from hosting the rest.
            if let Err(e) = self.open_group(group, def, p, info, map).await {
                tracing::error!(table = %def.name, partition = p, "cannot open the partition's group: {e:#}");
                failed.get_or_insert(e);
            }
        }
        self.remove_unhosted_split_halves(map).await?;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
                if g.leads_for_writes(self.id, self.liveness.dead_after)
                    .is_err()
                {
                    // Not the leader, or one cut off from its followers (the proposal
                    // would hold this reconcile round until it timed out).
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
                    if !rotor_storage::items::has_seeded_copy(&engine, table_id, child)? {
                        return Ok::<_, rotor_storage::StorageError>(false);
                    }
                    // The half's first raft state goes first: a copy without it is
                    // removed by the next round; state without a copy would open as
                    // a formed replica that holds nothing.
                    GroupLog::new(engine.clone(), group).destroy()?;
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
    pub(super) async fn after_splits(
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
        let partition = Arc::new(
            Partition::open(
                &self.engine,
                def.id,
                p,
                info.initial,
                info.split_from.is_some(),
            )?
            .with_local_indexes(def.local_index_set()),
        );
        // The global secondary indexes its writes are checked against and its change
        // log feeds (an index table's partitions feed none).
        let log = GroupLog::new(self.engine.clone(), group);
        let is_base_table = def.global_index_of.is_none();
        if is_base_table {
            crate::index::tracked::open(&log, &partition, map)?;
        }
        if partition.stats_estimated(&self.engine)? {
            // A split's estimate (a crash may have cut its recount short).
            crate::raft::state_machine::spawn_stats_recount(partition.clone(), self.engine.clone());
        }
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
        let quiet = GroupQuiet::new();
        let raft = Raft::new(
            self.id,
            self.config.clone(),
            NetworkFactory {
                group,
                peers: self.peers.clone(),
                quiet: quiet.clone(),
            },
            LogStore::new(log),
            sm,
        )
        .await?;
        quiet.attach(raft.clone());
        self.form_group(&raft, def, p, info, map, partition.is_seeded())
            .await?;
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
            quiet,
            local_index_stats: Default::default(),
        });
        spawn_catch_up_watch(Arc::downgrade(&opened), self.id);
        if is_base_table {
            crate::index::propagate::spawn(&opened, group, self.index_feeder());
        }
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
}
