//! Tests of exact decimal numbers: parsing, ranges, arithmetic, order and the sortable
//! encoding.

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
    let words = "+ - . -. 1e 1e+ e5 1.2.3 1..2 NaN nan Infinity -Infinity inf 0x10 1_000 1,5 ++1
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
