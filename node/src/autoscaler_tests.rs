//! Tests of the autoscaler: when partitions split, where halves go, and what it
//! leaves alone.

use super::*;
use rotor_model::cluster::{NodeInfo, NodeState};

fn config() -> AutoscaleConfig {
    AutoscaleConfig {
        window: Duration::from_secs(10),
        interval: Duration::from_secs(1),
        partition_wcu: 100.0,
        partition_rcu: 300.0,
        ..AutoscaleConfig::default()
    }
}

fn map() -> ClusterMap {
    let mut map = ClusterMap::default();
    for id in 1..=4 {
        map.nodes.insert(
            id,
            NodeInfo {
                addr: format!("127.0.0.1:{}", 7100 + id),
                state: NodeState::Active,
            },
        );
    }
    let def = rotor_model::table::TableDef {
        id: 1,
        ..rotor_model::table::TableDef::keyed_by_pk("t")
    };
    crate::meta::apply(
        &mut map,
        MetaCommand::CreateTable {
            def: def.clone(),
            global_indexes: Vec::new(),
        },
    );
    map
}

fn load(partition: u32, writes: f64, opened: u64) -> GroupLoad {
    GroupLoad {
        table_id: 1,
        partition,
        read_units: 0.0,
        write_units: writes,
        size_bytes: 10,
        item_count: 1,
        leader: true,
        samples: vec![],
        opened_at_ms: opened,
        seeded: true,
        range_start: 0,
        range_end: 0,
        range_open_end: true,
    }
}

#[test]
fn a_partition_is_split_only_after_a_whole_window_above_target() {
    let scaler = Autoscaler::new(config());
    let map = map();
    let t0 = Instant::now();
    let group = partition_group(1, 0);
    // 90 WCU/s against 100 per partition: 90%, above the 70% target from the
    // second reading (the first has no rate yet) at s = 1.
    for s in 0..=11u64 {
        let now = t0 + Duration::from_secs(s);
        scaler.absorb(&map, &[(1, vec![load(0, 90.0 * s as f64, 7)])], now);
        let candidate = scaler.candidate(now);
        if s < 11 {
            assert!(candidate.is_none(), "split after only {s} s");
        } else {
            assert!(matches!(candidate, Some((g, SplitReason::Load { .. })) if g == group));
        }
    }
    let (views, _) = scaler.view();
    assert!((views[0].write_units_per_sec - 90.0).abs() < 1e-6);
    assert!((views[0].utilisation - 0.9).abs() < 1e-6);
}

#[test]
fn a_dip_below_target_restarts_the_window() {
    let scaler = Autoscaler::new(config());
    let map = map();
    let t0 = Instant::now();
    let mut total = 0.0;
    for s in 0..=19u64 {
        // One quiet second at s = 8: the window starts again at s = 9.
        total += if s == 8 { 10.0 } else { 90.0 };
        let now = t0 + Duration::from_secs(s);
        scaler.absorb(&map, &[(1, vec![load(0, total, 7)])], now);
        let candidate = scaler.candidate(now);
        assert_eq!(candidate.is_some(), s == 19, "at {s} s");
    }
}

#[test]
fn a_reopened_replica_does_not_count_as_a_burst() {
    let scaler = Autoscaler::new(config());
    let map = map();
    let t0 = Instant::now();
    scaler.absorb(&map, &[(1, vec![load(0, 1_000_000.0, 7)])], t0);
    // Counters restarted (a new opened_at): no rate from the difference.
    scaler.absorb(
        &map,
        &[(1, vec![load(0, 5.0, 8)])],
        t0 + Duration::from_secs(1),
    );
    let (views, _) = scaler.view();
    assert_eq!(views[0].write_units_per_sec, 0.0);
}

#[test]
fn the_new_half_goes_to_the_least_loaded_nodes() {
    let load = |utilisation, replicas| NodeLoad {
        utilisation,
        replicas,
    };
    let loads = BTreeMap::from([
        (1, load(0.9, 1)),
        (2, load(0.5, 1)),
        (3, load(0.45, 9)),
        (4, load(0.0, 9)),
    ]);
    assert_eq!(least_loaded(&loads, 3, Weigh::Load), vec![4, 3, 2]);
    assert_eq!(least_loaded(&loads, 9, Weigh::Load).len(), 4);
    assert_eq!(least_loaded(&loads, 2, Weigh::Replicas), vec![2, 1]);
    // With no load anywhere, the nodes with fewest replicas.
    let idle = BTreeMap::from([
        (1, load(0.0, 5)),
        (2, load(0.0, 2)),
        (3, load(0.0, 5)),
        (4, load(0.0, 1)),
    ]);
    assert_eq!(least_loaded(&idle, 2, Weigh::Load), vec![4, 2]);
}

#[test]
fn the_middle_of_a_range_cuts_it_in_two() {
    assert_eq!(middle(TokenRange::ALL), 1 << 63);
    let r = TokenRange {
        start: 10,
        end: Some(20),
    };
    assert_eq!(middle(r), 15);
    let tail = TokenRange {
        start: u64::MAX - 1,
        end: None,
    };
    assert!(tail.splits_at(middle(tail)));
}

#[test]
fn a_partition_is_ready_once_its_leader_owns_what_the_map_gives_it() {
    let scaler = Autoscaler::new(config());
    let mut map = map();
    let t0 = Instant::now();
    // The map's partition 0 holds half the ring; a leader still owning all of it
    // (a split not applied yet) is not ready.
    let whole = load(0, 0.0, 1);
    crate::meta::apply(
        &mut map,
        MetaCommand::SplitPartition {
            table_id: 1,
            partition: 0,
            at: 1 << 63,
            child: 1,
            place: None,
        },
    );
    scaler.absorb(&map, &[(1, vec![whole.clone()])], t0);
    assert!(!scaler.ready(partition_group(1, 0)));
    let narrowed = GroupLoad {
        range_open_end: false,
        range_end: 1 << 63,
        ..whole
    };
    scaler.absorb(&map, &[(1, vec![narrowed.clone()])], t0);
    assert!(scaler.ready(partition_group(1, 0)));
    let unseeded = GroupLoad {
        seeded: false,
        ..narrowed
    };
    scaler.absorb(&map, &[(1, vec![unseeded])], t0);
    assert!(!scaler.ready(partition_group(1, 0)));
}
