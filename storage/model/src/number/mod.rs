//! DynamoDB's Number type: exact decimals (never floats) with up to 38 significant
//! digits and magnitudes from 1E-130 to 9.99..E+125. Owns parsing and its error
//! messages, canonical (plain, trimmed) text, numeric order, exact add/sub, the
//! item-size contribution, and an order-preserving, self-delimiting key encoding.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::{ModelError, Result};

/// Most significant digits a Number may hold.
pub const MAX_DIGITS: usize = 38;
/// Largest `exp` (value = 0.d1d2.. x 10^exp): 9.99..E+125 = 0.999.. x 10^126.
const MAX_EXP: i64 = 126;
/// Smallest `exp`: 1E-130 = 0.1 x 10^-129.
const MIN_EXP: i64 = -129;

const ERR_NOT_NUMBER: &str = "A value provided cannot be converted into a number";
const ERR_DIGITS: &str = "Attempting to store more than 38 significant digits in a Number";
const ERR_OVERFLOW: &str =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
const ERR_UNDERFLOW: &str =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";

/// Key-encoding tags (first byte); their order is negative < zero < positive.
const TAG_NEG: u8 = 0x01;
const TAG_ZERO: u8 = 0x02;
const TAG_POS: u8 = 0x03;

/// An exact decimal, normalized so that equal values have equal representations:
/// value = (-1)^negative x 0.d1d2..dn x 10^exp, with d1 != 0 and dn != 0.
/// Zero is `digits` empty, `negative` false, `exp` 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits, each 0..=9, most significant first; 1..=38 of them (0 for zero).
    digits: Vec<u8>,
    exp: i32,
}

impl Number {
    /// Parses DynamoDB number text: `[+-]digits[.digits][(e|E)[+-]digits]` (either side
    /// of the point may be empty, not both). No spaces, NaN, Infinity or hex.
    pub fn parse(s: &str) -> Result<Number> {
        let bad = || ModelError::validation(ERR_NOT_NUMBER);
        let all_digits = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
        let (negative, body) = split_sign(s);
        let (mantissa, exp_text) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
            return Err(bad());
        }
        let mut e: i64 = 0;
        if let Some(t) = exp_text {
            let (exp_negative, t) = split_sign(t);
            if t.is_empty() || !all_digits(t) {
                return Err(bad());
            }
            // Saturate: anything this large is out of range whatever the mantissa.
            e = t
                .bytes()
                .fold(0, |e, c| (e * 10 + i64::from(c - b'0')).min(1 << 40));
            if exp_negative {
                e = -e;
            }
        }
        let digits = int.bytes().chain(frac.bytes()).map(|c| c - b'0').collect();
        Number::from_parts(negative, digits, int.len() as i64 + e)
    }

    /// Zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exp: 0,
        }
    }

    /// The exact value of an i64 (always in range).
    pub fn from_i64(v: i64) -> Number {
        let digits: Vec<u8> = v
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|c| c - b'0')
            .collect();
        let exp = digits.len() as i64;
        // At most 19 digits and exp <= 19: always valid.
        Number::from_parts(v < 0, digits, exp).unwrap_or_else(|_| Number::zero())
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Exact sum; errors (DynamoDB's messages) if the result needs more than 38
    /// significant digits or is out of range. Never rounds.
    pub fn checked_add(&self, other: &Number) -> Result<Number> {
        add_signed(self, other, false)
    }

    /// Exact difference, with the same rules as [`Number::checked_add`].
    pub fn checked_sub(&self, other: &Number) -> Result<Number> {
        add_signed(self, other, true)
    }

    /// DynamoDB's item-size contribution: 1 byte per two significant digits, plus 1.
    pub fn size_bytes(&self) -> usize {
        if self.is_zero() {
            1
        } else {
            self.digits.len().div_ceil(2) + 1
        }
    }

    /// Appends an order-preserving, self-delimiting encoding: bytewise order of the
    /// encodings equals numeric order, and no encoding is a proper prefix of another.
    ///
    /// Layout: zero is `[0x02]`. Positive is `0x03, exp+129, pairs.., 0x00` where each
    /// pair of digits (last one padded with 0) is the byte `pair + 1` (1..=100).
    /// Negative is `0x01, 126-exp, pairs.., 0xFF` with each pair as `101 - pair` (2..=101),
    /// so larger magnitudes sort first.
    pub fn encode_sortable(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(TAG_ZERO);
            return;
        }
        // exp is within MIN_EXP..=MAX_EXP, so both offsets fit in 0..=255.
        let biased = (i64::from(self.exp) - MIN_EXP) as u8;
        if self.negative {
            out.push(TAG_NEG);
            out.push(255 - biased);
        } else {
            out.push(TAG_POS);
            out.push(biased);
        }
        for pair in self.digits.chunks(2) {
            let v = pair[0] * 10 + pair.get(1).copied().unwrap_or(0);
            out.push(if self.negative { 101 - v } else { v + 1 });
        }
        out.push(if self.negative { 0xFF } else { 0x00 });
    }

    /// Reads one [`Number::encode_sortable`] encoding from the start of `bytes`: the
    /// number and the bytes it took. `None` if they are not such an encoding.
    pub fn decode_sortable(bytes: &[u8]) -> Option<(Number, usize)> {
        let (&tag, rest) = bytes.split_first()?;
        if tag == TAG_ZERO {
            return Some((Number::zero(), 1));
        }
        let negative = match tag {
            TAG_NEG => true,
            TAG_POS => false,
            _ => return None,
        };
        let (&biased, pairs) = rest.split_first()?;
        let biased = if negative { 255 - biased } else { biased };
        let end = if negative { 0xFF } else { 0x00 };
        let len = pairs.iter().position(|&b| b == end)?;
        let mut digits = Vec::with_capacity(2 * len);
        for &b in &pairs[..len] {
            let pair = if negative {
                101u8.checked_sub(b)?
            } else {
                b.checked_sub(1)?
            };
            if pair > 99 {
                return None;
            }
            digits.extend_from_slice(&[pair / 10, pair % 10]);
        }
        let number = Number::from_parts(negative, digits, i64::from(biased) + MIN_EXP).ok()?;
        Some((number, 3 + len))
    }

    /// Builds a normalized, validated Number from raw digits (any leading/trailing
    /// zeros) where value = 0.digits x 10^exp.
    fn from_parts(negative: bool, mut digits: Vec<u8>, exp: i64) -> Result<Number> {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        if lead == digits.len() {
            return Ok(Number::zero());
        }
        digits.drain(..lead);
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.len() > MAX_DIGITS {
            return Err(ModelError::validation(ERR_DIGITS));
        }
        let exp = exp - lead as i64;
        match exp {
            MIN_EXP..=MAX_EXP => Ok(Number {
                negative,
                digits,
                exp: exp as i32,
            }),
            e if e > MAX_EXP => Err(ModelError::validation(ERR_OVERFLOW)),
            _ => Err(ModelError::validation(ERR_UNDERFLOW)),
        }
    }

    /// Digits of |self| as a little-endian array whose index 0 is the 10^low place,
    /// `width` long (must cover the number).
    fn aligned(&self, low: i64, width: usize) -> Vec<u8> {
        let mut v = vec![0u8; width];
        // digit k (0-based) sits at place exp - 1 - k.
        for (k, &d) in self.digits.iter().enumerate() {
            let place = i64::from(self.exp) - 1 - k as i64;
            v[(place - low) as usize] = d;
        }
        v
    }
}

