//! Fault injection between nodes, off unless a node runs with `--fault-injection`:
//! delay or drop this node's raft RPCs to named peers (a slow or lossy link, a one-way
//! partition), controlled over the node's HTTP port at `/_rotor/faults`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rotor_model::cluster::META_GROUP;
use serde::{Deserialize, Serialize};

/// What happens to RPCs sent to one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFault {
    /// Milliseconds added before each RPC is sent.
    #[serde(default)]
    pub delay_ms: u64,
    /// Fraction of RPCs dropped (the sender sees the peer as unreachable), 0.0 to 1.0.
    #[serde(default)]
    pub drop_fraction: f64,
    /// Only the partition groups' RPCs suffer (the metadata group's pass untouched): the
    /// data plane cut or slowed while the peer keeps following the cluster map, e.g. to
    /// hold a new replica's catch-up back.
    #[serde(default)]
    pub partitions_only: bool,
}

/// The faults on this node's outgoing links, by peer node id (`"*"`: every peer).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerFaultRules {
    #[serde(default)]
    pub peers: BTreeMap<String, LinkFault>,
}

impl PeerFaultRules {
    /// Checks the rules; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (peer, fault) in &self.peers {
            if peer != "*" && peer.parse::<u64>().is_err() {
                return Err(format!(
                    "peer {peer:?} is not a node id (a number) or \"*\" (every peer)"
                ));
            }
            if !(0.0..=1.0).contains(&fault.drop_fraction) {
                return Err(format!(
                    "drop_fraction for peer {peer} must be between 0.0 and 1.0, not {}",
                    fault.drop_fraction
                ));
            }
        }
        Ok(())
    }

    fn for_peer(&self, peer: u64) -> Option<LinkFault> {
        self.peers
            .get(&peer.to_string())
            .or_else(|| self.peers.get("*"))
            .copied()
    }
}

/// What to do with one RPC.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Send,
    Drop,
}

/// The node's current rules; checking them costs one atomic load while none are set.
pub struct PeerFaults {
    active: AtomicBool,
    state: Mutex<(PeerFaultRules, fastrand::Rng)>,
}

impl Default for PeerFaults {
    fn default() -> Self {
        PeerFaults {
            active: AtomicBool::new(false),
            state: Mutex::new((PeerFaultRules::default(), fastrand::Rng::new())),
        }
    }
}

impl PeerFaults {
    pub fn rules(&self) -> PeerFaultRules {
        self.state.lock().0.clone()
    }

    pub fn set(&self, rules: PeerFaultRules) -> Result<(), String> {
        rules.validate()?;
        tracing::warn!(?rules, "peer fault injection rules set");
        let mut state = self.state.lock();
        self.active
            .store(!rules.peers.is_empty(), Ordering::Release);
        state.0 = rules;
        Ok(())
    }

    pub fn clear(&self) {
        tracing::warn!("peer fault injection cleared");
        let mut state = self.state.lock();
        self.active.store(false, Ordering::Release);
        state.0 = PeerFaultRules::default();
    }

    /// Applies the rules to one RPC of raft group `group` for `peer`: waits the delay,
    /// then says whether to send it.
    pub async fn before_send(&self, peer: u64, group: u64) -> Verdict {
        if !self.active.load(Ordering::Acquire) {
            return Verdict::Send;
        }
        let (delay, drop) = {
            let mut state = self.state.lock();
            let (rules, rng) = &mut *state;
            match rules.for_peer(peer) {
                None => return Verdict::Send,
                Some(f) if f.partitions_only && group == META_GROUP => return Verdict::Send,
                Some(f) => (
                    f.delay_ms,
                    f.drop_fraction > 0.0 && rng.f64() < f.drop_fraction,
                ),
            }
        };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if drop {
            metrics::counter!("rotor_injected_rpc_drops_total").increment(1);
            Verdict::Drop
        } else {
            Verdict::Send
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> PeerFaultRules {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let faults = PeerFaults::default();
        let err = faults
            .set(rules(r#"{"peers": {"two": {"delay_ms": 5}}}"#))
            .unwrap_err();
        assert!(err.contains("not a node id"), "{err}");
        let err = faults
            .set(rules(r#"{"peers": {"2": {"drop_fraction": 2.0}}}"#))
            .unwrap_err();
        assert!(err.contains("between 0.0 and 1.0"), "{err}");
        assert!(
            serde_json::from_str::<PeerFaultRules>(r#"{"peers": {"2": {"dealy_ms": 5}}}"#).is_err()
        );
    }

    #[tokio::test]
    async fn drops_only_to_the_named_peer_and_star_covers_the_rest() {
        let faults = PeerFaults::default();
        faults
            .set(rules(r#"{"peers": {"2": {"drop_fraction": 1.0}}}"#))
            .unwrap();
        assert_eq!(faults.before_send(2, 9).await, Verdict::Drop);
        assert_eq!(faults.before_send(3, 9).await, Verdict::Send);
        faults
            .set(rules(
                r#"{"peers": {"*": {"drop_fraction": 1.0}, "3": {"delay_ms": 1}}}"#,
            ))
            .unwrap();
        assert_eq!(faults.before_send(2, 9).await, Verdict::Drop);
        assert_eq!(faults.before_send(3, 9).await, Verdict::Send);
        faults.clear();
        assert_eq!(faults.before_send(2, 9).await, Verdict::Send);
    }

    #[tokio::test]
    async fn partitions_only_spares_the_metadata_group() {
        let faults = PeerFaults::default();
        faults
            .set(rules(
                r#"{"peers": {"4": {"drop_fraction": 1.0, "partitions_only": true}}}"#,
            ))
            .unwrap();
        assert_eq!(faults.before_send(4, 9).await, Verdict::Drop);
        assert_eq!(faults.before_send(4, META_GROUP).await, Verdict::Send);
    }

    #[tokio::test]
    async fn drops_about_the_chosen_fraction() {
        let faults = PeerFaults::default();
        faults
            .set(rules(r#"{"peers": {"*": {"drop_fraction": 0.3}}}"#))
            .unwrap();
        let mut dropped = 0;
        for _ in 0..4000 {
            if faults.before_send(7, 9).await == Verdict::Drop {
                dropped += 1;
            }
        }
        assert!((1000..1400).contains(&dropped), "{dropped} of 4000 dropped");
    }
}
