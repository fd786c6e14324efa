//! The autoscaler, on the metadata leader: measures every partition and splits the
//! ones that stay hot or grow large.
//!
//! Every `interval` it reads what each replica served (`Cluster.Load`: capacity units
//! so far, bytes stored, recent tokens) and turns the differences into rates. A
//! partition's utilisation is the larger of its read and write rates against the
//! per-partition capacity (DynamoDB's 3,000 RCU and 1,000 WCU by default). One that stays
//! above the target for a whole `window` is split at its load-weighted median token; one
//! above `split_bytes` at its size median. A split is a metadata change: the new half
//! starts on the same replicas (its items are already there) and is pinned to the least
//! loaded nodes, where the rebalancer then moves it. A half is not split again before
//! it has been measured for a whole window of its own; a partition whose load is one
//! partition key is reported, never split.
//!
//! It also makes tables reach the `WarmThroughput` their users asked for: a table whose
//! partitions serve less than that at once has its widest partitions split in two at
//! their middle token, every round, until it has enough (with `--no-autoscale` too:
//! that is asked for, not decided). And it publishes this node's per-partition
//! capacity to the map, which DescribeTable's warm throughput is counted in.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rotor_model::cluster::{partition_group, ClusterMap, MetaCommand, MetaReply, NodeId};
use rotor_model::table::{CapacityDimension, TokenRange, UnitsPerSecond};
use rotor_proto::v1::cluster_client::ClusterClient;
use rotor_proto::v1::{GroupLoad, LoadRequest, PartitionLoadView, SplitPointRequest};

use crate::capacity_scaling::{CapacityScaler, ScalingConfig};
use crate::host::Host;
use crate::load::load_median;

/// Decisions kept for `rotor admin status`.
const EVENTS_KEPT: usize = 50;

/// The autoscaler's settings (`rotor node` / `rotor dev` flags).
#[derive(Debug, Clone)]
pub struct AutoscaleConfig {
    pub enabled: bool,
    /// How often partitions are measured.
    pub interval: Duration,
    /// How long a partition must stay above the target before it is split.
    pub window: Duration,
    /// The fraction of a partition's capacity above which it counts as hot.
    pub target: f64,
    /// Read units per second one partition serves (DynamoDB: 3,000).
    pub partition_rcu: f64,
    /// Write units per second one partition serves (DynamoDB: 1,000).
    pub partition_wcu: f64,
    /// A partition holding more bytes than this is split at its size median.
    pub split_bytes: u64,
    /// When provisioned capacity is scaled.
    pub scaling: ScalingConfig,
}

impl Default for AutoscaleConfig {
    fn default() -> Self {
        AutoscaleConfig {
            enabled: true,
            interval: Duration::from_secs(5),
            window: Duration::from_secs(120),
            target: 0.7,
            partition_rcu: 3000.0,
            partition_wcu: 1000.0,
            split_bytes: 10 * 1024 * 1024 * 1024,
            scaling: ScalingConfig::default(),
        }
    }
}

/// The latest measurement of one partition (summed over its replicas).
#[derive(Debug, Clone, Default)]
struct Measured {
    read_per_sec: f64,
    write_per_sec: f64,
    size_bytes: u64,
    samples: Vec<(u64, f64)>,
    /// Its leader holds its items and owns exactly the tokens the map gives it (every
    /// split of it applied): it may be split again.
    ready: bool,
}

/// What the autoscaler remembers of one partition group.
#[derive(Debug, Clone)]
struct Tracked {
    first_seen: Instant,
    above_since: Option<Instant>,
    /// A single hot key was reported during the current stretch above the target.
    hot_key_reported: bool,
    measured: Measured,
    utilisation: f64,
}

/// One replica's counters as last read: (opened_at_ms, read units, write units, when).
type Counters = (u64, f64, f64, Instant);

#[derive(Default)]
struct State {
    counters: HashMap<(NodeId, u64), Counters>,
    tracked: HashMap<u64, Tracked>,
    events: VecDeque<String>,
}

pub struct Autoscaler {
    config: AutoscaleConfig,
    state: Mutex<State>,
    capacity: CapacityScaler,
}

