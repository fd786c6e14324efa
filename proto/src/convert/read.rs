//! Range reads, their pages, and partition statistics on the wire.

use rotor_model::index::MAX_LOCAL_INDEXES;
use rotor_model::read::{IndexRead, RangePage, ReadRange};
use rotor_model::table::TableStats;

use super::value::{item_from_wire, item_to_wire};
use super::{required, to_usize, WireError};
use crate::v1 as pb;

impl From<&ReadRange> for pb::ReadRange {
    fn from(r: &ReadRange) -> Self {
        pb::ReadRange {
            start: r.start.clone(),
            end: r.end.clone(),
            reverse: r.reverse,
            max_items: r.max_items.map(|n| n as u64),
            max_bytes: r.max_bytes as u64,
            local_index: r.local_index.map(|i| pb::IndexRead {
                ordinal: u32::from(i.ordinal),
                fetch_items: i.fetch_items,
            }),
        }
    }
}

impl TryFrom<pb::ReadRange> for ReadRange {
    type Error = WireError;

    fn try_from(r: pb::ReadRange) -> Result<Self, WireError> {
        Ok(ReadRange {
            start: r.start,
            end: r.end,
            reverse: r.reverse,
            max_items: r
                .max_items
                .map(|n| to_usize(n, "ReadRange.max_items"))
                .transpose()?,
            max_bytes: to_usize(r.max_bytes, "ReadRange.max_bytes")?,
            local_index: r
                .local_index
                .map(|i| {
                    u8::try_from(i.ordinal)
                        .ok()
                        .filter(|o| usize::from(*o) < MAX_LOCAL_INDEXES)
                        .map(|ordinal| IndexRead {
                            ordinal,
                            fetch_items: i.fetch_items,
                        })
                        .ok_or_else(|| {
                            WireError::invalid(
                                "IndexRead.ordinal",
                                format!("{} is not an index position", i.ordinal),
                            )
                        })
                })
                .transpose()?,
        })
    }
}

impl From<&RangePage> for pb::RangePage {
    fn from(p: &RangePage) -> Self {
        pb::RangePage {
            items: p
                .items
                .iter()
                .map(|(key, item)| pb::KeyedItem {
                    key: key.clone(),
                    item: Some(item_to_wire(item)),
                })
                .collect(),
            bytes: p.bytes as u64,
            truncated: p.truncated,
        }
    }
}

impl TryFrom<pb::RangePage> for RangePage {
    type Error = WireError;

    fn try_from(p: pb::RangePage) -> Result<Self, WireError> {
        let items = p
            .items
            .into_iter()
            .map(|k| Ok((k.key, item_from_wire(required(k.item, "KeyedItem.item")?)?)))
            .collect::<Result<_, WireError>>()?;
        Ok(RangePage {
            items,
            bytes: to_usize(p.bytes, "RangePage.bytes")?,
            truncated: p.truncated,
        })
    }
}

impl From<&TableStats> for pb::TableStats {
    fn from(s: &TableStats) -> Self {
        pb::TableStats {
            item_count: s.item_count,
            size_bytes: s.size_bytes,
        }
    }
}

/// (Never fails; a `TryFrom` with [`WireError`] like every other message's.)
impl TryFrom<pb::TableStats> for TableStats {
    type Error = WireError;

    fn try_from(s: pb::TableStats) -> Result<Self, WireError> {
        Ok(TableStats {
            item_count: s.item_count,
            size_bytes: s.size_bytes,
        })
    }
}
