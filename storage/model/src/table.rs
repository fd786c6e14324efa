//! Table definitions: key schema, attribute definitions, capacity settings and the
//! partition layout. Key schemas (`schema`), statistics (`stats`) and capacity scaling
//! (`scaling`) have modules of their own; they are re-exported here.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use crate::scaling::*;
pub use crate::schema::*;
pub use crate::stats::*;

/// How a table is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// A table as the catalog records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    /// Storage prefix of the table's items; never reused.
    pub id: u32,
    pub key_schema: KeySchema,
    /// AttributeDefinitions as given (name, type).
    pub attribute_definitions: Vec<KeyAttribute>,
    pub billing_mode: BillingMode,
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
    /// Seconds since the Unix epoch, with fractions, as DynamoDB reports it.
    pub creation_time: f64,
    pub last_billing_mode_change: Option<f64>,
    /// Partition ids handed out so far (`0..partition_count`); a new table's token
    /// space is cut into this many equal ranges, and each split adds one.
    pub partition_count: u32,
    pub table_class: Option<String>,
    pub deletion_protection: bool,
    /// The partitions in token order, each up to where the next starts. Empty: the
    /// `partition_count` equal ranges of a table that was never split.
    pub layout: Vec<PartitionSpan>,
    /// On-demand tables' `OnDemandThroughput`: the most read and write request units
    /// per second the table may use (None: no limit).
    pub max_read_request_units: Option<u64>,
    pub max_write_request_units: Option<u64>,
    /// What one partition of this table serves at once (the cluster's setting when the
    /// table was made or the setting last changed): its warm throughput per partition.
    pub partition_capacity: UnitsPerSecond,
    /// The `WarmThroughput` the user asked for, if any: the table is split until its
    /// partitions serve this much at once.
    pub warm_requested: Option<UnitsPerSecond>,
    /// Auto scaling of a provisioned table's read and write capacity, if registered.
    pub read_scaling: Option<CapacityScaling>,
    pub write_scaling: Option<CapacityScaling>,
    /// When the provisioned capacity last went up or down.
    pub capacity_changes: CapacityChanges,
    /// The table's local secondary indexes, fixed at creation. (Not in the bincode maps
    /// of data formats 1 and 2, which serde reads only to upgrade: none had indexes.)
    #[serde(skip)]
    pub local_indexes: Vec<crate::index::LocalIndex>,
    /// Set on the hidden table that holds a global secondary index: which index of
    /// which table (see `global_index`). Not in the bincode maps of formats 1 and 2.
    #[serde(skip)]
    pub global_index_of: Option<crate::global_index::GlobalIndexOf>,
}

/// Where one partition starts on the token ring (it ends where the next one starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSpan {
    pub start: u64,
    pub partition: u32,
}

/// A range of tokens `[start, end)`; `end: None` runs to the end of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRange {
    pub start: u64,
    pub end: Option<u64>,
}

impl TokenRange {
    /// The whole ring.
    pub const ALL: TokenRange = TokenRange {
        start: 0,
        end: None,
    };

    pub fn contains(&self, token: u64) -> bool {
        token >= self.start && self.end.is_none_or(|e| token < e)
    }

    /// Whether `at` cuts this range into two non-empty halves.
    pub fn splits_at(&self, at: u64) -> bool {
        at > self.start && self.end.is_none_or(|e| at < e)
    }

    /// The storage-key range `[start, end)` of a table's items in these tokens.
    pub fn key_range(&self, table_id: u32) -> (Vec<u8>, Vec<u8>) {
        let start = crate::keys::token_prefix(table_id, self.start);
        let end = match self.end {
            Some(e) => crate::keys::token_prefix(table_id, e),
            None => match table_id.checked_add(1) {
                Some(next) => next.to_be_bytes().to_vec(),
                None => vec![0xff; 5],
            },
        };
        (start, end)
    }

    /// Whether the storage-key range `[start, end)` of table `table_id` lies inside.
    pub fn holds_keys(&self, table_id: u32, start: &[u8], end: &[u8]) -> bool {
        let (lo, hi) = self.key_range(table_id);
        start >= lo.as_slice() && end <= hi.as_slice() && start <= end
    }
}

