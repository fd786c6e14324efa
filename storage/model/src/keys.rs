//! Keys: the fixed partition-key hash (token) and the order-preserving key encoding.
//!
//! An item's storage key is `table id (4, BE) | token (8, BE) | pk | sk`. Each key value is
//! encoded so that byte order is DynamoDB's order (S and B bytewise, N numerically) and so
//! that it is self-delimiting: a partition key's bytes are never a prefix of another's, so
//! all items of one partition key are one contiguous range ordered by sort key.

use xxhash_rust::xxh3::xxh3_64;

use crate::number::Number;
use crate::table::ScalarType;
use crate::value::AttributeValue;

/// The hash of a partition key value onto the 64-bit token ring. XXH3 is specified
/// byte-for-byte, so this never changes across Rust versions or machines. Equal numbers
/// (`1`, `1.0`) hash alike because the canonical text is hashed.
pub fn token(partition_key: &AttributeValue) -> u64 {
    let mut buf = Vec::with_capacity(32);
    match partition_key {
        AttributeValue::S(s) => {
            buf.push(b'S');
            buf.extend_from_slice(s.as_bytes());
        }
        AttributeValue::N(n) => {
            buf.push(b'N');
            buf.extend_from_slice(n.to_string().as_bytes());
        }
        AttributeValue::B(b) => {
            buf.push(b'B');
            buf.extend_from_slice(b);
        }
        other => {
            // Key schemas only allow S, N and B; anything else still hashes deterministically.
            buf.push(b'?');
            buf.extend_from_slice(format!("{other:?}").as_bytes());
        }
    }
    xxh3_64(&buf)
}

/// Appends the order-preserving, self-delimiting encoding of a key value (S, N or B).
pub fn encode_key_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => encode_bytes(s.as_bytes(), out),
        AttributeValue::B(b) => encode_bytes(b, out),
        AttributeValue::N(n) => n.encode_sortable(out),
        other => encode_bytes(format!("{other:?}").as_bytes(), out),
    }
}

/// Reads one [`encode_key_value`] encoding of a `ty` value from the start of `bytes`:
/// the value and the bytes it took. `None` if they are not such an encoding.
pub fn decode_key_value(bytes: &[u8], ty: ScalarType) -> Option<(AttributeValue, usize)> {
    if ty == ScalarType::N {
        let (n, used) = Number::decode_sortable(bytes)?;
        return Some((AttributeValue::N(n), used));
    }
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match (*bytes.get(i)?, bytes.get(i + 1)) {
            (0x00, Some(0xFF)) => out.push(0),
            (0x00, Some(0x01)) => break,
            (0x00, _) => return None,
            (b, _) => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    let value = match ty {
        ScalarType::S => AttributeValue::S(String::from_utf8(out).ok()?),
        _ => AttributeValue::B(out),
    };
    Some((value, i + 2))
}

/// The encoding of a byte string without its terminator: a prefix of the encoding of every
/// string that starts with `prefix` (used for `begins_with` on sort keys).
pub fn encode_bytes_prefix(prefix: &[u8], out: &mut Vec<u8>) {
    for &b in prefix {
        if b == 0 {
            out.extend_from_slice(&[0x00, 0xFF]);
        } else {
            out.push(b);
        }
    }
}

/// Byte strings: 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01.
fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    encode_bytes_prefix(bytes, out);
    out.extend_from_slice(&[0x00, 0x01]);
}

/// The storage key prefix of a table's items.
pub fn table_prefix(table_id: u32) -> [u8; 4] {
    table_id.to_be_bytes()
}

/// `table | token`: where a token's items start.
pub fn token_prefix(table_id: u32, token: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(12);
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&token.to_be_bytes());
    k
}

/// `table | token | pk`: the prefix of every item with this partition key.
pub fn partition_key_prefix(table_id: u32, pk: &AttributeValue) -> Vec<u8> {
    let mut k = token_prefix(table_id, token(pk));
    encode_key_value(pk, &mut k);
    k
}

