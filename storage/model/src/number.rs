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
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }
    fn err(s: &str) -> String {
        match Number::parse(s) {
            Err(ModelError::Validation(m)) => m,
            Ok(v) => panic!("{s:?} parsed as {v}"),
        }
    }
    fn enc(x: &Number) -> Vec<u8> {
        let mut v = Vec::new();
        x.encode_sortable(&mut v);
        v
    }

    #[test]
    fn canonical_display() {
        let cases = "1.50=1.5 0010=10 1e3=1000 -0=0 +0.000=0 0e999999999999999999999=0 1.0E-2=0.01
            -12.340=-12.34 +7=7 .5=0.5 5.=5 -.25e1=-2.5 123.456e-5=0.00123456 123.456E+2=12345.6
            0.000123e3=0.123 000000000000000000000000000000000000000000000001=1
            1.00000000000000000000000000000000000000000000=1 -0.0e5=0 0.5E1=5
            12345678901234567890123456789012345678=12345678901234567890123456789012345678";
        for (input, want) in cases.split_whitespace().filter_map(|c| c.split_once('=')) {
            assert_eq!(n(input).to_string(), want, "input {input}");
        }
        assert_eq!(n("1E+125").to_string(), format!("1{}", "0".repeat(125)));
        assert_eq!(n("1E-130").to_string(), format!("0.{}1", "0".repeat(129)));
        assert_eq!(n("-1"), Number::from_i64(-1));
        assert_eq!(n("1"), n("1.0"));
        assert_eq!(n("1"), n("10E-1"));
        assert_eq!(n("-0"), Number::zero());
        assert!(!n("-0").is_negative());
        assert!(n("-0.1").is_negative() && !n("0.1").is_negative());
        assert!(n("0.00").is_zero() && !n("1e-130").is_zero());
    }

    #[test]
    fn parse_rejects() {
        let words =
            "+ - . -. 1e 1e+ e5 1.2.3 1..2 NaN nan Infinity -Infinity inf 0x10 1_000 1,5 ++1
            +-1 1e1.5 1e5e5 ١ 1f 0b1 --1 1- 1e--1 \u{0}1 1e-+1 .e1 -e1 1d 1L";
        let spaced = ["", " 1", "1 ", " ", "\t1", "1\n", "1 000"];
        for bad in words.split_whitespace().chain(spaced) {
            assert_eq!(err(bad), ERR_NOT_NUMBER, "input {bad:?}");
        }
    }

    #[test]
    fn precision_and_range() {
        let d38 = "9".repeat(38);
        assert_eq!(n(&d38).to_string(), d38);
        assert_eq!(err(&"9".repeat(39)), ERR_DIGITS);
        assert_eq!(err(&format!("1.{}1", "0".repeat(37))), ERR_DIGITS);
        // Trailing and leading zeros don't count.
        assert!(Number::parse(&format!("000{}000", "1".repeat(38))).is_ok());
        assert!(Number::parse(&format!("0.000{}", "1".repeat(38))).is_ok());
        // Largest and smallest magnitudes.
        let max = format!("9.{}E+125", "9".repeat(37));
        assert_eq!(n(&max).to_string(), "9".repeat(38) + &"0".repeat(88));
        for big in ["1E+126", "-1E+126", "10E+125", "1e999999999999999999999999"] {
            assert_eq!(err(big), ERR_OVERFLOW, "{big}");
        }
        for small in ["1E-131", "-0.9E-130", "1e-999999999999999999999999"] {
            assert_eq!(err(small), ERR_UNDERFLOW, "{small}");
        }
        assert!(Number::parse("-1E-130").is_ok() && Number::parse("0.1E-129").is_ok());
        // Zero is fine at any exponent.
        assert!(n("0E+999").is_zero() && n("0E-999").is_zero());
    }

    #[test]
    fn ordering() {
        let sorted: Vec<&str> = "-9.9999999999999999999999999999999999999E+125 -1E+125 -1000 -999.9
            -10 -9 -1.01 -1.001 -1 -0.5 -1E-130 0 1E-130 1.1E-130 0.001 0.01 0.0999 0.1 0.9 1
            1.0000000000000000000000000000000000001 1.5 2 10 11 99.99 100 1E+125
            9.9999999999999999999999999999999999999E+125"
            .split_whitespace()
            .collect();
        let nums: Vec<Number> = sorted.iter().map(|s| n(s)).collect();
        for i in 0..nums.len() {
            for j in 0..nums.len() {
                let what = (sorted[i], sorted[j]);
                assert_eq!(nums[i].cmp(&nums[j]), i.cmp(&j), "{what:?}");
                assert_eq!(enc(&nums[i]).cmp(&enc(&nums[j])), i.cmp(&j), "{what:?}");
            }
        }
        assert_eq!(n("1").cmp(&n("1.0")), Ordering::Equal);
        assert_eq!(enc(&n("1")), enc(&n("10E-1")));
        assert_eq!(enc(&n("-0")), enc(&Number::zero()));
    }

    /// Tiny deterministic LCG (no extra crates).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random numbers clustered so that many pairs share exponents and digit prefixes.
    fn random_number(r: &mut Lcg) -> Number {
        if r.below(20) == 0 {
            return Number::zero();
        }
        let max_len = [3, 38][r.below(2) as usize];
        let len = 1 + r.below(max_len) as usize;
        let pick = r.below(2) == 0; // few distinct digits, so prefixes collide often
        let mut s: String = (0..len)
            .map(|_| {
                char::from(
                    b'0' + if pick {
                        [0, 1, 9][r.below(3) as usize]
                    } else {
                        r.below(10) as u8
                    },
                )
            })
            .collect();
        s.replace_range(0..1, "1");
        let exp = [r.below(5) as i64 - 2, r.below(250) as i64 - 125][r.below(2) as usize];
        let sign = if r.below(2) == 0 { "-" } else { "" };
        let text = format!("{sign}{s}E{}", exp - len as i64 + 1);
        Number::parse(&text).unwrap()
    }

    #[test]
    fn random_encoding_agrees_with_ord() {
        let mut r = Lcg(0x5eed);
        let nums: Vec<Number> = (0..600).map(|_| random_number(&mut r)).collect();
        let encs: Vec<Vec<u8>> = nums.iter().map(enc).collect();
        for i in 0..nums.len() {
            // Display round-trips, including via scientific-looking text.
            assert_eq!(n(&nums[i].to_string()), nums[i]);
            for j in 0..nums.len() {
                let o = nums[i].cmp(&nums[j]);
                assert_eq!(encs[i].cmp(&encs[j]), o, "{} vs {}", nums[i], nums[j]);
                assert_eq!(nums[j].cmp(&nums[i]), o.reverse());
                assert_eq!(o == Ordering::Equal, nums[i] == nums[j]);
                if i != j && encs[i] != encs[j] {
                    assert!(
                        !encs[j].starts_with(&encs[i]),
                        "prefix: {} {}",
                        nums[i],
                        nums[j]
                    );
                }
                // Where the exact difference fits, its sign agrees with the order.
                if let Ok(d) = nums[i].checked_sub(&nums[j]) {
                    assert_eq!(d.cmp(&Number::zero()), o, "{} - {}", nums[i], nums[j]);
                    if let Ok(back) = d.checked_add(&nums[j]) {
                        assert_eq!(back, nums[i]);
                    }
                }
            }
        }
    }

    #[test]
    fn add_sub_exact() {
        let calc = |a: &str, op: char, b: &str| {
            let (a, b) = (n(a), n(b));
            let r = if op == '+' {
                a.checked_add(&b)
            } else {
                a.checked_sub(&b)
            };
            r.map(|x| x.to_string()).map_err(|e| e.to_string())
        };
        let d38 = "9".repeat(38);
        let max = format!("9.{}E+125", "9".repeat(37));
        let (small, tiny) = (format!("0.{d38}"), format!("0.{}1", "0".repeat(37)));
        let simple = "0.1 + 0.2 0.3|1 + -1 0|-5 + 3 -2|5 + -7.5 -2.5|0 + -7.5 -7.5|-7.5 + 0 -7.5
            |0 - -7.5 7.5|0 - 7.5 -7.5|3 - 3.0 0|-3 - -5 2|1000 - 0.001 999.999|999 + 1 1000
            |-0.05 - 0.95 -1|1.25 + -1.2 0.05|-1E-130 + 1E-130 0|123.456 - 23.4561 99.9999";
        for case in simple.split('|') {
            let w: Vec<&str> = case.split_whitespace().collect();
            let got = calc(w[0], if w[1] == "+" { '+' } else { '-' }, w[2]);
            assert_eq!(got, Ok(w[3].into()), "{case}");
        }
        for (a, op, b, want) in [
            (
                "1E+100",
                '+',
                "1E+100",
                format!("2{}", "0".repeat(100)).as_str(),
            ),
            ("1E-130", '+', "1E-130", &format!("0.{}2", "0".repeat(129))),
            // 38-digit carries and borrows.
            (&d38, '+', "1", &format!("1{}", "0".repeat(38))),
            (&d38, '+', "-1", &format!("{}8", "9".repeat(37))),
            (&format!("{}8", "9".repeat(37)), '+', "1", &d38),
            (&small, '+', &tiny, "1"),
            (&max, '-', &max, "0"),
            // No rounding, ever.
            (&small, '+', "0.1", ERR_DIGITS),
            ("1", '+', "1E-40", ERR_DIGITS),
            ("1E+50", '-', "1", ERR_DIGITS),
            ("1E+125", '+', "-1E-130", ERR_DIGITS),
            // Range.
            (&max, '+', "1E+88", ERR_OVERFLOW),
            (&format!("-{max}"), '-', "1E+88", ERR_OVERFLOW),
            ("5E+125", '+', "5E+125", ERR_OVERFLOW),
            ("1.1E-130", '-', "1E-130", ERR_UNDERFLOW),
        ] {
            let got = calc(a, op, b).unwrap_or_else(|e| e);
            assert_eq!(got, want, "{a} {op} {b}");
        }
        assert_eq!(n("0.1").checked_add(&n("0.2")).unwrap(), n("0.3"));
    }

    #[test]
    fn random_add_sub_match_i64() {
        let mut r = Lcg(42);
        for _ in 0..3000 {
            let big = 10i64.pow(r.below(18) as u32);
            let a = r.below(2 * big as u64) as i64 - big;
            let b = r.below(1 << 40) as i64 - (1 << 39);
            let k = r.below(140) as i64 - 10; // shift both into fractions or up to 1E+10
            let at = |v: i64| n(&format!("{v}E{}", -k));
            let (x, y, what) = (at(a), at(b), format!("{a}, {b}, E-{k}"));
            assert_eq!(x.checked_add(&y).unwrap(), at(a + b), "{what}");
            assert_eq!(x.checked_sub(&y).unwrap(), at(a - b), "{what}");
            assert_eq!(x.cmp(&y), a.cmp(&b), "{what}");
        }
    }

    #[test]
    fn from_i64_size_serde() {
        for v in [0i64, 1, -1, 10, -100, 1234500, i64::MAX, i64::MIN] {
            assert_eq!(Number::from_i64(v).to_string(), v.to_string());
            assert_eq!(Number::from_i64(v), n(&v.to_string()));
        }
        for (text, size) in [
            ("0", 1),
            ("1", 2),
            ("12", 2),
            ("-123", 3),
            ("1E+100", 2),
            ("0.0012", 2),
        ] {
            assert_eq!(n(text).size_bytes(), size, "{text}");
        }
        assert_eq!(n(&"9".repeat(38)).size_bytes(), 20);
        assert_eq!(serde_json::to_string(&n("-1.50e2")).unwrap(), "\"-150\"");
        let back: Number = serde_json::from_str("\"1.0E-2\"").unwrap();
        assert_eq!(back, n("0.01"));
        assert!(serde_json::from_str::<Number>("\"abc\"").is_err());
        assert_eq!("42".parse::<Number>().unwrap(), Number::from_i64(42));
        assert_eq!(enc(&Number::zero()), vec![TAG_ZERO]);
    }
}
