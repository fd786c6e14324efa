//! Quiet groups: a raft group that takes no writes stops costing RPCs, as TiKV's
//! hibernating regions and CockroachDB's quiescent ranges do, and one liveness ping per
//! node pair stands in for the heartbeats of all the groups between them.
//!
//! ```text
//!   leader, group idle (no new entry for `idle_after`, every voter matched and alive)
//!     -> its heartbeats carry `group_idle`; a follower that accepts one stops its
//!        election timer (openraft's runtime `elect(false)`)
//!     -> a second later the leader stops heartbeating (`heartbeat(false)`)
//!   any entry sent, a vote asked, an unmarked message -> timers and heartbeats back on
//!   a follower whose leader's node stops answering pings (`Liveness`) -> its election
//!     timer back on: a new leader is elected as without quiescence
//! ```
//!
//! Safety does not depend on any of this: a follower that misses the hint only elects
//! a leader sooner than needed, and a leader never commits without a majority.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openraft::ServerState;
use parking_lot::Mutex;

use super::{NodeId, Raft};

/// How long a leader marks its heartbeats idle before it stops sending them.
const HINT_FOR: Duration = Duration::from_secs(1);

/// When each peer node was last heard from (a ping either way).
pub struct Liveness {
    heard: Mutex<HashMap<NodeId, Instant>>,
    started: Instant,
    /// Silent this long: taken for down.
    pub dead_after: Duration,
}

impl Liveness {
    pub fn new(dead_after: Duration) -> Arc<Liveness> {
        Arc::new(Liveness {
            heard: Mutex::new(HashMap::new()),
            started: Instant::now(),
            dead_after,
        })
    }

    pub fn heard(&self, node: NodeId) {
        self.heard.lock().insert(node, Instant::now());
    }

    /// Whether `node` answered (or pinged) within `dead_after`; a node not heard from
    /// yet counts as alive for `dead_after` after this node started.
    pub fn alive(&self, node: NodeId) -> bool {
        match self.heard.lock().get(&node) {
            Some(at) => at.elapsed() < self.dead_after,
            None => self.started.elapsed() < self.dead_after,
        }
    }
}

/// One group's quiescence, on whichever side of it this replica is.
#[derive(Default)]
pub struct GroupQuiet {
    raft: OnceLock<Raft>,
    /// Leader: heartbeats go out marked `group_idle`.
    hinting: AtomicBool,
    /// Leader: heartbeats are off.
    leader_quiet: AtomicBool,
    /// Follower: the election timer is off.
    follower_quiet: AtomicBool,
    /// Leader: the last log index seen, and since when it has not moved.
    idle: Mutex<Option<(u64, Instant)>>,
    hint_since: Mutex<Option<Instant>>,
    /// Leader: when heartbeats last came back on after a quiet spell.
    woke_at: Mutex<Option<Instant>>,
}

impl GroupQuiet {
    pub fn new() -> Arc<GroupQuiet> {
        Arc::new(GroupQuiet::default())
    }

    /// Gives the group's raft (made after its network factory, which holds this).
    pub fn attach(&self, raft: Raft) {
        let _ = self.raft.set(raft);
    }

    pub fn is_quiet(&self) -> bool {
        self.leader_quiet.load(Ordering::Relaxed) || self.follower_quiet.load(Ordering::Relaxed)
    }

    /// Leader: whether its heartbeats have been on for the last `window`, so that no
    /// answer from a quorum in that time means it may have been replaced (a quiet
    /// leader hears from nobody, and one just woken not yet).
    pub fn heartbeating_for(&self, window: Duration) -> bool {
        !self.leader_quiet.load(Ordering::Relaxed)
            && self.woke_at.lock().is_none_or(|t| t.elapsed() >= window)
    }

    fn heartbeats(&self, on: bool) {
        if let Some(raft) = self.raft.get() {
            raft.runtime_config().heartbeat(on);
        }
    }

    fn elections(&self, on: bool) {
        if let Some(raft) = self.raft.get() {
            raft.runtime_config().elect(on);
        }
    }

