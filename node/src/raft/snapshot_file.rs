//! A snapshot file: `ROTORSNP`, then length-delimited `rotor.v1.SnapshotFrame`s (a
//! header, a partition's items in frames of about a megabyte, an end frame with the
//! count). Written and read one frame at a time, so memory stays bounded whatever the
//! partition's size; a reader refuses a file it does not fully understand (a newer
//! format, an oversized or truncated frame).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use prost::Message;
use rotor_model::table::TokenRange;
use rotor_proto::v1::{
    snapshot_frame, SnapshotChanges, SnapshotEnd, SnapshotFrame, SnapshotHeader, SnapshotItems,
    TokenSpan,
};

const MAGIC: &[u8; 8] = b"ROTORSNP";
/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Items are gathered into frames of about this many bytes.
const FRAME_TARGET_BYTES: usize = 1 << 20;
/// No frame is larger (a frame of items holds at most one item past the target; an
/// item is at most 400 KB; a cluster map stays far below).
const MAX_FRAME_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    #[error("snapshot file I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("snapshot file is not valid: {0}")]
    Format(String),
}

type Result<T> = std::result::Result<T, SnapshotFileError>;

fn format_error(what: impl Into<String>) -> SnapshotFileError {
    SnapshotFileError::Format(what.into())
}

/// Writes a snapshot file frame by frame; `finish` fsyncs it.
pub struct SnapshotWriter {
    out: BufWriter<File>,
    pending: SnapshotItems,
    pending_changes: SnapshotChanges,
    pending_bytes: usize,
    items: u64,
}

impl SnapshotWriter {
    pub fn create(path: &Path, header: SnapshotHeader) -> Result<SnapshotWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(MAGIC)?;
        let mut writer = SnapshotWriter {
            out,
            pending: SnapshotItems::default(),
            pending_changes: SnapshotChanges::default(),
            pending_bytes: 0,
            items: 0,
        };
        writer.frame(snapshot_frame::Frame::Header(header))?;
        Ok(writer)
    }

    fn frame(&mut self, frame: snapshot_frame::Frame) -> Result<()> {
        let bytes = SnapshotFrame { frame: Some(frame) }.encode_length_delimited_to_vec();
        self.out.write_all(&bytes)?;
        Ok(())
    }

    /// Adds one change log record (before any item), at its log position.
    pub fn add_change(&mut self, position: u64, record: &[u8]) -> Result<()> {
        self.pending_changes.positions.push(position);
        self.pending_changes.records.push(record.to_vec());
        self.pending_bytes += record.len() + 8;
        if self.pending_bytes >= FRAME_TARGET_BYTES {
            self.flush_changes()?;
        }
        Ok(())
    }

    fn flush_changes(&mut self) -> Result<()> {
        if self.pending_changes.positions.is_empty() {
            return Ok(());
        }
        let changes = std::mem::take(&mut self.pending_changes);
        self.pending_bytes = 0;
        self.frame(snapshot_frame::Frame::Changes(changes))
    }

    /// Adds one item (storage key, stored value); keys come in ascending order.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.flush_changes()?;
        self.pending.keys.push(key.to_vec());
        self.pending.values.push(value.to_vec());
        self.pending_bytes += key.len() + value.len();
        self.items += 1;
        if self.pending_bytes >= FRAME_TARGET_BYTES {
            self.flush_items()?;
        }
        Ok(())
    }

    fn flush_items(&mut self) -> Result<()> {
        if self.pending.keys.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.frame(snapshot_frame::Frame::Items(items))
    }

    /// Writes the end frame and makes the file durable; returns the item count.
    pub fn finish(mut self) -> Result<u64> {
        self.flush_changes()?;
        self.flush_items()?;
        let items = self.items;
        self.frame(snapshot_frame::Frame::End(SnapshotEnd { items }))?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| SnapshotFileError::Io(e.into_error()))?;
        file.sync_all()?;
        Ok(items)
    }
}

/// Reads a snapshot file: the header at once, then the items as an iterator.
pub struct SnapshotReader {
    input: BufReader<File>,
    current: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    seen: u64,
    done: bool,
    /// Change log records read so far (they come before the items).
    changes: Vec<(u64, Vec<u8>)>,
}

