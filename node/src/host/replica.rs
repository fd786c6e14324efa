//! A partition replica hosted here: its raft group, its partition, and when it may serve
//! eventually consistent reads; and the tasks that watch a group's leader and catch-up.

use std::sync::Arc;
use std::time::Duration;

use rotor_model::cluster::NodeId;
use rotor_model::table::TableStats;
use rotor_storage::Partition;

use crate::load::Meter;
use crate::raft::Raft;

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
    pub(super) opened: std::time::Instant,
    /// The last log index on disk when the group opened: everything this replica had
    /// acknowledged before a restart.
    pub(super) log_at_open: u64,
    /// The highest commit index a leader has sent this replica since it opened (0: none
    /// yet), taken from the AppendEntries messages as they arrive.
    pub(super) leader_commit: std::sync::atomic::AtomicU64,
    /// Set once this replica has caught up (see `ready_for_reads`).
    pub(super) caught_up: std::sync::atomic::AtomicBool,
    /// Whether the group is quiet (no heartbeats while it takes no writes).
    pub quiet: Arc<crate::raft::quiet::GroupQuiet>,
    /// The last count of the partition's local index entries.
    pub local_index_stats: parking_lot::Mutex<Option<IndexStatsCount>>,
}

/// A count of a partition's local index entries: when it was made, how long it took,
/// and the partition's `changes` it saw.
pub struct IndexStatsCount {
    at: std::time::Instant,
    took: Duration,
    changes: u64,
    stats: Vec<TableStats>,
}

/// A voter that has not caught up this long after opening serves eventually consistent
/// reads from what it has (availability over freshness, as such reads allow).
const SERVE_STALE_AFTER: Duration = Duration::from_secs(5);

impl PartitionGroup {
    /// The partition's local index statistics: counted again when a write changed the
    /// partition since the last count, unless that count is younger than a hundred
    /// times what it took (counting walks every entry, off the async threads: a large
    /// index is counted less often, a small one is always exact).
    pub async fn local_index_stats(
        self: &Arc<Self>,
        engine: &Arc<rotor_storage::Engine>,
    ) -> anyhow::Result<Vec<TableStats>> {
        let count = self.partition.local_indexes().indexes.len();
        if count == 0 {
            return Ok(Vec::new());
        }
        let changes = self.partition.changes();
        if let Some(last) = self.local_index_stats.lock().as_ref() {
            if last.changes == changes || last.at.elapsed() < last.took * 100 {
                return Ok(last.stats.clone());
            }
        }
        let group = self.clone();
        let engine = engine.clone();
        let started = std::time::Instant::now();
        let stats = tokio::task::spawn_blocking(move || {
            let tokens = group.partition.range();
            (0..count as u8)
                .map(|ordinal| {
                    rotor_storage::index::count_entries(&engine, group.table_id, ordinal, &tokens)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await??;
        *self.local_index_stats.lock() = Some(IndexStatsCount {
            at: std::time::Instant::now(),
            took: started.elapsed(),
            changes,
            stats: stats.clone(),
        });
        Ok(stats)
    }

    /// Records the commit index a leader sent (AppendEntries' `leader_commit`).
    pub fn note_leader_commit(&self, index: u64) {
        self.leader_commit
            .fetch_max(index, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this replica leads the group and may take a write: a leader whose
    /// heartbeats no quorum has answered for `lease` (the followers' longest election
    /// timeout, after which they elect another) refuses instead of putting the write
    /// into a log it cannot commit, so the router tries the other replicas. A
    /// leader cut off from its followers but not from routers (an asymmetric
    /// partition) would otherwise hold the partition's writes until it heals.
    /// `Err(hint)`: the leader to send the write to (0: not known).
    pub fn leads_for_writes(&self, me: NodeId, lease: Duration) -> Result<(), NodeId> {
        let (leader, since_quorum_ack) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            (m.current_leader, m.millis_since_quorum_ack)
        };
        match leader {
            Some(l) if l == me => {}
            Some(l) => return Err(l),
            None => return Err(0),
        }
        let silent = since_quorum_ack.is_some_and(|ms| ms > lease.as_millis() as u64);
        if silent && self.quiet.heartbeating_for(lease) {
            metrics::counter!("rotor_node_cut_off_leader_refusals_total").increment(1);
            return Err(0);
        }
        Ok(())
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
        self.readable_at(me).is_some()
    }

    /// As `ready_for_reads`, with the applied log index it saw when ready (so that a read
    /// path needs the group's metrics once).
    pub fn readable_at(&self, me: NodeId) -> Option<u64> {
        use std::sync::atomic::Ordering;
        if !self.partition.is_seeded() {
            return None;
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
            return None;
        }
        if self.caught_up.load(Ordering::Relaxed) {
            return Some(applied);
        }
        let caught_up = if leader == Some(me) {
            applied >= self.log_at_open
        } else {
            let commit = self.leader_commit.load(Ordering::Relaxed);
            commit > 0 && applied >= commit
        };
        if caught_up {
            self.caught_up.store(true, Ordering::Relaxed);
            return Some(applied);
        }
        (self.opened.elapsed() >= SERVE_STALE_AFTER).then_some(applied)
    }
}

/// Logs a group's leader changes as this node sees them (openraft's own logs are off by
/// default: a down peer makes them repeat every heartbeat). A group's first election is
/// routine (debug); a change of leader or its loss is news (info).
pub(super) fn spawn_leader_log(raft: Raft, name: String) {
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
pub(super) fn spawn_catch_up_watch(group: std::sync::Weak<PartitionGroup>, me: NodeId) {
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