impl Autoscaler {
    pub fn new(config: AutoscaleConfig) -> Autoscaler {
        Autoscaler {
            capacity: CapacityScaler::new(config.scaling.clone()),
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// Every partition's latest measurement, and the recent decisions, oldest first.
    pub fn view(&self) -> (Vec<PartitionLoadView>, Vec<String>) {
        let state = self.state.lock();
        let now = Instant::now();
        let mut loads: Vec<PartitionLoadView> = state
            .tracked
            .iter()
            .map(|(group, t)| {
                let (table_id, partition) = rotor_model::cluster::group_partition(*group);
                PartitionLoadView {
                    table_id,
                    partition,
                    read_units_per_sec: t.measured.read_per_sec,
                    write_units_per_sec: t.measured.write_per_sec,
                    size_bytes: t.measured.size_bytes,
                    utilisation: t.utilisation,
                    above_target_secs: t
                        .above_since
                        .map_or(0.0, |s| now.duration_since(s).as_secs_f64()),
                }
            })
            .collect();
        loads.sort_by_key(|l| (l.table_id, l.partition));
        (loads, state.events.iter().cloned().collect())
    }

    fn event(&self, text: String) {
        let mut state = self.state.lock();
        if state.events.len() >= EVENTS_KEPT {
            state.events.pop_front();
        }
        state.events.push_back(text);
    }

    /// Folds one round of every replica's counters into per-partition rates.
    fn absorb(&self, map: &ClusterMap, loads: &[(NodeId, Vec<GroupLoad>)], now: Instant) {
        let mut state = self.state.lock();
        let mut round: HashMap<u64, Measured> = HashMap::new();
        for (node, groups) in loads {
            for g in groups {
                let group = partition_group(g.table_id, g.partition);
                let key = (*node, group);
                let entry = round.entry(group).or_default();
                if let Some((opened, read, write, at)) = state.counters.get(&key).copied() {
                    let secs = now.duration_since(at).as_secs_f64();
                    if opened == g.opened_at_ms && secs > 0.0 {
                        entry.read_per_sec += (g.read_units - read).max(0.0) / secs;
                        entry.write_per_sec += (g.write_units - write).max(0.0) / secs;
                    }
                }
                if g.leader || entry.size_bytes == 0 {
                    entry.size_bytes = g.size_bytes;
                }
                if g.leader && g.seeded {
                    let owns = TokenRange {
                        start: g.range_start,
                        end: (!g.range_open_end).then_some(g.range_end),
                    };
                    entry.ready = map
                        .table_by_id(g.table_id)
                        .and_then(|t| t.def.partition_tokens(g.partition))
                        == Some(owns);
                }
                entry
                    .samples
                    .extend(g.samples.iter().map(|s| (s.token, s.units)));
                state
                    .counters
                    .insert(key, (g.opened_at_ms, g.read_units, g.write_units, now));
            }
        }
        // Only partitions in the map are tracked (a deleted table's are forgotten).
        let live: std::collections::HashSet<u64> = map
            .tables
            .values()
            .flat_map(|t| (0..t.partitions.len() as u32).map(|p| partition_group(t.def.id, p)))
            .collect();
        state.tracked.retain(|g, _| live.contains(g));
        state.counters.retain(|(_, g), _| live.contains(g));
        for group in live {
            let measured = round.remove(&group).unwrap_or_default();
            let utilisation = (measured.read_per_sec / self.config.partition_rcu)
                .max(measured.write_per_sec / self.config.partition_wcu);
            let above = utilisation > self.config.target;
            let tracked = state.tracked.entry(group).or_insert_with(|| Tracked {
                first_seen: now,
                above_since: None,
                hot_key_reported: false,
                measured: Measured::default(),
                utilisation: 0.0,
            });
            tracked.measured = measured;
            tracked.utilisation = utilisation;
            if above {
                tracked.above_since.get_or_insert(now);
            } else {
                tracked.above_since = None;
                tracked.hot_key_reported = false;
            }
        }
    }

    /// The partition to split now and why, if any: the longest-hot one past the window,
    /// else one over the size limit. Partitions seen for less than a window (a split's
    /// halves included) wait.
    fn candidate(&self, now: Instant) -> Option<(u64, SplitReason)> {
        let state = self.state.lock();
        let window = self.config.window;
        let mut hot: Vec<(u64, &Tracked)> = state
            .tracked
            .iter()
            .filter(|(_, t)| {
                t.above_since.is_some_and(|s| {
                    now.duration_since(s) >= window && now.duration_since(t.first_seen) >= window
                }) && !t.hot_key_reported
            })
            .map(|(g, t)| (*g, t))
            .collect();
        hot.sort_by_key(|(g, t)| (t.above_since, *g));
        if let Some((group, t)) = hot.first() {
            return Some((
                *group,
                SplitReason::Load {
                    utilisation: t.utilisation,
                    read_per_sec: t.measured.read_per_sec,
                    write_per_sec: t.measured.write_per_sec,
                    above_secs: t
                        .above_since
                        .map_or(0.0, |s| now.duration_since(s).as_secs_f64()),
                    samples: t.measured.samples.clone(),
                },
            ));
        }
        let settled = self.config.interval * 2;
        let mut large: Vec<(u64, u64)> = state
            .tracked
            .iter()
            .filter(|(_, t)| {
                t.measured.size_bytes > self.config.split_bytes
                    && now.duration_since(t.first_seen) >= settled
            })
            .map(|(g, t)| (*g, t.measured.size_bytes))
            .collect();
        large.sort_by_key(|(g, size)| (std::cmp::Reverse(*size), *g));
        large
            .first()
            .map(|(g, size)| (*g, SplitReason::Size { bytes: *size }))
    }

    /// Forgets what was measured of a partition that was just split: its remaining
    /// half is measured afresh for a whole window before it may split again.
    fn restart(&self, group: u64) {
        self.state.lock().tracked.remove(&group);
    }

    fn hot_key_reported(&self, group: u64) {
        if let Some(t) = self.state.lock().tracked.get_mut(&group) {
            t.hot_key_reported = true;
        }
    }

    /// A table's consumption in units per second, read and write, summed over its
    /// partitions' replicas (each counts what it served).
    fn table_rates(&self, table_id: u32) -> (f64, f64) {
        let state = self.state.lock();
        state
            .tracked
            .iter()
            .filter(|(g, _)| rotor_model::cluster::group_partition(**g).0 == table_id)
            .fold((0.0, 0.0), |(r, w), (_, t)| {
                (r + t.measured.read_per_sec, w + t.measured.write_per_sec)
            })
    }

    /// Whether a partition may be split now (see `Measured::ready`).
    fn ready(&self, group: u64) -> bool {
        self.state
            .lock()
            .tracked
            .get(&group)
            .is_some_and(|t| t.measured.ready)
    }

    /// Each node's load (the utilisation of every partition it replicates), with the
    /// partition being split counted half, since its other half is about to leave.
    fn node_loads(&self, map: &ClusterMap, splitting: u64) -> BTreeMap<NodeId, NodeLoad> {
        let state = self.state.lock();
        let mut loads: BTreeMap<NodeId, NodeLoad> = map
            .nodes
            .iter()
            .filter(|(_, n)| n.state == rotor_model::cluster::NodeState::Active)
            .map(|(id, _)| (*id, NodeLoad::default()))
            .collect();
        for entry in map.tables.values() {
            for (p, info) in entry.partitions.iter().enumerate() {
                let group = partition_group(entry.def.id, p as u32);
                let mut u = state.tracked.get(&group).map_or(0.0, |t| t.utilisation);
                if group == splitting {
                    u /= 2.0;
                }
                // Where a partition is headed is where its load will be.
                let holders = info.pinned.as_ref().unwrap_or(&info.replicas);
                for r in holders {
                    if let Some(l) = loads.get_mut(r) {
                        l.utilisation += u;
                        l.replicas += 1;
                    }
                }
            }
        }
        loads
    }
}

/// What a node carries: the utilisation of its replicas, summed, and how many it has.
#[derive(Debug, Clone, Copy, Default)]
struct NodeLoad {
    utilisation: f64,
    replicas: usize,
}

/// Why a partition is split.
#[derive(Debug, Clone)]
enum SplitReason {
    Load {
        utilisation: f64,
        read_per_sec: f64,
        write_per_sec: f64,
        above_secs: f64,
        samples: Vec<(u64, f64)>,
    },
    Size {
        bytes: u64,
    },
}

impl SplitReason {
    fn label(&self) -> &'static str {
        match self {
            SplitReason::Load { .. } => "load",
            SplitReason::Size { .. } => "size",
        }
    }
}

/// What "least loaded" weighs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weigh {
    /// Utilisation, then replica count: a split for load goes where load is lowest.
    Load,
    /// Replica count, then utilisation: a split for warm throughput adds capacity, and
    /// capacity is partitions per node.
    Replicas,
}