impl SnapshotReader {
    pub fn open(path: &Path) -> Result<(SnapshotHeader, SnapshotReader)> {
        let mut input = BufReader::new(File::open(path)?);
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| format_error("shorter than its magic bytes"))?;
        if &magic != MAGIC {
            return Err(format_error("not a Rotor snapshot (bad magic bytes)"));
        }
        let mut reader = SnapshotReader {
            input,
            current: Vec::new().into_iter(),
            seen: 0,
            done: false,
            changes: Vec::new(),
        };
        let header = match reader.next_frame()? {
            Some(snapshot_frame::Frame::Header(h)) => h,
            _ => return Err(format_error("the first frame is not a header")),
        };
        if header.format_version == 0 || header.format_version > FORMAT_VERSION {
            return Err(format_error(format!(
                "format version {} (this build reads 1 to {FORMAT_VERSION}; upgrade the node)",
                header.format_version
            )));
        }
        Ok((header, reader))
    }

    fn next_frame(&mut self) -> Result<Option<snapshot_frame::Frame>> {
        let len = match read_varint(&mut self.input)? {
            Some(len) => len,
            None => return Ok(None),
        };
        if len > MAX_FRAME_BYTES {
            return Err(format_error(format!("a frame of {len} bytes")));
        }
        let mut buf = vec![0u8; len as usize];
        self.input
            .read_exact(&mut buf)
            .map_err(|_| format_error("truncated frame"))?;
        let frame = SnapshotFrame::decode(buf.as_slice())
            .map_err(|e| format_error(format!("undecodable frame: {e}")))?;
        Ok(frame.frame)
    }

    /// Reads the change log records that come before the items and hands them over
    /// (position, encoded record), keeping the first items for `next_item`.
    pub fn take_changes(&mut self) -> Result<Vec<(u64, Vec<u8>)>> {
        while self.current.len() == 0 && !self.done {
            if !self.read_frame()? {
                break;
            }
        }
        Ok(std::mem::take(&mut self.changes))
    }

    /// The next item, None after the end frame (whose count must match).
    pub fn next_item(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            if let Some(item) = self.current.next() {
                self.seen += 1;
                return Ok(Some(item));
            }
            if self.done {
                return Ok(None);
            }
            self.read_frame()?;
        }
    }

    /// Reads one frame after the header into the reader's state; false at the end.
    fn read_frame(&mut self) -> Result<bool> {
        match self.next_frame()? {
            Some(snapshot_frame::Frame::Changes(changes)) => {
                if self.seen > 0 || self.current.len() > 0 {
                    return Err(format_error("change log records after items"));
                }
                if changes.positions.len() != changes.records.len() {
                    return Err(format_error("a frame with more positions than records"));
                }
                self.changes
                    .extend(changes.positions.into_iter().zip(changes.records));
            }
            Some(snapshot_frame::Frame::Items(items)) => {
                if items.keys.len() != items.values.len() {
                    return Err(format_error("a frame with more keys than values"));
                }
                let pairs: Vec<_> = items.keys.into_iter().zip(items.values).collect();
                self.current = pairs.into_iter();
            }
            Some(snapshot_frame::Frame::End(end)) => {
                if end.items != self.seen {
                    return Err(format_error(format!(
                        "{} items read, the end frame says {}",
                        self.seen, end.items
                    )));
                }
                self.done = true;
            }
            Some(snapshot_frame::Frame::Header(_)) => return Err(format_error("a second header")),
            None => return Err(format_error("truncated: no end frame")),
        }
        Ok(!self.done)
    }
}