impl TableDef {
    /// A new on-demand table with nothing else set: no id yet (the metadata group
    /// assigns it), as many partitions as the cluster makes by default, no limits.
    pub fn new(
        name: impl Into<String>,
        key_schema: KeySchema,
        attribute_definitions: Vec<KeyAttribute>,
    ) -> TableDef {
        TableDef {
            name: name.into(),
            id: 0,
            key_schema,
            attribute_definitions,
            billing_mode: BillingMode::PayPerRequest,
            read_capacity_units: 0,
            write_capacity_units: 0,
            creation_time: 0.0,
            last_billing_mode_change: None,
            partition_count: 0,
            table_class: None,
            deletion_protection: false,
            layout: Vec::new(),
            max_read_request_units: None,
            max_write_request_units: None,
            partition_capacity: DEFAULT_PARTITION_CAPACITY,
            warm_requested: None,
            read_scaling: None,
            write_scaling: None,
            capacity_changes: CapacityChanges::default(),
            local_indexes: Vec::new(),
            global_index_of: None,
        }
    }

    /// What the table's partitions maintain of its local secondary indexes.
    pub fn local_index_set(&self) -> crate::index::LocalIndexes {
        crate::index::LocalIndexes::new(self.key_schema.clone(), self.local_indexes.clone())
    }

    /// The global secondary index this table holds, if it is an index's table.
    pub fn global_index_shape(&self) -> Option<crate::global_index::GlobalIndexShape> {
        let of = self.global_index_of.as_ref()?;
        Some(crate::global_index::GlobalIndexShape::new(
            self.id,
            &self.key_schema,
            of,
        ))
    }

    /// A table keyed by a string partition key `pk` alone (for tests).
    pub fn keyed_by_pk(name: impl Into<String>) -> TableDef {
        let pk = KeyAttribute {
            name: "pk".into(),
            ty: ScalarType::S,
        };
        TableDef::new(
            name,
            KeySchema {
                partition: pk.clone(),
                sort: None,
            },
            vec![pk],
        )
    }

    /// The table's read (`write: false`) or write limit in units per second and its
    /// kind, if it has one: provisioned capacity, or an on-demand maximum.
    pub fn throughput_limit(&self, write: bool) -> Option<(f64, ThroughputLimit)> {
        match self.billing_mode {
            BillingMode::Provisioned => {
                let units = if write {
                    self.write_capacity_units
                } else {
                    self.read_capacity_units
                };
                Some((units as f64, ThroughputLimit::Provisioned))
            }
            BillingMode::PayPerRequest => {
                let max = if write {
                    self.max_write_request_units
                } else {
                    self.max_read_request_units
                };
                max.map(|m| (m as f64, ThroughputLimit::MaxOnDemand))
            }
        }
    }

    /// The auto scaling setting of one capacity.
    pub fn scaling(&self, dim: CapacityDimension) -> Option<&CapacityScaling> {
        match dim {
            CapacityDimension::Read => self.read_scaling.as_ref(),
            CapacityDimension::Write => self.write_scaling.as_ref(),
        }
    }

    pub fn scaling_mut(&mut self, dim: CapacityDimension) -> &mut Option<CapacityScaling> {
        match dim {
            CapacityDimension::Read => &mut self.read_scaling,
            CapacityDimension::Write => &mut self.write_scaling,
        }
    }

    /// The provisioned units of one capacity.
    pub fn provisioned(&self, dim: CapacityDimension) -> u64 {
        match dim {
            CapacityDimension::Read => self.read_capacity_units,
            CapacityDimension::Write => self.write_capacity_units,
        }
    }

    /// Sets the provisioned units of one capacity, noting when it went up or down.
    pub fn set_provisioned(&mut self, dim: CapacityDimension, units: u64, at: f64) {
        let before = self.provisioned(dim);
        let changes = &mut self.capacity_changes;
        if units > before {
            changes.last_increase = Some(at);
        } else if units < before && changes.last_decrease != Some(at) {
            // (Read and write lowered by one change count once.)
            changes.decreases_that_day = changes.decreases_on_day_of(at) + 1;
            changes.last_decrease = Some(at);
        }
        match dim {
            CapacityDimension::Read => self.read_capacity_units = units,
            CapacityDimension::Write => self.write_capacity_units = units,
        }
    }