/// The nodes a split's new half goes to: the three least loaded active nodes (fewer
/// when the cluster has fewer), ties broken by id.
fn least_loaded(loads: &BTreeMap<NodeId, NodeLoad>, replicas: usize, weigh: Weigh) -> Vec<NodeId> {
    let mut nodes: Vec<(NodeId, NodeLoad)> = loads.iter().map(|(n, l)| (*n, *l)).collect();
    nodes.sort_by(|a, b| {
        let by_load = a.1.utilisation.total_cmp(&b.1.utilisation);
        let by_count = a.1.replicas.cmp(&b.1.replicas);
        match weigh {
            Weigh::Load => by_load.then(by_count),
            Weigh::Replicas => by_count.then(by_load),
        }
        .then(a.0.cmp(&b.0))
    });
    nodes.into_iter().take(replicas).map(|(n, _)| n).collect()
}

/// The token halfway through a range.
fn middle(range: TokenRange) -> u64 {
    let end = range.end.map_or(1u128 << 64, u128::from);
    (u128::from(range.start) + (end - u128::from(range.start)) / 2) as u64
}

/// The autoscaler's loop: measures and decides while this node leads the metadata group.
pub async fn run(host: Arc<Host>) {
    let scaler = host.autoscaler.clone();
    if !scaler.config.enabled {
        tracing::info!(
            "autoscaler off (--no-autoscale): partitions are split only to reach a table's WarmThroughput"
        );
    }
    let mut tick = tokio::time::interval(scaler.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = false;
    loop {
        tick.tick().await;
        let is_leader = host.is_meta_leader();
        if !is_leader {
            if leading {
                // Another node measures now; start afresh if leadership comes back.
                *scaler.state.lock() = State::default();
                scaler.capacity.reset();
            }
            leading = false;
            continue;
        }
        leading = true;
        if let Err(e) = round(&host, &scaler).await {
            tracing::warn!("autoscaler round failed (will retry): {e:#}");
        }
    }
}

/// One round: read every node's load, update the measurements, maybe split one partition.
async fn round(host: &Arc<Host>, scaler: &Autoscaler) -> anyhow::Result<()> {
    let map = host.map.borrow().clone();
    let reads = map.nodes.iter().map(|(id, node)| {
        let host = host.clone();
        let addr = node.addr.clone();
        let id = *id;
        async move {
            let channel = host.peers.channel(&addr).ok()?;
            let mut request = tonic::Request::new(LoadRequest {});
            request.set_timeout(Duration::from_secs(2));
            let reply = ClusterClient::new(channel).load(request).await.ok()?;
            Some((id, reply.into_inner().groups))
        }
    });
    let loads: Vec<(NodeId, Vec<GroupLoad>)> = futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect();
    let now = Instant::now();
    scaler.absorb(&map, &loads, now);
    publish_metrics(scaler);
    let capacity = UnitsPerSecond {
        read: scaler.config.partition_rcu as u64,
        write: scaler.config.partition_wcu as u64,
    };
    if map.partition_capacity() != capacity {
        host.propose(MetaCommand::SetPartitionCapacity { capacity })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(
            read = capacity.read,
            write = capacity.write,
            "per-partition capacity set for the cluster (units per second)"
        );
        return Ok(());
    }
    scale_capacities(host, scaler, &map, now).await?;
    warm_splits(host, scaler, &map).await?;
    if !scaler.config.enabled {
        return Ok(());
    }
    let Some((group, reason)) = scaler.candidate(now) else {
        return Ok(());
    };
    let (table_id, partition) = rotor_model::cluster::group_partition(group);
    let Some(entry) = map.table_by_id(table_id) else {
        return Ok(());
    };
    let Some(info) = entry.partitions.get(partition as usize) else {
        return Ok(());
    };
    let Some(range) = entry.def.partition_tokens(partition) else {
        return Ok(());
    };
    let table = entry.def.name.clone();
    let (at, why) = match &reason {
        SplitReason::Load {
            utilisation,
            read_per_sec,
            write_per_sec,
            above_secs,
            samples,
        } => {
            // Samples from before an earlier split may name tokens given away since.
            let mine: Vec<(u64, f64)> = samples
                .iter()
                .copied()
                .filter(|(t, _)| range.contains(*t))
                .collect();
            if mine.is_empty() {
                return Ok(());
            }
            let at = load_median(&mine).filter(|t| range.splits_at(*t));
            let why = format!(
                "load: {:.0}% of capacity ({read_per_sec:.0} RCU/s, {write_per_sec:.0} WCU/s) for {above_secs:.0} s, target {:.0}%",
                utilisation * 100.0,
                scaler.config.target * 100.0
            );
            match at {
                Some(at) => (at, why),
                None => {
                    scaler.hot_key_reported(group);
                    metrics::counter!("rotor_autoscaler_hot_keys_total").increment(1);
                    let text = format!(
                        "table {table} partition {partition}: hot ({why}) but its load is on one partition key; not split (a single key cannot be divided)"
                    );
                    tracing::warn!("{text}");
                    scaler.event(text);
                    return Ok(());
                }
            }
        }
        SplitReason::Size { bytes } => {
            let at = size_median(host, &map, table_id, partition, &info.replicas).await;
            let why = format!(
                "size: {bytes} bytes, over the limit of {} bytes",
                scaler.config.split_bytes
            );
            match at.filter(|t| range.splits_at(*t)) {
                Some(at) => (at, why),
                None => {
                    scaler.hot_key_reported(group);
                    return Ok(());
                }
            }
        }
    };
    let child = entry.partitions.len() as u32;
    let replicas = info.replicas.len().max(1);
    let place = least_loaded(&scaler.node_loads(&map, group), replicas, Weigh::Load);
    let split = Split {
        table: &table,
        table_id,
        partition,
        at,
        child,
        place: &place,
    };
    split.propose(host, scaler, reason.label(), &why).await?;
    Ok(())
}

/// A split to propose: partition `partition` of a table cut at `at`, its new half
/// `child` placed on `place`.
struct Split<'a> {
    table: &'a str,
    table_id: u32,
    partition: u32,
    at: u64,
    child: u32,
    place: &'a [NodeId],
}