/// The full storage key of an item.
pub fn item_key(table_id: u32, pk: &AttributeValue, sk: Option<&AttributeValue>) -> Vec<u8> {
    item_key_at(table_id, token(pk), pk, sk)
}

/// The full storage key of an item whose partition key's `token` is already known.
pub fn item_key_at(
    table_id: u32,
    token: u64,
    pk: &AttributeValue,
    sk: Option<&AttributeValue>,
) -> Vec<u8> {
    let mut k = token_prefix(table_id, token);
    encode_key_value(pk, &mut k);
    if let Some(sk) = sk {
        encode_key_value(sk, &mut k);
    }
    k
}

/// The token stored in an item key (bytes 4..12).
pub fn token_of_item_key(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(4..12)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The smallest key strictly greater than every key starting with `prefix`, if any.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn token_is_stable_across_builds() {
        // Fixed forever: a change here would move every item in every cluster.
        assert_eq!(token(&s("")), token(&s("")));
        assert_eq!(
            token(&AttributeValue::N(Number::parse("1.0").unwrap())),
            token(&AttributeValue::N(Number::parse("1").unwrap()))
        );
        assert_ne!(
            token(&s("1")),
            token(&AttributeValue::N(Number::parse("1").unwrap()))
        );
        assert_eq!(token(&s("a")), xxh3_64(b"Sa"));
    }

    #[test]
    fn string_encoding_orders_and_delimits() {
        let words = ["", "\0", "\0\0", "a", "a\0", "a\0b", "ab", "b", "\u{ff}"];
        let mut enc: Vec<Vec<u8>> = words
            .iter()
            .map(|w| {
                let mut v = Vec::new();
                encode_key_value(&s(w), &mut v);
                v
            })
            .collect();
        let sorted = enc.clone();
        enc.sort();
        assert_eq!(enc, sorted, "encoding must keep byte order");
        for (i, a) in sorted.iter().enumerate() {
            for b in &sorted[i + 1..] {
                assert!(!b.starts_with(a), "{a:?} is a prefix of {b:?}");
            }
        }
    }

    #[test]
    fn begins_with_prefix_matches_encoding() {
        let mut full = Vec::new();
        encode_key_value(&s("ab\0c"), &mut full);
        let mut pre = Vec::new();
        encode_bytes_prefix(b"ab\0", &mut pre);
        assert!(full.starts_with(&pre));
    }

    #[test]
    fn key_values_decode_to_themselves() {
        let values = [
            (s(""), ScalarType::S),
            (s("a\0b\u{ff}"), ScalarType::S),
            (AttributeValue::B(vec![0, 0xFF, 1, 0]), ScalarType::B),
            (
                AttributeValue::N(Number::parse("0").unwrap()),
                ScalarType::N,
            ),
            (
                AttributeValue::N(Number::parse("-12.5e3").unwrap()),
                ScalarType::N,
            ),
            (
                AttributeValue::N(Number::parse("9".repeat(38).as_str()).unwrap()),
                ScalarType::N,
            ),
            (
                AttributeValue::N(Number::parse("1e-130").unwrap()),
                ScalarType::N,
            ),
        ];
        for (v, ty) in values {
            let mut enc = Vec::new();
            encode_key_value(&v, &mut enc);
            enc.extend_from_slice(b"tail");
            let (back, used) = decode_key_value(&enc, ty).unwrap();
            assert_eq!(back, v);
            assert_eq!(&enc[used..], b"tail");
        }
        assert!(decode_key_value(&[0x00, 0x07], ScalarType::S).is_none());
        assert!(decode_key_value(&[0x03, 200, 101, 0x00], ScalarType::N).is_none());
        assert!(decode_key_value(&[0x09], ScalarType::N).is_none());
    }

    #[test]
    fn successor_of_prefix() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
