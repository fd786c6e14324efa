//! Per-partition metering on a replica: the capacity units it served (DynamoDB's
//! arithmetic, `rotor_model::capacity`) and a sample of the tokens they went to.
//!
//! Counters only grow; the autoscaler on the metadata leader reads every replica's
//! counters (`Cluster.Load`) and turns their differences into rates. The sample keeps
//! the most recent requests (token, units), so a split point can follow the load.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// How many recent requests a replica remembers for the split point.
pub const SAMPLE_SIZE: usize = 512;

/// Units are counted in thousandths so that halves (eventually consistent reads) add up
/// exactly in an integer.
const MILLI: f64 = 1000.0;

#[derive(Default)]
pub struct Meter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    samples: Mutex<VecDeque<(u64, f64)>>,
}

impl Meter {
    /// Counts a read of `units` at `token`.
    pub fn read(&self, token: Option<u64>, units: f64) {
        self.read_milli
            .fetch_add((units * MILLI) as u64, Ordering::Relaxed);
        self.sample(token, units);
    }

    /// Counts a write of `units` at `token`.
    pub fn write(&self, token: Option<u64>, units: f64) {
        self.write_milli
            .fetch_add((units * MILLI) as u64, Ordering::Relaxed);
        self.sample(token, units);
    }

    fn sample(&self, token: Option<u64>, units: f64) {
        let Some(token) = token else { return };
        let mut samples = self.samples.lock();
        if samples.len() >= SAMPLE_SIZE {
            samples.pop_front();
        }
        samples.push_back((token, units));
    }

    /// Read and write units served so far.
    pub fn totals(&self) -> (f64, f64) {
        (
            self.read_milli.load(Ordering::Relaxed) as f64 / MILLI,
            self.write_milli.load(Ordering::Relaxed) as f64 / MILLI,
        )
    }

    /// The recent requests' tokens and units.
    pub fn samples(&self) -> Vec<(u64, f64)> {
        self.samples.lock().iter().copied().collect()
    }
}

/// Where to cut a partition so that the sampled load splits in half: the first token at
/// which the units below reach half of the total, never the partition's lowest sampled
/// token (the lower half would be empty). None when every sample went to one token: a
/// single hot partition key, which no split can divide.
pub fn load_median(samples: &[(u64, f64)]) -> Option<u64> {
    let mut sorted: Vec<(u64, f64)> = samples.iter().copied().filter(|s| s.1 > 0.0).collect();
    sorted.sort_by_key(|s| s.0);
    let lowest = sorted.first()?.0;
    let total: f64 = sorted.iter().map(|s| s.1).sum();
    let mut below = 0.0;
    for &(token, units) in &sorted {
        if token != lowest && below * 2.0 >= total {
            return Some(token);
        }
        below += units;
    }
    // The load sits mostly on the highest tokens: cut just below the highest one.
    sorted.iter().rev().map(|s| s.0).find(|t| *t != lowest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_median_halves_the_units() {
        let samples: Vec<(u64, f64)> = (0..100).map(|t| (t * 10, 1.0)).collect();
        assert_eq!(load_median(&samples), Some(500));
        // Weighted: the heavy low token pulls the cut down (51 units on each side).
        let mut skewed = vec![(10, 50.0), (20, 1.0), (30, 1.0)];
        skewed.extend((40..90).map(|t| (t, 1.0)));
        assert_eq!(load_median(&skewed), Some(30));
        // Load on the highest token only: cut just below it.
        assert_eq!(load_median(&[(1, 1.0), (2, 100.0)]), Some(2));
    }

    #[test]
    fn one_hot_key_cannot_be_split() {
        assert_eq!(load_median(&[(7, 1.0), (7, 3.0), (7, 0.5)]), None);
        assert_eq!(load_median(&[]), None);
    }

    #[test]
    fn the_meter_keeps_the_latest_samples() {
        let m = Meter::default();
        for i in 0..(SAMPLE_SIZE as u64 + 10) {
            m.write(Some(i), 1.0);
        }
        m.read(Some(1), 0.5);
        m.read(None, 0.5);
        assert_eq!(m.totals(), (1.0, (SAMPLE_SIZE + 10) as f64));
        let samples = m.samples();
        assert_eq!(samples.len(), SAMPLE_SIZE);
        assert_eq!(samples.last(), Some(&(1, 0.5)));
    }
}
