//! Feeding global secondary indexes: a base partition's leader reads its change log
//! from the position its indexes have, turns each item change into index entry
//! changes (`GlobalIndexShape::changes`), sends each index partition its share as one
//! `IndexWrite` (all at once, to their leaders), and once every one is applied records
//! the new position in its own log (`ChangeProgress`, which trims the log below).
//!
//! Delivery is at least once and exact: an index partition applies each base position
//! once (its `index_sources`), so a batch sent again after a lost answer, a leader
//! change or a restart changes nothing twice. A split is in the log too: when the
//! leader gets past it, it releases the split-off partition at every index partition,
//! which until then refuse that partition's own changes (they are newer than the
//! parent's, which must land first).

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rotor_model::cluster::ClusterMap;
use rotor_model::global_index::{GlobalIndexShape, IndexWrite};
use rotor_model::keys::token_of_item_key;
use rotor_model::table::TableDef;
use rotor_router::{ClusterBackend, IndexWriteError};
use rotor_storage::changelog::{read_changes, Change};
use rotor_storage::{Engine, GroupLog};
use tokio::sync::watch;

use crate::host::PartitionGroup;
use crate::raft::Command;

/// Changes read and delivered per round.
const BATCH: usize = 512;
/// Pause between rounds that found nothing to deliver.
const IDLE_POLL: Duration = Duration::from_millis(10);
/// Pause between rounds of a follower or of a partition that feeds no index.
const WATCH_POLL: Duration = Duration::from_millis(250);
/// How often a busy leader records its delivered position in the base log (each record
/// is a raft write; a new leader resends at most what was delivered since).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Pauses after a failed delivery grow from the first to the second.
const MIN_RETRY: Duration = Duration::from_millis(20);
const MAX_RETRY: Duration = Duration::from_secs(1);

/// What a propagator needs of its node.
#[derive(Clone)]
pub struct Feeder {
    pub node: u64,
    pub engine: Arc<Engine>,
    pub map: watch::Receiver<Arc<ClusterMap>>,
    /// Routes index writes to index partitions' leaders.
    pub client: Arc<ClusterBackend>,
    /// How long a leader may go without hearing its followers and still write.
    pub lease: Duration,
}

/// One index write to send: the index's table, its partition, the write.
pub type Delivery<'a> = (&'a TableDef, u32, IndexWrite);

/// One index a base partition feeds, as a round sees it.
pub struct Target<'a> {
    /// The index's table (where its partitions are).
    pub def: &'a TableDef,
    pub shape: GlobalIndexShape,
    /// The base log position the index was added at: it gets the changes after it.
    pub start: u64,
    /// Refused by the index until the partition this one was split off releases it.
    pub gated: bool,
}

/// The index writes that deliver `changes` of base partition `source`, one per index
/// partition that has changes or a release in them. Each index gets the item changes
/// after its start; a split releases the split-off partition at every index.
pub fn plan<'a>(
    source: (u32, u32),
    changes: &[(u64, Change)],
    targets: &[Target<'a>],
) -> Vec<Delivery<'a>> {
    let up_to = changes.last().map_or(0, |(p, _)| *p);
    let mut writes: BTreeMap<(u32, u32), (&'a TableDef, IndexWrite)> = BTreeMap::new();
    fn slot<'a, 'm>(
        writes: &'m mut BTreeMap<(u32, u32), (&'a TableDef, IndexWrite)>,
        target: &Target<'a>,
        (source, up_to): ((u32, u32), u64),
        partition: u32,
    ) -> &'m mut IndexWrite {
        &mut writes
            .entry((target.def.id, partition))
            .or_insert_with(|| {
                (
                    target.def,
                    IndexWrite {
                        source,
                        gated: target.gated,
                        up_to,
                        ..IndexWrite::default()
                    },
                )
            })
            .1
    }
    for (position, change) in changes {
        match change {
            Change::Item(item) => {
                for target in targets.iter().filter(|t| *position > t.start) {
                    for change in target.shape.changes(item.old.as_ref(), item.new.as_ref()) {
                        let Some(token) = token_of_item_key(change.key()) else {
                            continue;
                        };
                        let partition = target.def.partition_of_token(token);
                        slot(&mut writes, target, (source, up_to), partition)
                            .changes
                            .push((*position, change));
                    }
                }
            }
            Change::Split { child, .. } => {
                for target in targets {
                    for span in target.def.spans().iter() {
                        slot(&mut writes, target, (source, up_to), span.partition)
                            .release
                            .push(*child);
                    }
                }
            }
        }
    }
    writes
        .into_iter()
        .map(|((_, partition), (def, write))| (def, partition, write))
        .collect()
}