    /// Leader, sending an AppendEntries: whether to mark it idle. Entries mean the
    /// group is busy again.
    /// Called for every AppendEntries: no lock unless the group was idle.
    pub fn on_send(&self, has_entries: bool) -> bool {
        let hinting = self.hinting.load(Ordering::Relaxed);
        if has_entries {
            if hinting || self.leader_quiet.load(Ordering::Relaxed) {
                self.wake_leader("entries");
            }
            return false;
        }
        hinting
    }

    fn wake_leader(&self, reason: &'static str) {
        if self.hinting.swap(false, Ordering::Relaxed) {
            *self.hint_since.lock() = None;
        }
        *self.idle.lock() = None;
        if self.leader_quiet.swap(false, Ordering::Relaxed) {
            *self.woke_at.lock() = Some(Instant::now());
            self.heartbeats(true);
            metrics::counter!("rotor_raft_groups_woken_total", "reason" => reason).increment(1);
        }
    }

    fn wake_follower(&self, reason: &'static str) {
        if self.follower_quiet.swap(false, Ordering::Relaxed) {
            self.elections(true);
            metrics::counter!("rotor_raft_groups_woken_total", "reason" => reason).increment(1);
        }
    }

    /// Follower: an AppendEntries arrived; `idle` as the leader marked it, `accepted`
    /// when this replica's log matched it.
    pub fn on_append(&self, idle: bool, accepted: bool) {
        if idle && accepted {
            if !self.follower_quiet.swap(true, Ordering::Relaxed) {
                self.elections(false);
            }
        } else {
            self.wake_follower("message");
        }
    }

    /// Any replica: a candidate asks for votes, or a snapshot arrives: the group is
    /// changing, every timer back on.
    pub fn on_other_message(&self) {
        self.wake_follower("message");
    }

    /// Decides, every tick, what this replica's role asks for.
    pub fn tick(&self, me: NodeId, idle_after: Duration, liveness: &Liveness) {
        let Some(raft) = self.raft.get() else {
            return;
        };
        // Read what the decision needs, then let go of the metrics (openraft's core
        // publishes them through the same watch).
        let (state, leader, last, applied, matched, voters_alive) = {
            let m = raft.metrics();
            let m = m.borrow();
            let last = m.last_log_index.unwrap_or(0);
            let matched = m
                .replication
                .as_ref()
                .is_some_and(|r| r.values().all(|v| v.map(|l| l.index) == Some(last)));
            let voters_alive = m
                .membership_config
                .membership()
                .voter_ids()
                .all(|v| v == me || liveness.alive(v));
            let applied = m.last_applied.map_or(0, |l| l.index);
            (
                m.state,
                m.current_leader,
                last,
                applied,
                matched,
                voters_alive,
            )
        };
        match state {
            ServerState::Leader => {
                self.wake_follower("leader");
                let settled = {
                    let mut idle = self.idle.lock();
                    match *idle {
                        Some((index, since)) if index == last => since.elapsed() >= idle_after,
                        _ => {
                            *idle = Some((last, Instant::now()));
                            false
                        }
                    }
                };
                if !(settled && matched && voters_alive && applied == last) {
                    if self.hinting.load(Ordering::Relaxed)
                        || self.leader_quiet.load(Ordering::Relaxed)
                    {
                        let keep_idle = *self.idle.lock();
                        self.wake_leader("busy");
                        *self.idle.lock() = keep_idle;
                    }
                    return;
                }
                if !self.hinting.swap(true, Ordering::Relaxed) {
                    *self.hint_since.lock() = Some(Instant::now());
                    return;
                }
                let hinted_long_enough = self
                    .hint_since
                    .lock()
                    .is_some_and(|t| t.elapsed() >= HINT_FOR);
                if hinted_long_enough && !self.leader_quiet.swap(true, Ordering::Relaxed) {
                    self.heartbeats(false);
                    metrics::counter!("rotor_raft_groups_quiesced_total").increment(1);
                }
            }
            ServerState::Follower | ServerState::Learner => {
                self.wake_leader("follower");
                if self.follower_quiet.load(Ordering::Relaxed)
                    && !leader.is_some_and(|l| liveness.alive(l))
                {
                    self.wake_follower("leader_silent");
                }
            }
            ServerState::Candidate | ServerState::Shutdown => {
                self.wake_leader("follower");
                self.wake_follower("election");
            }
        }
    }
}
