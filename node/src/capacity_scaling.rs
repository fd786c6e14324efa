//! Target-tracking auto scaling of provisioned tables' read and write capacity, as
//! DynamoDB auto scaling does it, decided on the metadata leader.
//!
//! A capacity registered for auto scaling (UpdateTableReplicaAutoScaling, or
//! Application Auto Scaling's RegisterScalableTarget and PutScalingPolicy) is kept
//! within its minimum and maximum. With a target-tracking policy, a capacity whose
//! consumption stays above the target utilisation for `scale_out_after` (two minutes)
//! is raised so that the consumption would be at the target; one whose consumption
//! stays more than `SCALE_IN_MARGIN` points below the target for `scale_in_after`
//! (fifteen minutes) is lowered the same way, unless the policy disables scale-in.
//! Each direction then waits out its policy's cooldown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rotor_model::table::{BillingMode, CapacityDimension, TableDef};

/// How far below the target (in percentage points) consumption must stay for a
/// scale-in (DynamoDB: 20).
pub const SCALE_IN_MARGIN: f64 = 20.0;

/// When the scaler acts (`rotor node` / `rotor dev` flags).
#[derive(Debug, Clone)]
pub struct ScalingConfig {
    /// How long consumption must stay above the target before a scale-out.
    pub scale_out_after: Duration,
    /// How long consumption must stay well below the target before a scale-in.
    pub scale_in_after: Duration,
}

impl Default for ScalingConfig {
    fn default() -> Self {
        ScalingConfig {
            scale_out_after: Duration::from_secs(120),
            scale_in_after: Duration::from_secs(900),
        }
    }
}

/// What the scaler remembers of one capacity.
#[derive(Debug, Default, Clone)]
struct Watch {
    above_since: Option<Instant>,
    low_since: Option<Instant>,
    last_out: Option<Instant>,
    last_in: Option<Instant>,
}

/// A change to make: the capacity's new units and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub to: u64,
    pub cause: String,
}

pub struct CapacityScaler {
    config: ScalingConfig,
    watches: Mutex<HashMap<(u32, CapacityDimension), Watch>>,
}

fn dimension_name(dim: CapacityDimension) -> &'static str {
    match dim {
        CapacityDimension::Read => "read",
        CapacityDimension::Write => "write",
    }
}