/// Starts feeding the indexes of the table of `group` from it while this node leads
/// it (a table without any is watched for one being added); stops when the group
/// closes here.
pub fn spawn(group: &Arc<PartitionGroup>, group_id: u64, feeder: Feeder) {
    let weak = Arc::downgrade(group);
    tokio::spawn(async move { run(weak, group_id, feeder).await });
}

async fn run(group: Weak<PartitionGroup>, group_id: u64, feeder: Feeder) {
    let log = GroupLog::new(feeder.engine.clone(), group_id);
    // The next position to read while leading (None: read it from the log's record).
    let mut cursor: Option<u64> = None;
    // A delivered position not yet recorded in the base log, and when one last was.
    let mut unrecorded: Option<u64> = None;
    let mut recorded_at = tokio::time::Instant::now();
    let mut retry = MIN_RETRY;
    loop {
        let Some(group) = group.upgrade() else {
            return;
        };
        let outcome = round(&group, &log, &feeder, &mut cursor).await;
        if let Ok(Some(next)) = outcome {
            unrecorded = Some(next);
        }
        let idle = matches!(outcome, Ok(None));
        // A follower, or a partition feeding no index, only watches for that to change.
        let watching = group.partition.change_format().is_none()
            || group.leads_for_writes(feeder.node, feeder.lease).is_err();
        if let Some(position) = unrecorded {
            if idle || recorded_at.elapsed() >= PROGRESS_EVERY {
                // Recorded in the base log, so the next leader resumes here; losing
                // it only means sending some changes again.
                let _ = group
                    .raft
                    .client_write(Command::ChangeProgress {
                        position,
                        backfilled: Vec::new(),
                    })
                    .await;
                unrecorded = None;
                recorded_at = tokio::time::Instant::now();
            }
        }
        let pause = match outcome {
            Ok(Some(_)) => {
                retry = MIN_RETRY;
                Duration::ZERO
            }
            Ok(None) if watching => WATCH_POLL,
            Ok(None) => IDLE_POLL,
            Err(why) => {
                tracing::debug!(table = group.table_id, partition = group.partition.index(), %why, "index delivery failed; retrying");
                metrics::counter!("rotor_index_delivery_retries_total").increment(1);
                retry = (retry * 2).min(MAX_RETRY);
                retry
            }
        };
        drop(group);
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause).await;
        }
    }
}

