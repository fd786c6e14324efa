//! The host's part in quiet groups (see `raft::quiet`): a ping to every other node of
//! the cluster map a few times a second, and a tick that lets each hosted group go
//! quiet or wake up as its role and its peers' liveness ask.

use std::sync::Arc;
use std::time::Duration;

use super::Host;

/// How often every other node is pinged.
const PING_EVERY: Duration = Duration::from_millis(300);
/// How often each group's quiescence is decided.
const TICK_EVERY: Duration = Duration::from_millis(250);

impl Host {
    pub(super) async fn ping_forever(self: Arc<Host>) {
        let mut tick = tokio::time::interval(PING_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let peers: Vec<(u64, String)> = self
                .map
                .borrow()
                .nodes
                .iter()
                .filter(|(id, _)| **id != self.id)
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect();
            for (id, addr) in peers {
                let host = self.clone();
                tokio::spawn(async move {
                    if host.peers.ping(host.id, id, &addr, PING_EVERY * 3).await {
                        host.liveness.heard(id);
                    }
                });
            }
        }
    }

    pub(super) async fn quiesce_forever(self: Arc<Host>) {
        let mut tick = tokio::time::interval(TICK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.meta_quiet
                .tick(self.id, self.quiesce_after, &self.liveness);
            let mut quiet = 0usize;
            for (_, group) in self.groups() {
                group
                    .quiet
                    .tick(self.id, self.quiesce_after, &self.liveness);
                quiet += usize::from(group.quiet.is_quiet());
            }
            metrics::gauge!("rotor_raft_quiet_groups").set(quiet as f64);
        }
    }
}
