//! Capacity limits on a partition replica, as DynamoDB applies them: a token bucket of
//! read units and one of write units, refilled at the partition's share of the table's
//! limit (provisioned capacity, or an on-demand table's maximum) and holding up to five
//! minutes of unused capacity for bursts (DynamoDB's burst capacity); and, in either
//! mode, the partition's own limit (what one partition serves: DynamoDB's 3,000 read and
//! 1,000 write units), with five seconds of burst (DynamoDB documents none; five
//! seconds let a few megabytes be loaded into one key at once, as DynamoDB Local
//! users do). A key range that stays hot is throttled at that limit until the
//! autoscaler splits it.
//!
//! A request is admitted while its bucket is not empty and charged its actual units
//! after it ran (a bucket may go below zero, and then refuses until refilled). Writes
//! are checked on the leader; reads on the replica that serves them.

use std::time::Instant;

use parking_lot::Mutex;
use rotor_model::table::{TableDef, ThroughputLimit};

/// Seconds of unused table capacity a partition keeps for bursts.
pub const BURST_SECS: f64 = 300.0;

/// Seconds of its own limit a partition may serve at once.
pub const KEY_RANGE_BURST_SECS: f64 = 5.0;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// Units per second the bucket was last refilled at (a change of the table's
    /// capacity keeps the tokens, bounded by the new burst size).
    rate: f64,
    refilled: Instant,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            tokens: 0.0,
            rate: 0.0,
            refilled: Instant::now(),
        }
    }

    fn refill(&mut self, rate: f64, burst_secs: f64, now: Instant) {
        if self.rate != rate {
            // New capacity: start with a full burst at the new rate, as a new table does.
            self.tokens = if self.rate == 0.0 {
                rate * burst_secs
            } else {
                self.tokens.min(rate * burst_secs)
            };
            self.rate = rate;
        }
        let secs = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + rate * secs).min(rate * burst_secs);
        self.refilled = now;
    }
}

/// The two buckets of one direction (read or write), behind one lock: the partition's
/// share of the table's limit, and the partition's own limit.
struct Buckets {
    share: Bucket,
    own: Bucket,
}

/// The buckets of one partition replica.
pub struct Throttle {
    read: Mutex<Buckets>,
    write: Mutex<Buckets>,
}

impl Default for Throttle {
    fn default() -> Self {
        let buckets = || {
            Mutex::new(Buckets {
                share: Bucket::new(),
                own: Bucket::new(),
            })
        };
        Throttle {
            read: buckets(),
            write: buckets(),
        }
    }
}

/// This partition's share of a table's limit: the table's units per second divided
/// evenly over its partitions (as DynamoDB divides provisioned capacity).
fn share(def: &TableDef, write: bool) -> Option<(f64, ThroughputLimit)> {
    let (units, limit) = def.throughput_limit(write)?;
    Some((units / def.partition_total() as f64, limit))
}

impl Throttle {
    /// Whether a read (`write: false`) or write may run now; the limit it would exceed
    /// when not. `def: None` (the table is not in this node's map yet): admitted.
    pub fn admit(&self, def: Option<&TableDef>, write: bool) -> Result<(), ThroughputLimit> {
        self.admit_at(def, write, Instant::now())
    }

    fn admit_at(
        &self,
        def: Option<&TableDef>,
        write: bool,
        now: Instant,
    ) -> Result<(), ThroughputLimit> {
        let Some(def) = def else {
            return Ok(());
        };
        let mut buckets = self.buckets(write).lock();
        if let Some((rate, limit)) = share(def, write) {
            buckets.share.refill(rate, BURST_SECS, now);
            if buckets.share.tokens <= 0.0 {
                return Err(limit);
            }
        }
        if let Some(rate) = own_limit(def, write) {
            buckets.own.refill(rate, KEY_RANGE_BURST_SECS, now);
            if buckets.own.tokens <= 0.0 {
                return Err(ThroughputLimit::KeyRange);
            }
        }
        Ok(())
    }

    fn buckets(&self, write: bool) -> &Mutex<Buckets> {
        if write {
            &self.write
        } else {
            &self.read
        }
    }

    /// Charges the units a request cost (after it ran).
    pub fn charge(&self, def: Option<&TableDef>, write: bool, units: f64) {
        let Some(def) = def else {
            return;
        };
        let mut buckets = self.buckets(write).lock();
        if share(def, write).is_some() {
            buckets.share.tokens -= units;
        }
        if own_limit(def, write).is_some() {
            buckets.own.tokens -= units;
        }
    }
}