/// One round: Ok(Some(next)) when changes were delivered up to (not including)
/// `next`, Ok(None) when there was nothing to do (not leading, or nothing new).
async fn round(
    group: &PartitionGroup,
    log: &GroupLog,
    feeder: &Feeder,
    cursor: &mut Option<u64>,
) -> anyhow::Result<Option<u64>> {
    if group.leads_for_writes(feeder.node, feeder.lease).is_err() {
        *cursor = None;
        return Ok(None);
    }
    let map = feeder.map.borrow().clone();
    let source = (group.table_id, group.partition.index());
    let tracked = super::tracked::read(log, Some(&map), source.0)?;
    let index_tables = map.global_indexes_of(source.0);
    let wanted: Vec<GlobalIndexShape> = index_tables
        .iter()
        .filter_map(|t| t.def.global_index_shape())
        .collect();
    if tracked.ids() != wanted.iter().map(|s| s.table_id).collect::<Vec<_>>() {
        // An index was added to the table or removed: from the next log position on,
        // the partition checks its writes against the table's indexes as they are now.
        tracing::info!(
            table = source.0,
            partition = source.1,
            before = ?tracked.ids(),
            after = ?wanted.iter().map(|s| s.table_id).collect::<Vec<_>>(),
            "the table's global secondary indexes changed; the partition tracks them from its next log entry"
        );
        group
            .raft
            .client_write(Command::TrackIndexes(wanted))
            .await
            .map_err(|e| anyhow::anyhow!("tracking the table's new indexes: {e}"))?;
        *cursor = None;
        return Ok(None);
    }
    let Some(format) = group.partition.change_format() else {
        return Ok(None);
    };
    report_backfilled(feeder, &map, source, &tracked).await;
    let split_off = map
        .replicas(source.0, source.1)
        .is_some_and(|p| p.split_from.is_some());
    let targets: Vec<Target> = tracked
        .0
        .iter()
        .filter_map(|t| {
            Some(Target {
                def: &map.table_by_id(t.shape.table_id)?.def,
                shape: t.shape.clone(),
                start: t.start,
                gated: split_off && t.inherited,
            })
        })
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let from = match *cursor {
        Some(c) => c,
        None => super::apply::delivered(log)?.max(1),
    };
    let mut changes = read_changes(&feeder.engine, format.as_ref(), source, from, BATCH)?;
    // An index whose backfill is ahead gets its changes only after it: deliver up to
    // its start, then backfill.
    let pending = tracked.next_backfill().and_then(|p| {
        targets
            .iter()
            .find(|t| t.shape.table_id == p.shape.table_id)
    });
    if let Some(pending) = pending {
        changes.retain(|(position, _)| *position <= pending.start);
        if changes.is_empty() {
            super::backfill::run(group, feeder, source, pending).await?;
            let next = (pending.start + 1).max(from);
            group
                .raft
                .client_write(Command::ChangeProgress {
                    position: next,
                    backfilled: vec![pending.shape.table_id],
                })
                .await
                .map_err(|e| anyhow::anyhow!("recording a finished backfill: {e}"))?;
            *cursor = Some(next);
            return Ok(Some(next));
        }
    }
    let Some(&(up_to, _)) = changes.last() else {
        *cursor = Some(from);
        return Ok(None);
    };
    let deliveries = plan(source, &changes, &targets);
    let sends = deliveries
        .iter()
        .map(|(def, partition, write)| feeder.client.index_write(def, *partition, write));
    for result in futures::future::join_all(sends).await {
        match result {
            Ok(()) => {}
            Err(IndexWriteError::NotReleased(_)) => {
                anyhow::bail!("waiting for the partition this one was split off to release it")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let next = up_to + 1;
    *cursor = Some(next);
    tracing::debug!(
        table = source.0,
        partition = source.1,
        from,
        up_to,
        changes = changes.len(),
        writes = deliveries.len(),
        "changes delivered to the indexes"
    );
    metrics::counter!("rotor_index_changes_delivered_total").increment(changes.len() as u64);
    let applied = group
        .raft
        .metrics()
        .borrow()
        .last_applied
        .map_or(0, |l| l.index);
    metrics::gauge!("rotor_index_lag_entries", "table" => group.table_id.to_string())
        .set(applied.saturating_sub(up_to) as f64);
    Ok(Some(next))
}

/// Tells the metadata group about each index this partition has backfilled that the
/// map still lists as backfilling without it (repeated until the map has it).
async fn report_backfilled(
    feeder: &Feeder,
    map: &ClusterMap,
    (table, partition): (u32, u32),
    tracked: &super::tracked::Tracked,
) {
    for t in tracked.0.iter().filter(|t| t.backfilled) {
        let waiting = map
            .table_by_id(t.shape.table_id)
            .and_then(|e| e.def.global_index_of.as_ref())
            .is_some_and(|g| g.backfilling && !g.backfilled.contains(&partition));
        if waiting {
            if let Err(e) = feeder
                .client
                .report_backfilled(t.shape.table_id, partition)
                .await
            {
                tracing::debug!(table, partition, index = %t.shape.name, %e, "reporting a finished backfill failed; will retry");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::global_index::{GlobalIndexOf, IndexChange, IndexStatus};
    use rotor_model::index::Projection;
    use rotor_model::keys::item_key;
    use rotor_model::table::{KeyAttribute, KeySchema, ScalarType};
    use rotor_model::{AttributeValue, Item};
    use rotor_storage::changelog::ItemChange;

    fn index_table(id: u32, partitions: u32) -> TableDef {
        let mut def = TableDef {
            id,
            partition_count: partitions,
            global_index_of: Some(GlobalIndexOf {
                base_table_id: 1,
                base_table: "t".into(),
                index_name: "by_city".into(),
                base_key: TableDef::keyed_by_pk("t").key_schema,
                projection: Projection::KeysOnly,
                status: IndexStatus::Active,
                backfilling: false,
                online: false,
                backfilled: Default::default(),
            }),
            ..TableDef::new(
                "t/by_city",
                KeySchema {
                    partition: KeyAttribute {
                        name: "city".into(),
                        ty: ScalarType::S,
                    },
                    sort: None,
                },
                Vec::new(),
            )
        };
        def.layout = rotor_model::table::equal_layout(partitions);
        def
    }

    fn user(pk: &str, city: &str) -> Item {
        Item::from([
            ("pk".into(), AttributeValue::S(pk.into())),
            ("city".into(), AttributeValue::S(city.into())),
        ])
    }

    fn change(pk: &str, old: Option<Item>, new: Option<Item>) -> Change {
        Change::Item(ItemChange {
            item_key: item_key(1, &AttributeValue::S(pk.into()), None),
            old,
            new,
        })
    }

    #[test]
    fn each_index_partition_gets_its_share_in_log_order() {
        let def = index_table(9, 4);
        let shape = def.global_index_shape().unwrap();
        let indexes = vec![Target {
            def: &def,
            shape: shape.clone(),
            start: 0,
            gated: false,
        }];
        let changes = vec![
            (3, change("u1", None, Some(user("u1", "Paris")))),
            (4, change("u2", None, Some(user("u2", "Oslo")))),
            (
                6,
                change("u1", Some(user("u1", "Paris")), Some(user("u1", "Oslo"))),
            ),
        ];
        let deliveries = plan((1, 0), &changes, &indexes);
        let mut seen: Vec<(u64, IndexChange)> = Vec::new();
        for (d, partition, write) in &deliveries {
            assert_eq!(d.id, 9);
            assert_eq!((write.source, write.up_to, write.gated), ((1, 0), 6, false));
            for (position, change) in &write.changes {
                let token = token_of_item_key(change.key()).unwrap();
                assert_eq!(
                    def.partition_of_token(token),
                    *partition,
                    "routed by the index key"
                );
                seen.push((*position, change.clone()));
            }
            let positions: Vec<u64> = write.changes.iter().map(|c| c.0).collect();
            assert!(positions.windows(2).all(|w| w[0] <= w[1]), "in log order");
        }
        seen.sort_by_key(|c| c.0);
        let want: Vec<(u64, IndexChange)> = [
            (3, shape.changes(None, Some(&user("u1", "Paris")))),
            (4, shape.changes(None, Some(&user("u2", "Oslo")))),
            (
                6,
                shape.changes(Some(&user("u1", "Paris")), Some(&user("u1", "Oslo"))),
            ),
        ]
        .into_iter()
        .flat_map(|(p, cs)| cs.into_iter().map(move |c| (p, c)))
        .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_split_releases_the_child_at_every_index_partition() {
        let def = index_table(9, 3);
        let indexes = vec![Target {
            def: &def,
            shape: def.global_index_shape().unwrap(),
            start: 0,
            gated: true,
        }];
        let changes = vec![(
            7,
            Change::Split {
                child: 5,
                at: 1 << 62,
            },
        )];
        let deliveries = plan((1, 2), &changes, &indexes);
        let partitions: Vec<u32> = deliveries.iter().map(|d| d.1).collect();
        assert_eq!(partitions, [0, 1, 2]);
        assert!(deliveries
            .iter()
            .all(|(_, _, w)| w.release == [5] && w.changes.is_empty() && w.gated && w.up_to == 7));
    }

    #[test]
    fn an_index_gets_only_the_changes_after_it_was_added_but_every_release() {
        let def = index_table(9, 2);
        let shape = def.global_index_shape().unwrap();
        let targets = vec![Target {
            def: &def,
            shape: shape.clone(),
            start: 4,
            gated: false,
        }];
        let changes = vec![
            (3, change("u1", None, Some(user("u1", "Paris")))),
            (
                4,
                Change::Split {
                    child: 6,
                    at: 1 << 62,
                },
            ),
            (5, change("u2", None, Some(user("u2", "Oslo")))),
        ];
        let deliveries = plan((1, 0), &changes, &targets);
        let positions: Vec<u64> = deliveries
            .iter()
            .flat_map(|(_, _, w)| w.changes.iter().map(|c| c.0))
            .collect();
        assert_eq!(positions, [5]);
        assert_eq!(
            deliveries.len(),
            2,
            "the release goes to both index partitions"
        );
        assert!(deliveries.iter().all(|(_, _, w)| w.release == [6]));
    }
}