impl Iterator for SnapshotReader {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// A protobuf varint (at most 10 bytes); None at a clean end of input.
fn read_varint(input: &mut impl Read) -> Result<Option<u64>> {
    let mut value = 0u64;
    for i in 0..10 {
        let mut byte = [0u8; 1];
        match input.read(&mut byte)? {
            0 if i == 0 => return Ok(None),
            0 => return Err(format_error("truncated frame length")),
            _ => {}
        }
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(format_error("frame length longer than 10 bytes"))
}

pub fn span_of(range: TokenRange) -> TokenSpan {
    TokenSpan {
        start: range.start,
        end: range.end.unwrap_or(0),
        open_end: range.end.is_none(),
    }
}

pub fn range_of(span: &TokenSpan) -> TokenRange {
    TokenRange {
        start: span.start,
        end: (!span.open_end).then_some(span.end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_proto::v1::{snapshot_header, PartitionSnapshotHeader};

    fn header() -> SnapshotHeader {
        SnapshotHeader {
            format_version: FORMAT_VERSION,
            body: Some(snapshot_header::Body::Partition(PartitionSnapshotHeader {
                table_id: 3,
                partition: 1,
                range: Some(span_of(TokenRange {
                    start: 10,
                    end: None,
                })),
                item_count: 0,
                size_bytes: 0,
                item_format: 1,
                group_records: [("index_sources".to_owned(), vec![1, 2, 3])].into(),
            })),
        }
    }

    fn write(path: &Path, items: u64, value_len: usize) {
        let mut w = SnapshotWriter::create(path, header()).unwrap();
        for i in 0..items {
            w.add(&i.to_be_bytes(), &vec![7u8; value_len]).unwrap();
        }
        assert_eq!(w.finish().unwrap(), items);
    }

    #[test]
    fn items_come_back_in_order_across_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        // 3,000 items of 1 KB: three frames.
        write(&path, 3000, 1000);
        let (h, reader) = SnapshotReader::open(&path).unwrap();
        assert_eq!(h, header());
        let keys: Vec<Vec<u8>> = reader.map(|r| r.unwrap().0).collect();
        assert_eq!(keys.len(), 3000);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn change_log_records_come_before_the_items_and_are_taken_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        let mut w = SnapshotWriter::create(&path, header()).unwrap();
        // 1,500 records of 1 KB: two frames of them.
        for position in 1..=1500u64 {
            w.add_change(position, &[9u8; 1000]).unwrap();
        }
        for i in 0..10u64 {
            w.add(&i.to_be_bytes(), b"v").unwrap();
        }
        w.finish().unwrap();
        let (h, mut reader) = SnapshotReader::open(&path).unwrap();
        assert_eq!(h, header(), "the group's records ride in the header");
        let changes = reader.take_changes().unwrap();
        assert_eq!(changes.len(), 1500);
        assert!(changes.iter().enumerate().all(|(i, c)| c.0 == i as u64 + 1));
        let keys: Vec<Vec<u8>> = reader.map(|r| r.unwrap().0).collect();
        assert_eq!(keys.len(), 10, "every item still comes");
        // A file without records gives none, and all its items.
        write(&path, 5, 10);
        let (_, mut reader) = SnapshotReader::open(&path).unwrap();
        assert!(reader.take_changes().unwrap().is_empty());
        assert_eq!(reader.count(), 5);
    }

    #[test]
    fn a_truncated_or_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        write(&path, 3000, 1000);
        let bytes = std::fs::read(&path).unwrap();
        // Cut anywhere after the header: never read as a whole snapshot.
        for cut in [bytes.len() - 1, bytes.len() - 5, bytes.len() / 2, 40] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let all: Result<Vec<_>> = SnapshotReader::open(&path).and_then(|(_, r)| r.collect());
            assert!(
                all.is_err(),
                "a file cut at {cut} of {} was read",
                bytes.len()
            );
        }
        std::fs::write(&path, b"bincode!whatever").unwrap();
        assert!(SnapshotReader::open(&path).is_err());
        let mut newer = header();
        newer.format_version = FORMAT_VERSION + 1;
        SnapshotWriter::create(&path, newer)
            .unwrap()
            .finish()
            .unwrap();
        let err = SnapshotReader::open(&path).err().unwrap().to_string();
        assert!(err.contains("upgrade the node"), "{err}");
    }

    #[test]
    fn an_oversized_frame_length_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        std::fs::write(&path, bytes).unwrap();
        let err = SnapshotReader::open(&path).err().unwrap().to_string();
        assert!(err.contains("a frame of"), "{err}");
    }
}