impl CapacityScaler {
    pub fn new(config: ScalingConfig) -> CapacityScaler {
        CapacityScaler {
            config,
            watches: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets everything (another node decided meanwhile).
    pub fn reset(&self) {
        self.watches.lock().clear();
    }

    /// Folds in one reading of a capacity's consumption (units per second) and says
    /// whether to change it now.
    pub fn decide(
        &self,
        def: &TableDef,
        dim: CapacityDimension,
        consumed: f64,
        now: Instant,
    ) -> Option<Change> {
        let key = (def.id, dim);
        let mut watches = self.watches.lock();
        let scaling = match def.scaling(dim) {
            Some(s) if def.billing_mode == BillingMode::Provisioned && !s.disabled => s,
            _ => {
                watches.remove(&key);
                return None;
            }
        };
        let provisioned = def.provisioned(dim);
        let what = dimension_name(dim);
        if provisioned < scaling.min_units {
            return Some(Change {
                to: scaling.min_units,
                cause: format!(
                    "{what} capacity {provisioned} is below the minimum of {}",
                    scaling.min_units
                ),
            });
        }
        if provisioned > scaling.max_units {
            return Some(Change {
                to: scaling.max_units,
                cause: format!(
                    "{what} capacity {provisioned} is above the maximum of {}",
                    scaling.max_units
                ),
            });
        }
        let policy = scaling.policy.as_ref()?;
        let watch = watches.entry(key).or_default();
        let utilisation = 100.0 * consumed / provisioned.max(1) as f64;
        let target = policy.target_percent;
        if utilisation > target {
            watch.above_since.get_or_insert(now);
        } else {
            watch.above_since = None;
        }
        if utilisation < target - SCALE_IN_MARGIN {
            watch.low_since.get_or_insert(now);
        } else {
            watch.low_since = None;
        }
        // (Not `clamp`, which panics on crossed bounds: the map's are not re-checked here.)
        let at_target = ((consumed * 100.0 / target).ceil() as u64)
            .max(scaling.min_units)
            .min(scaling.max_units);
        let since = |t: Option<Instant>| t.map(|t| now.duration_since(t));
        let cooled = |last: Option<Instant>, secs: u64| {
            since(last).is_none_or(|d| d >= Duration::from_secs(secs))
        };
        if let Some(above) = since(watch.above_since) {
            if above >= self.config.scale_out_after
                && cooled(watch.last_out, policy.scale_out_cooldown_secs)
                && at_target > provisioned
            {
                return Some(Change {
                    to: at_target,
                    cause: format!(
                        "consumed {consumed:.1} {what} units/s, {utilisation:.0}% of {provisioned} provisioned, above the target of {target:.0}% for {:.0} s (policy {})",
                        above.as_secs_f64(),
                        policy.name
                    ),
                });
            }
        }
        if let Some(low) = since(watch.low_since) {
            if !policy.disable_scale_in
                && low >= self.config.scale_in_after
                && cooled(watch.last_in, policy.scale_in_cooldown_secs)
                && at_target < provisioned
            {
                return Some(Change {
                    to: at_target,
                    cause: format!(
                        "consumed {consumed:.1} {what} units/s, {utilisation:.0}% of {provisioned} provisioned, more than {SCALE_IN_MARGIN:.0} points below the target of {target:.0}% for {:.0} s (policy {})",
                        low.as_secs_f64(),
                        policy.name
                    ),
                });
            }
        }
        None
    }

    /// Notes that a change was made: its direction's cooldown starts, and the new
    /// capacity is watched afresh.
    pub fn applied(&self, table_id: u32, dim: CapacityDimension, raised: bool, now: Instant) {
        let mut watches = self.watches.lock();
        let watch = watches.entry((table_id, dim)).or_default();
        watch.above_since = None;
        watch.low_since = None;
        if raised {
            watch.last_out = Some(now);
        } else {
            watch.last_in = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::table::{CapacityScaling, TargetTracking};

    fn table(write_units: u64, disable_scale_in: bool) -> TableDef {
        TableDef {
            id: 1,
            billing_mode: BillingMode::Provisioned,
            read_capacity_units: 5,
            write_capacity_units: write_units,
            partition_count: 1,
            write_scaling: Some(CapacityScaling {
                min_units: 10,
                max_units: 100,
                policy: Some(TargetTracking {
                    name: "p".into(),
                    target_percent: 50.0,
                    scale_in_cooldown_secs: 0,
                    scale_out_cooldown_secs: 60,
                    disable_scale_in,
                    created_at: 0.0,
                }),
                disabled: false,
                created_at: 0.0,
            }),
            ..TableDef::keyed_by_pk("t")
        }
    }

    fn scaler() -> CapacityScaler {
        CapacityScaler::new(ScalingConfig {
            scale_out_after: Duration::from_secs(120),
            scale_in_after: Duration::from_secs(900),
        })
    }

    const W: CapacityDimension = CapacityDimension::Write;

    #[test]
    fn a_capacity_above_target_for_two_minutes_is_raised_to_the_target() {
        let s = scaler();
        let def = table(20, false);
        let t0 = Instant::now();
        // 15 of 20 units: 75%, above 50%.
        for secs in [0, 60, 119] {
            assert_eq!(
                s.decide(&def, W, 15.0, t0 + Duration::from_secs(secs)),
                None
            );
        }
        let change = s
            .decide(&def, W, 15.0, t0 + Duration::from_secs(120))
            .expect("scale out");
        // 15 units at 50%: 30.
        assert_eq!(change.to, 30);
        assert!(
            change.cause.contains("above the target of 50%"),
            "{}",
            change.cause
        );
        s.applied(1, W, true, t0 + Duration::from_secs(120));
        // Raised but still hot: the cooldown (60 s) and a new window both wait.
        let def = table(30, false);
        for secs in [121, 200, 239] {
            assert_eq!(
                s.decide(&def, W, 40.0, t0 + Duration::from_secs(secs)),
                None
            );
        }
        // Never above the maximum.
        let change = s
            .decide(&def, W, 400.0, t0 + Duration::from_secs(241))
            .expect("scale out again");
        assert_eq!(change.to, 100);
    }

    #[test]
    fn a_dip_below_target_restarts_the_two_minutes() {
        let s = scaler();
        let def = table(20, false);
        let t0 = Instant::now();
        assert_eq!(s.decide(&def, W, 15.0, t0), None);
        assert_eq!(s.decide(&def, W, 5.0, t0 + Duration::from_secs(100)), None);
        assert_eq!(s.decide(&def, W, 15.0, t0 + Duration::from_secs(130)), None);
        assert_eq!(s.decide(&def, W, 15.0, t0 + Duration::from_secs(249)), None);
        assert!(s
            .decide(&def, W, 15.0, t0 + Duration::from_secs(250))
            .is_some());
    }

    #[test]
    fn sustained_low_use_lowers_it_unless_scale_in_is_disabled() {
        let t0 = Instant::now();
        // 2 of 80 units: 2.5%, more than 20 points under 50%.
        let s = scaler();
        let def = table(80, false);
        assert_eq!(s.decide(&def, W, 2.0, t0), None);
        assert_eq!(s.decide(&def, W, 2.0, t0 + Duration::from_secs(899)), None);
        let change = s
            .decide(&def, W, 2.0, t0 + Duration::from_secs(900))
            .expect("scale in");
        // 2 units at 50% is 4, but never below the minimum of 10.
        assert_eq!(change.to, 10);
        // 35% (only 15 points under): not low enough.
        let s = scaler();
        assert_eq!(s.decide(&def, W, 28.0, t0), None);
        assert_eq!(
            s.decide(&def, W, 28.0, t0 + Duration::from_secs(1000)),
            None
        );
        let s = scaler();
        let keep = table(80, true);
        assert_eq!(s.decide(&keep, W, 2.0, t0), None);
        assert_eq!(
            s.decide(&keep, W, 2.0, t0 + Duration::from_secs(1000)),
            None
        );
    }

    #[test]
    fn a_capacity_outside_its_bounds_is_brought_inside_at_once() {
        let s = scaler();
        let t0 = Instant::now();
        assert_eq!(
            s.decide(&table(5, false), W, 0.0, t0).map(|c| c.to),
            Some(10)
        );
        assert_eq!(
            s.decide(&table(500, false), W, 0.0, t0).map(|c| c.to),
            Some(100)
        );
        // Suspended, or an on-demand table: left alone.
        let mut off = table(5, false);
        if let Some(w) = off.write_scaling.as_mut() {
            w.disabled = true;
        }
        assert_eq!(s.decide(&off, W, 0.0, t0), None);
        let mut on_demand = table(5, false);
        on_demand.billing_mode = BillingMode::PayPerRequest;
        assert_eq!(s.decide(&on_demand, W, 0.0, t0), None);
    }
}