    /// The table's warm throughput: what its partitions serve at once.
    pub fn warm_throughput(&self) -> UnitsPerSecond {
        let n = self.partition_total() as u64;
        UnitsPerSecond {
            read: n * self.partition_capacity.read,
            write: n * self.partition_capacity.write,
        }
    }

    /// How many partitions serve `units` at once.
    pub fn partitions_for(&self, units: UnitsPerSecond) -> u64 {
        let need = |want: u64, each: u64| want.div_ceil(each.max(1));
        need(units.read, self.partition_capacity.read)
            .max(need(units.write, self.partition_capacity.write))
            .max(1)
    }

    /// Partitions still to be made before the requested warm throughput is reached.
    pub fn warm_partitions_missing(&self) -> u64 {
        self.warm_requested.map_or(0, |w| {
            self.partitions_for(w)
                .saturating_sub(self.partition_total() as u64)
        })
    }

    pub fn arn(&self) -> String {
        format!("arn:aws:dynamodb:ddblocal:000000000000:table/{}", self.name)
    }

    /// The partitions in token order.
    pub fn spans(&self) -> Cow<'_, [PartitionSpan]> {
        if self.layout.is_empty() {
            Cow::Owned(equal_layout(self.partition_count))
        } else {
            Cow::Borrowed(&self.layout)
        }
    }

    /// How many partitions own tokens now.
    pub fn partition_total(&self) -> usize {
        if self.layout.is_empty() {
            self.partition_count.max(1) as usize
        } else {
            self.layout.len()
        }
    }

    /// Which partition owns a token.
    pub fn partition_of_token(&self, token: u64) -> u32 {
        if self.layout.is_empty() {
            let n = u128::from(self.partition_count.max(1));
            return ((u128::from(token) * n) >> 64) as u32;
        }
        let after = self.layout.partition_point(|s| s.start <= token);
        self.layout[after.saturating_sub(1)].partition
    }

    /// The tokens partition `p` owns now (None: no such partition).
    pub fn partition_tokens(&self, p: u32) -> Option<TokenRange> {
        let spans = self.spans();
        let i = spans.iter().position(|s| s.partition == p)?;
        Some(TokenRange {
            start: spans[i].start,
            end: spans.get(i + 1).map(|s| s.start),
        })
    }

    /// The partition after `p` in token order, if any.
    pub fn next_partition(&self, p: u32) -> Option<u32> {
        let spans = self.spans();
        let i = spans.iter().position(|s| s.partition == p)?;
        spans.get(i + 1).map(|s| s.partition)
    }

    /// The storage-key range `[start, end)` of partition `p`'s items (empty when `p`
    /// does not exist).
    pub fn partition_key_range(&self, p: u32) -> (Vec<u8>, Vec<u8>) {
        match self.partition_tokens(p) {
            Some(range) => range.key_range(self.id),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// Cuts partition `p` at token `at`: `p` keeps the tokens below, the new partition
    /// `child` takes the rest. False (nothing changed) when `at` does not cut `p` in
    /// two or `child` is not the next partition id.
    pub fn split(&mut self, p: u32, at: u64, child: u32) -> bool {
        let Some(range) = self.partition_tokens(p) else {
            return false;
        };
        if !range.splits_at(at) || child != self.partition_count {
            return false;
        }
        let mut spans = self.spans().into_owned();
        let i = spans.iter().position(|s| s.partition == p).unwrap_or(0);
        spans.insert(
            i + 1,
            PartitionSpan {
                start: at,
                partition: child,
            },
        );
        self.layout = spans;
        self.partition_count += 1;
        true
    }
}

/// `n` equal ranges of the token ring, partition `i` the `i`-th.
pub fn equal_layout(n: u32) -> Vec<PartitionSpan> {
    let n = n.max(1);
    (0..n)
        .map(|p| PartitionSpan {
            start: ((u128::from(p) << 64).div_ceil(u128::from(n))) as u64,
            partition: p,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{AttributeValue, Item};

    fn def(parts: u32) -> TableDef {
        TableDef {
            id: 1,
            partition_count: parts,
            attribute_definitions: vec![],
            ..TableDef::keyed_by_pk("t")
        }
    }

    #[test]
    fn capacity_changes_count_decreases_per_day() {
        let mut t = def(1);
        t.billing_mode = BillingMode::Provisioned;
        t.read_capacity_units = 10;
        t.write_capacity_units = 10;
        let day = 20_000.0 * 86_400.0;
        t.set_provisioned(CapacityDimension::Write, 20, day + 10.0);
        assert_eq!(t.capacity_changes.last_increase, Some(day + 10.0));
        // Read and write lowered together: one decrease.
        t.set_provisioned(CapacityDimension::Read, 5, day + 20.0);
        t.set_provisioned(CapacityDimension::Write, 5, day + 20.0);
        t.set_provisioned(CapacityDimension::Write, 4, day + 30.0);
        assert_eq!(t.capacity_changes.decreases_on_day_of(day + 40.0), 2);
        // The next UTC day starts from none.
        assert_eq!(t.capacity_changes.decreases_on_day_of(day + 86_400.0), 0);
        t.set_provisioned(CapacityDimension::Write, 3, day + 86_400.0);
        assert_eq!(t.capacity_changes.decreases_on_day_of(day + 86_401.0), 1);
        assert_eq!(t.write_capacity_units, 3);
    }

    #[test]
    fn partitions_cover_the_ring_in_order() {
        for parts in [1, 3, 4, 7] {
            let t = def(parts);
            for p in 0..parts {
                let start = t.partition_tokens(p).unwrap().start;
                assert_eq!(t.partition_of_token(start), p);
                if p > 0 {
                    assert_eq!(t.partition_of_token(start - 1), p - 1);
                }
            }
            assert_eq!(t.partition_of_token(u64::MAX), parts - 1);
            assert_eq!(t.partition_tokens(parts - 1).unwrap().end, None);
        }
    }

    #[test]
    fn a_split_hands_the_upper_tokens_to_a_new_partition() {
        let mut t = def(2);
        let half = 1u64 << 63;
        assert_eq!(t.partition_tokens(0).unwrap().end, Some(half));
        assert!(!t.split(0, 0, 2), "a cut at the start leaves an empty half");
        assert!(
            !t.split(0, half, 2),
            "a cut at the end leaves an empty half"
        );
        assert!(!t.split(0, 100, 3), "child ids are handed out in order");
        assert!(t.split(0, 1000, 2));
        assert_eq!(t.partition_count, 3);
        assert_eq!(t.partition_of_token(999), 0);
        assert_eq!(t.partition_of_token(1000), 2);
        assert_eq!(t.partition_of_token(half - 1), 2);
        assert_eq!(t.partition_of_token(half), 1);
        assert_eq!(
            t.partition_tokens(2),
            Some(TokenRange {
                start: 1000,
                end: Some(half)
            })
        );
        assert_eq!(t.next_partition(0), Some(2));
        assert_eq!(t.next_partition(2), Some(1));
        assert_eq!(t.next_partition(1), None);
        // The last partition splits too, and the key ranges stay contiguous.
        assert!(t.split(1, u64::MAX - 5, 3));
        let spans = t.spans();
        for w in spans.windows(2) {
            let a = t.partition_key_range(w[0].partition);
            let b = t.partition_key_range(w[1].partition);
            assert_eq!(a.1, b.0);
        }
        assert_eq!(t.partition_key_range(3).1, 2u32.to_be_bytes().to_vec());
    }

    #[test]
    fn key_checks() {
        let t = def(1);
        let mut item = Item::new();
        assert!(t.key_schema.key_of_item(&item).is_err());
        item.insert("pk".into(), AttributeValue::S(String::new()));
        let e = t.key_schema.key_of_item(&item).unwrap_err();
        assert!(e.to_string().contains("empty string value"));
        item.insert("pk".into(), AttributeValue::S("x".repeat(2049)));
        assert!(t.key_schema.key_of_item(&item).is_err());
        item.insert("pk".into(), AttributeValue::S("x".into()));
        assert!(t.key_schema.key_of_item(&item).is_ok());
        assert!(t.key_schema.key_from_request(&item).is_ok());
        item.insert("other".into(), AttributeValue::Null);
        assert!(t.key_schema.key_from_request(&item).is_err());
    }
}
