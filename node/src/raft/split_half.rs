//! A split's half starts as a formed raft group. Every replica that applies the split
//! writes, in the same batch as the half's items change hands, the half's first raft
//! state: applied and purged at the log's first position (where openraft's `initialize`
//! puts its first entry), with the parent's voters as of the split entry as members.
//! That state is a function of the log position alone, so every such replica holds the
//! same one and any of them may campaign (openraft's rule for forming a group from
//! several nodes: the same membership at the same first position).
//!
//! A listed replica without the half's items (it caught up on the parent by a snapshot
//! taken after the split, or it holds nothing of the parent) has none of that state: it
//! waits, as a replica never formed, until the half's leader sends it a snapshot, which
//! comes before any log entry because the log starts purged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use openraft::{BasicNode, Membership};
use rotor_storage::{Engine, GroupLog, StateRecord};

use super::log_store::PURGED;
use super::records::Record;
use super::state_machine::{APPLIED, MEMBERSHIP};
use super::{LogId, NodeId, StoredMembership};

/// The first raft state of split half `child_group`, made from the parent's applied
/// membership at the split entry: its final voters (the new ones, during a change).
/// Empty when the parent has no membership applied (nothing to form the half with).
pub(super) fn first_state(
    engine: &Arc<Engine>,
    child_group: u64,
    parent: &StoredMembership,
) -> Vec<StateRecord> {
    let Some(voters) = parent.membership().get_joint_config().last().cloned() else {
        return Vec::new();
    };
    let voters: BTreeSet<NodeId> = voters;
    if voters.is_empty() {
        return Vec::new();
    }
    let nodes: BTreeMap<NodeId, BasicNode> = parent
        .membership()
        .nodes()
        .filter(|(id, _)| voters.contains(id))
        .map(|(id, node)| (*id, node.clone()))
        .collect();
    let start = LogId::default();
    let membership = StoredMembership::new(Some(start), Membership::new(vec![voters], nodes));
    let log = GroupLog::new(engine.clone(), child_group);
    vec![
        log.state_record(APPLIED, Some(start).to_bytes()),
        log.state_record(MEMBERSHIP, membership.to_bytes()),
        log.state_record(PURGED, start.to_bytes()),
    ]
}
