//! DynamoDB's capacity-unit arithmetic: what a read or a write costs.
//!
//! Reads: one unit per 4 KB (rounded up, at least one), half for eventually consistent
//! reads. Writes: one unit per 1 KB (rounded up, at least one) of the larger of the old
//! and the new item. Shared by the API edge (`ConsumedCapacity`) and the nodes' meters.

/// Read units for `bytes` read in one operation.
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// Write units for writing an item of `bytes` (the larger of old and new).
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(10_000, false), 1.5);
        assert_eq!(write_units(1), 1.0);
        assert_eq!(write_units(1025), 2.0);
    }
}
