//! Backfill: a base partition's leader copying the partition's items into a global
//! secondary index added to its table (UpdateTable), before its change log's changes
//! after the index was added follow them.
//!
//! The items are read a page at a time in key order, each page as the partition holds
//! it then. That is enough: every change after the index's start position follows the
//! backfill, in log order, and an index entry put from any state of the item at or
//! after that position is removed or replaced by the change that next alters the item
//! (absolute puts and deletes replayed in order converge on the last state). Each page
//! goes to every partition of the index, which applies it only in order (see
//! `apply::decide`); a page refused as out of order (a leader change cut an attempt
//! short) starts the backfill again under a new attempt.

use std::time::{Duration, Instant};

use rotor_model::global_index::{BackfillPage, IndexWrite};
use rotor_model::keys::token_of_item_key;
use rotor_model::read::ReadRange;
use rotor_model::Item;
use rotor_router::IndexWriteError;

use super::propagate::{Feeder, Target};
use crate::host::PartitionGroup;

/// Items per page, and the bytes a page stops at.
const PAGE_ITEMS: usize = 256;
const PAGE_BYTES: usize = 1 << 20;
/// A page that fails for another reason than order is sent this many times (then the
/// backfill starts again, planned on the map as it is then).
const PAGE_TRIES: u32 = 5;
/// How often a long backfill says how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Why a backfill stopped short.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("the index asked for the backfill to start again")]
    Restart,
    #[error("no longer the partition's leader")]
    NotLeader,
    #[error("reading the partition's items: {0}")]
    Storage(#[from] rotor_storage::StorageError),
    #[error("sending a page to the index: {0}")]
    Send(#[from] IndexWriteError),
}

/// Copies the items of `group`'s partition into the index `target`, as source
/// `source`. Returns the number of items with an entry in the index.
pub async fn run(
    group: &PartitionGroup,
    feeder: &Feeder,
    source: (u32, u32),
    target: &Target<'_>,
) -> Result<u64, BackfillError> {
    let attempt = new_attempt(feeder.node);
    let started = Instant::now();
    let mut reported = started;
    let (mut read, mut entries) = (0u64, 0u64);
    let mut after: Option<Vec<u8>> = None;
    tracing::info!(
        table = source.0,
        partition = source.1,
        index = %target.shape.name,
        attempt,
        "backfilling a new global secondary index"
    );
    loop {
        if group.leads_for_writes(feeder.node, feeder.lease).is_err() {
            return Err(BackfillError::NotLeader);
        }
        let items = read_page(group, feeder, after.as_deref())?;
        let Some(through) = items.last().map(|(key, _)| key.clone()) else {
            break;
        };
        let page = BackfillPage {
            start: target.start,
            attempt,
            after: after.clone(),
            through: through.clone(),
        };
        let writes = page_writes(source, target, page, &items);
        entries += writes
            .iter()
            .map(|(_, w)| w.changes.len() as u64)
            .sum::<u64>();
        send_page(feeder, target, &writes).await?;
        tracing::debug!(
            table = source.0,
            partition = source.1,
            attempt,
            items = items.len(),
            "backfill page applied"
        );
        read += items.len() as u64;
        metrics::counter!("rotor_index_backfill_items_total").increment(items.len() as u64);
        after = Some(through);
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = Instant::now();
            tracing::info!(
                index = %target.shape.name,
                partition = source.1,
                items = read,
                seconds = started.elapsed().as_secs(),
                "backfill in progress"
            );
        }
    }
    tracing::info!(
        table = source.0,
        partition = source.1,
        index = %target.shape.name,
        items = read,
        entries,
        millis = started.elapsed().as_millis() as u64,
        "backfill of a partition done"
    );
    Ok(entries)
}

/// An attempt id no earlier attempt of this node had (time-based, the node's id in
/// the low bits, so two leaders in a row never share one).
fn new_attempt(node: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos & !0xffff) | (node & 0xffff)
}

/// The partition's items after `after` (in key order), one page.
fn read_page(
    group: &PartitionGroup,
    feeder: &Feeder,
    after: Option<&[u8]>,
) -> Result<Vec<(Vec<u8>, Item)>, rotor_storage::StorageError> {
    let (start, end) = group.partition.range().key_range(group.table_id);
    let start = match after {
        // The first key after `after`.
        Some(a) => {
            let mut k = a.to_vec();
            k.push(0);
            k.max(start)
        }
        None => start,
    };
    let page = rotor_storage::items::read_range(
        &feeder.engine,
        &ReadRange {
            start,
            end,
            reverse: false,
            max_items: Some(PAGE_ITEMS),
            max_bytes: PAGE_BYTES,
            local_index: None,
        },
    )?;
    Ok(page.items)
}

/// One page's writes: one per partition of the index, each with its items' entries
/// (items whose index key has the wrong type have none).
fn page_writes(
    source: (u32, u32),
    target: &Target<'_>,
    page: BackfillPage,
    items: &[(Vec<u8>, Item)],
) -> Vec<(u32, IndexWrite)> {
    let mut writes: Vec<(u32, IndexWrite)> = target
        .def
        .spans()
        .iter()
        .map(|span| {
            (
                span.partition,
                IndexWrite {
                    source,
                    gated: target.gated,
                    up_to: target.start,
                    changes: Vec::new(),
                    release: Vec::new(),
                    backfill: Some(page.clone()),
                },
            )
        })
        .collect();
    for (_, item) in items {
        for change in target.shape.changes(None, Some(item)) {
            let Some(token) = token_of_item_key(change.key()) else {
                continue;
            };
            let partition = target.def.partition_of_token(token);
            if let Some((_, w)) = writes.iter_mut().find(|(p, _)| *p == partition) {
                w.changes.push((target.start, change));
            }
        }
    }
    writes
}

/// Sends a page to every index partition; a failure other than a refusal of its
/// order is retried (the index partitions skip what they have).
async fn send_page(
    feeder: &Feeder,
    target: &Target<'_>,
    writes: &[(u32, IndexWrite)],
) -> Result<(), BackfillError> {
    let mut pause = Duration::from_millis(20);
    let mut tries = 0;
    loop {
        tries += 1;
        let sends = writes
            .iter()
            .map(|(partition, write)| feeder.client.index_write(target.def, *partition, write));
        let mut failure = None;
        for result in futures::future::join_all(sends).await {
            match result {
                Ok(()) => {}
                Err(IndexWriteError::BackfillRestart(_)) => return Err(BackfillError::Restart),
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            None => return Ok(()),
            Some(e) if tries >= PAGE_TRIES => return Err(e.into()),
            Some(e) => {
                tracing::debug!(index = %target.shape.name, %e, "backfill page not applied; sending it again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}