/// What one partition of the table serves per second, read or write.
fn own_limit(def: &TableDef, write: bool) -> Option<f64> {
    let capacity = def.partition_capacity;
    let units = if write { capacity.write } else { capacity.read };
    (units > 0).then_some(units as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::table::BillingMode;
    use std::time::Duration;

    fn def(mode: BillingMode, rcu: u64, wcu: u64, partitions: u32) -> TableDef {
        TableDef {
            id: 1,
            billing_mode: mode,
            read_capacity_units: rcu,
            write_capacity_units: wcu,
            partition_count: partitions,
            ..TableDef::keyed_by_pk("t")
        }
    }

    #[test]
    fn a_provisioned_partition_bursts_five_minutes_then_refills_at_its_share() {
        // 8 WCU over 4 partitions: 2 per second each, 600 of burst.
        let t = Throttle::default();
        let d = def(BillingMode::Provisioned, 100, 8, 4);
        let t0 = Instant::now();
        let mut admitted = 0;
        while t.admit_at(Some(&d), true, t0).is_ok() {
            t.charge(Some(&d), true, 1.0);
            admitted += 1;
            assert!(
                admitted <= 600,
                "burst larger than five minutes of capacity"
            );
        }
        assert_eq!(admitted, 600);
        assert_eq!(
            t.admit_at(Some(&d), true, t0),
            Err(ThroughputLimit::Provisioned)
        );
        // Reads have their own bucket.
        assert!(t.admit_at(Some(&d), false, t0).is_ok());
        // One second later, two more units.
        let t1 = t0 + Duration::from_secs(1);
        assert!(t.admit_at(Some(&d), true, t1).is_ok());
        t.charge(Some(&d), true, 2.0);
        assert!(t.admit_at(Some(&d), true, t1).is_err());
        // A large item costs what it costs: the bucket goes below zero and waits.
        let t2 = t1 + Duration::from_secs(1);
        assert!(t.admit_at(Some(&d), true, t2).is_ok());
        t.charge(Some(&d), true, 10.0);
        assert!(t
            .admit_at(Some(&d), true, t2 + Duration::from_secs(4))
            .is_err());
        assert!(t
            .admit_at(Some(&d), true, t2 + Duration::from_secs(5))
            .is_ok());
    }

    #[test]
    fn a_hot_partition_is_held_to_its_own_limit_in_either_mode() {
        for mode in [BillingMode::PayPerRequest, BillingMode::Provisioned] {
            let t = Throttle::default();
            let mut d = def(mode, 100_000, 100_000, 1);
            d.partition_capacity = rotor_model::table::UnitsPerSecond {
                read: 30,
                write: 10,
            };
            let t0 = Instant::now();
            // Five seconds of burst: fifty writes, then the key range is throttled.
            for _ in 0..50 {
                assert!(t.admit_at(Some(&d), true, t0).is_ok());
                t.charge(Some(&d), true, 1.0);
            }
            assert_eq!(
                t.admit_at(Some(&d), true, t0),
                Err(ThroughputLimit::KeyRange)
            );
            assert_eq!(
                ThroughputLimit::KeyRange.reason(true),
                "TableWriteKeyRangeThroughputExceeded"
            );
            // Reads have their own limit.
            assert!(t.admit_at(Some(&d), false, t0).is_ok());
            // A tenth of a second later, one more write.
            let later = t0 + Duration::from_millis(100);
            assert!(t.admit_at(Some(&d), true, later).is_ok());
            t.charge(Some(&d), true, 1.0);
            assert!(t.admit_at(Some(&d), true, later).is_err());
        }
    }

    #[test]
    fn on_demand_tables_are_limited_only_by_their_maximum() {
        let t = Throttle::default();
        let mut d = def(BillingMode::PayPerRequest, 0, 0, 1);
        // (The partition's own limit is far above what this test spends.)
        d.partition_capacity = rotor_model::table::UnitsPerSecond {
            read: 1_000_000,
            write: 1_000_000,
        };
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert!(t.admit_at(Some(&d), true, t0).is_ok());
            t.charge(Some(&d), true, 1.0);
        }
        d.max_write_request_units = Some(1);
        let t = Throttle::default();
        for _ in 0..300 {
            assert!(t.admit_at(Some(&d), true, t0).is_ok());
            t.charge(Some(&d), true, 1.0);
        }
        assert_eq!(
            t.admit_at(Some(&d), true, t0),
            Err(ThroughputLimit::MaxOnDemand)
        );
        assert!(t.admit(None, true).is_ok(), "unknown table: not throttled");
    }
}
