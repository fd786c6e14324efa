//! Capacity limits on a partition replica, as DynamoDB applies them: a token bucket of
//! read units and one of write units, refilled at the partition's share of the table's
//! limit (provisioned capacity, or an on-demand table's maximum) and holding up to five
//! minutes of unused capacity for bursts (DynamoDB's burst capacity).
//!
//! A request is admitted while its bucket is not empty and charged its actual units
//! after it ran (a bucket may go below zero, and then refuses until refilled). Writes
//! are checked on the leader; reads on the replica that serves them.

use std::time::Instant;

use parking_lot::Mutex;
use rotor_model::table::{TableDef, ThroughputLimit};

/// Seconds of unused capacity a partition keeps for bursts.
pub const BURST_SECS: f64 = 300.0;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// Units per second the bucket was last refilled at (a change of the table's
    /// capacity keeps the tokens, bounded by the new burst size).
    rate: f64,
    refilled: Instant,
}

impl Bucket {
    fn refill(&mut self, rate: f64, now: Instant) {
        if self.rate != rate {
            // New capacity: start with a full burst at the new rate, as a new table does.
            self.tokens = if self.rate == 0.0 {
                rate * BURST_SECS
            } else {
                self.tokens.min(rate * BURST_SECS)
            };
            self.rate = rate;
        }
        let secs = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + rate * secs).min(rate * BURST_SECS);
        self.refilled = now;
    }
}

/// The read and write buckets of one partition replica.
pub struct Throttle {
    read: Mutex<Bucket>,
    write: Mutex<Bucket>,
}

impl Default for Throttle {
    fn default() -> Self {
        let bucket = || {
            Mutex::new(Bucket {
                tokens: 0.0,
                rate: 0.0,
                refilled: Instant::now(),
            })
        };
        Throttle {
            read: bucket(),
            write: bucket(),
        }
    }
}

/// This partition's share of a table's limit: the table's units per second divided
/// evenly over its partitions (as DynamoDB divides provisioned capacity).
fn share(def: &TableDef, write: bool) -> Option<(f64, ThroughputLimit)> {
    let (units, limit) = def.throughput_limit(write)?;
    let partitions = def.spans().len().max(1) as f64;
    Some((units / partitions, limit))
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
        let Some((rate, limit)) = def.and_then(|d| share(d, write)) else {
            return Ok(());
        };
        let mut bucket = if write { &self.write } else { &self.read }.lock();
        bucket.refill(rate, now);
        if bucket.tokens > 0.0 {
            Ok(())
        } else {
            Err(limit)
        }
    }

    /// Charges the units a request cost (after it ran).
    pub fn charge(&self, def: Option<&TableDef>, write: bool, units: f64) {
        if def.and_then(|d| share(d, write)).is_none() {
            return;
        }
        let mut bucket = if write { &self.write } else { &self.read }.lock();
        bucket.tokens -= units;
    }
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
    fn on_demand_tables_are_limited_only_by_their_maximum() {
        let t = Throttle::default();
        let mut d = def(BillingMode::PayPerRequest, 0, 0, 1);
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