impl Split<'_> {
    /// Proposes it to the metadata group; true when the map took it (then the parent
    /// is measured afresh, and the split is counted and reported with `why`).
    async fn propose(
        &self,
        host: &Arc<Host>,
        scaler: &Autoscaler,
        label: &'static str,
        why: &str,
    ) -> anyhow::Result<bool> {
        let Split {
            table,
            table_id,
            partition,
            at,
            child,
            place,
        } = *self;
        let outcome = host
            .propose(MetaCommand::SplitPartition {
                table_id,
                partition,
                at,
                child,
                place: Some(place.to_vec()),
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if outcome.reply != MetaReply::Done {
            tracing::info!(table, partition, "split not made: {:?}", outcome.reply);
            return Ok(false);
        }
        scaler.restart(partition_group(table_id, partition));
        metrics::counter!("rotor_autoscaler_splits_total", "reason" => label).increment(1);
        let text = format!(
            "table {table} partition {partition} split at token {at:#018x} into partition {child} ({why}); partition {child} moves to nodes {place:?}"
        );
        tracing::info!("{text}");
        scaler.event(text);
        Ok(true)
    }
}

/// Target tracking of provisioned capacity: raises or lowers the capacities whose
/// consumption has stayed off their target (see `capacity_scaling`).
async fn scale_capacities(
    host: &Arc<Host>,
    scaler: &Autoscaler,
    map: &ClusterMap,
    now: Instant,
) -> anyhow::Result<()> {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64 / 1000.0);
    for entry in map.tables.values() {
        let def = &entry.def;
        let (read, write) = scaler.table_rates(def.id);
        for (dimension, consumed) in [
            (CapacityDimension::Read, read),
            (CapacityDimension::Write, write),
        ] {
            let Some(change) = scaler.capacity.decide(def, dimension, consumed, now) else {
                continue;
            };
            let from = def.provisioned(dimension);
            let outcome = host
                .propose(MetaCommand::ScaleCapacity {
                    table_id: def.id,
                    dimension,
                    from,
                    to: change.to,
                    at: wall,
                    cause: change.cause.clone(),
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if outcome.reply != MetaReply::Done {
                tracing::info!(table = %def.name, "capacity not scaled: {:?}", outcome.reply);
                continue;
            }
            let raised = change.to > from;
            scaler.capacity.applied(def.id, dimension, raised, now);
            let what = match dimension {
                CapacityDimension::Read => "read",
                CapacityDimension::Write => "write",
            };
            metrics::counter!("rotor_capacity_scaling_total", "dimension" => what, "direction" => if raised { "out" } else { "in" }).increment(1);
            let text = format!(
                "table {} {what} capacity {from} -> {} ({})",
                def.name, change.to, change.cause
            );
            tracing::info!("{text}");
            scaler.event(text);
        }
    }
    Ok(())
}

/// Splits tables that serve less at once than their requested `WarmThroughput`: the
/// widest of their ready partitions, each at its middle token, as many as are missing.
async fn warm_splits(
    host: &Arc<Host>,
    scaler: &Autoscaler,
    map: &ClusterMap,
) -> anyhow::Result<()> {
    for entry in map.tables.values() {
        let missing = entry.def.warm_partitions_missing();
        let Some(requested) = entry.def.warm_requested.filter(|_| missing > 0) else {
            continue;
        };
        let table_id = entry.def.id;
        let spans = entry.def.spans();
        let mut ready: Vec<(u32, TokenRange)> = spans
            .iter()
            .filter(|s| scaler.ready(partition_group(table_id, s.partition)))
            .filter_map(|s| Some((s.partition, entry.def.partition_tokens(s.partition)?)))
            .filter(|(_, range)| range.splits_at(middle(*range)))
            .collect();
        let width = |r: &TokenRange| r.end.map_or(1u128 << 64, u128::from) - u128::from(r.start);
        ready.sort_by_key(|(p, r)| (std::cmp::Reverse(width(r)), *p));
        let warm = entry.def.warm_throughput();
        let why = format!(
            "warm throughput: {} RCU/s and {} WCU/s requested, {} partitions serve {} and {}",
            requested.read,
            requested.write,
            spans.len(),
            warm.read,
            warm.write
        );
        let mut loads = scaler.node_loads(map, u64::MAX);
        let children = entry.partitions.len() as u32..;
        for (child, (partition, range)) in children.zip(ready.into_iter().take(missing as usize)) {
            let replicas = entry
                .partitions
                .get(partition as usize)
                .map_or(1, |p| p.replicas.len().max(1));
            let place = least_loaded(&loads, replicas, Weigh::Replicas);
            let split = Split {
                table: &entry.def.name,
                table_id,
                partition,
                at: middle(range),
                child,
                place: &place,
            };
            if !split.propose(host, scaler, "warm_throughput", &why).await? {
                break;
            }
            for n in &place {
                if let Some(l) = loads.get_mut(n) {
                    l.replicas += 1;
                }
            }
        }
    }
    Ok(())
}

/// The size median of a partition, asked of its replicas in turn.
async fn size_median(
    host: &Arc<Host>,
    map: &ClusterMap,
    table_id: u32,
    partition: u32,
    replicas: &[NodeId],
) -> Option<u64> {
    for node in replicas {
        let Some(addr) = map.node_addr(*node) else {
            continue;
        };
        let Ok(channel) = host.peers.channel(addr) else {
            continue;
        };
        let mut request = tonic::Request::new(SplitPointRequest {
            table_id,
            partition,
        });
        request.set_timeout(Duration::from_secs(60));
        if let Ok(reply) = ClusterClient::new(channel).split_point(request).await {
            let reply = reply.into_inner();
            return reply.found.then_some(reply.token);
        }
    }
    None
}

fn publish_metrics(scaler: &Autoscaler) {
    let (loads, _) = scaler.view();
    let hot = loads
        .iter()
        .filter(|l| l.utilisation > scaler.config.target)
        .count();
    metrics::gauge!("rotor_autoscaler_partitions_above_target").set(hot as f64);
    metrics::gauge!("rotor_autoscaler_partitions").set(loads.len() as f64);
}

#[cfg(test)]
#[path = "autoscaler_tests.rs"]
mod tests;
