//! Capacity settings of a table: auto scaling, the history of capacity changes, units
//! per second, and which limit a throttled request exceeded.

use serde::{Deserialize, Serialize};

/// When a provisioned table's capacity last went up or down (seconds since the epoch),
/// and how many times it went down on the latest day it did (DynamoDB's
/// `NumberOfDecreasesToday`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityChanges {
    pub last_increase: Option<f64>,
    pub last_decrease: Option<f64>,
    pub decreases_that_day: u32,
}

impl CapacityChanges {
    /// Decreases on the UTC day of `now`.
    pub fn decreases_on_day_of(&self, now: f64) -> u32 {
        match self.last_decrease {
            Some(t) if (t / 86_400.0).floor() == (now / 86_400.0).floor() => {
                self.decreases_that_day
            }
            _ => 0,
        }
    }
}

/// Which provisioned capacity a scaling setting is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CapacityDimension {
    Read,
    Write,
}

impl CapacityDimension {
    /// Application Auto Scaling's name for it (`ScalableDimension`).
    pub fn scalable_dimension(self) -> &'static str {
        match self {
            CapacityDimension::Read => "dynamodb:table:ReadCapacityUnits",
            CapacityDimension::Write => "dynamodb:table:WriteCapacityUnits",
        }
    }

    /// The target-tracking metric that goes with it (`PredefinedMetricType`).
    pub fn utilization_metric(self) -> &'static str {
        match self {
            CapacityDimension::Read => "DynamoDBReadCapacityUtilization",
            CapacityDimension::Write => "DynamoDBWriteCapacityUtilization",
        }
    }
}

/// Target-tracking auto scaling of one provisioned capacity, as DynamoDB does it: the
/// capacity is kept between `min_units` and `max_units` so that consumption stays
/// near `policy.target_percent` of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityScaling {
    pub min_units: u64,
    pub max_units: u64,
    /// Registered with no policy yet: kept within bounds, never moved for use.
    pub policy: Option<TargetTracking>,
    /// Suspended (`AutoScalingDisabled`): nothing changes the capacity.
    pub disabled: bool,
    /// When it was registered (seconds since the epoch).
    pub created_at: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetTracking {
    pub name: String,
    /// Consumed capacity as a percentage of provisioned to aim for (20 to 90).
    pub target_percent: f64,
    /// Seconds after a scale-in before another one.
    pub scale_in_cooldown_secs: u64,
    /// Seconds after a scale-out before another one.
    pub scale_out_cooldown_secs: u64,
    /// Only ever scale out.
    pub disable_scale_in: bool,
    pub created_at: f64,
}

/// One change auto scaling made to a table's provisioned capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingActivity {
    pub dimension: CapacityDimension,
    pub from: u64,
    pub to: u64,
    /// Seconds since the epoch.
    pub at: f64,
    /// Why, in words (`Cause` in DescribeScalingActivities).
    pub cause: String,
}

/// Read and write units per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitsPerSecond {
    pub read: u64,
    pub write: u64,
}

/// What one partition serves at once unless the cluster says otherwise (DynamoDB's
/// 3,000 read and 1,000 write units per partition).
pub const DEFAULT_PARTITION_CAPACITY: UnitsPerSecond = UnitsPerSecond {
    read: 3000,
    write: 1000,
};

/// The most partitions a `WarmThroughput` request may make a table have.
pub const MAX_WARM_PARTITIONS: u32 = 256;

/// Which of a table's limits a request would exceed (DynamoDB's ThrottlingReason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThroughputLimit {
    /// A provisioned table's ReadCapacityUnits / WriteCapacityUnits.
    Provisioned,
    /// An on-demand table's OnDemandThroughput maximum.
    MaxOnDemand,
    /// What one partition serves, in either mode (a hot key range).
    KeyRange,
}

impl ThroughputLimit {
    /// DynamoDB's ThrottlingReason for a read or a write over this limit.
    pub fn reason(self, write: bool) -> &'static str {
        match (self, write) {
            (ThroughputLimit::Provisioned, false) => "TableReadProvisionedThroughputExceeded",
            (ThroughputLimit::Provisioned, true) => "TableWriteProvisionedThroughputExceeded",
            (ThroughputLimit::MaxOnDemand, false) => "TableReadMaxOnDemandThroughputExceeded",
            (ThroughputLimit::MaxOnDemand, true) => "TableWriteMaxOnDemandThroughputExceeded",
            (ThroughputLimit::KeyRange, false) => "TableReadKeyRangeThroughputExceeded",
            (ThroughputLimit::KeyRange, true) => "TableWriteKeyRangeThroughputExceeded",
        }
    }
}