/// Strips one leading '+' or '-', saying whether it was '-'.
fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// a + b, or a - b when `negate_b`, exactly.
fn add_signed(a: &Number, b: &Number, negate_b: bool) -> Result<Number> {
    let b_neg = b.negative != negate_b && !b.is_zero();
    if b.is_zero() {
        return Ok(a.clone());
    }
    if a.is_zero() {
        return Ok(Number {
            negative: b_neg,
            ..b.clone()
        });
    }
    let low_of = |n: &Number| i64::from(n.exp) - n.digits.len() as i64;
    let low = low_of(a).min(low_of(b));
    let high = i64::from(a.exp.max(b.exp));
    let width = (high - low) as usize + 1; // one spare place for a carry
    let x = a.aligned(low, width);
    let y = b.aligned(low, width);
    // Work on |big| +/- |small| so a subtraction never goes negative.
    let (big, small, negative) = if x.iter().rev().ge(y.iter().rev()) {
        (&x, &y, a.negative)
    } else {
        (&y, &x, b_neg)
    };
    let sign: i8 = if a.negative == b_neg { 1 } else { -1 };
    let mut mag = vec![0u8; width];
    let mut carry = 0i8;
    for i in 0..width {
        let t = big[i] as i8 + sign * small[i] as i8 + carry;
        mag[i] = t.rem_euclid(10) as u8;
        carry = t.div_euclid(10);
    }
    // mag is little-endian with index 0 at place `low`; the top index is place high.
    // As 0.D x 10^exp with D most-significant-first: exp = high + 1.
    let digits: Vec<u8> = mag.into_iter().rev().collect();
    Number::from_parts(negative, digits, high + 1)
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let class = |n: &Number| {
            if n.negative {
                -1
            } else {
                i8::from(!n.is_zero())
            }
        };
        match class(self).cmp(&class(other)) {
            Ordering::Equal => {}
            o => return o,
        }
        let mag = self
            .exp
            .cmp(&other.exp)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            mag.reverse()
        } else {
            mag
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    /// DynamoDB's canonical text: plain notation, no leading/trailing zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 4);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let n = self.digits.len() as i32;
        if self.exp <= 0 {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-self.exp) as usize));
            s.extend(self.digits.iter().map(digit));
        } else if self.exp >= n {
            s.extend(self.digits.iter().map(digit));
            s.extend(std::iter::repeat_n('0', (self.exp - n) as usize));
        } else {
            let (int, frac) = self.digits.split_at(self.exp as usize);
            s.extend(int.iter().map(digit));
            s.push('.');
            s.extend(frac.iter().map(digit));
        }
        f.write_str(&s)
    }
}

impl FromStr for Number {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Number> {
        Number::parse(s)
    }
}

impl serde::Serialize for Number {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Number, D::Error> {
        let s = String::deserialize(deserializer)?;
        Number::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
