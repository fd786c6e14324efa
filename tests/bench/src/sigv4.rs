//! AWS Signature Version 4: canonical requests, the per-day signing key, and signatures.
//!
//! The hot path signs every request with one SHA-256 of the payload, one SHA-256 of the
//! canonical request and one HMAC whose keyed state (the day's signing key, already
//! padded and hashed into the inner and outer blocks) is cached and cloned per request.
//! The same functions build the canonical request for the DynamoDB hot path and for the
//! AWS test-suite vectors checked in the tests below.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm this module implements.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of `bytes` into a fixed array (no allocation).
fn hex64(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex::encode_to_slice(bytes, &mut out).expect("64 hex digits for 32 bytes");
    out
}

/// Hex SHA-256 of a request payload, as the canonical request's last line wants it.
pub fn payload_hash(payload: &[u8]) -> [u8; 64] {
    hex64(&Sha256::digest(payload).into())
}

/// The derived signing key: HMAC chain of date (YYYYMMDD), region, service, "aws4_request".
pub fn signing_key(secret_key: &str, day: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret_key}");
    let k_date = hmac(k_secret.as_bytes(), day.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// A timestamp in SigV4's basic ISO 8601 form, `YYYYMMDDTHHMMSSZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmzDate {
    text: [u8; 16],
    unix: u64,
}

impl AmzDate {
    /// The timestamp for `unix` seconds since 1970-01-01T00:00:00Z.
    pub fn from_unix(unix: u64) -> AmzDate {
        let days = (unix / 86_400) as i64;
        let rem = unix % 86_400;
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        let mut text = [0u8; 16];
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (0..width).rev() {
                text[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y as u64);
        put(4, 2, m as u64);
        put(6, 2, d as u64);
        put(9, 2, hh);
        put(11, 2, mm);
        put(13, 2, ss);
        text[8] = b'T';
        text[15] = b'Z';
        AmzDate { text, unix }
    }

    /// Parses `YYYYMMDDTHHMMSSZ` (as found in an `X-Amz-Date` header).
    pub fn parse(text: &str) -> Option<AmzDate> {
        let b = text.as_bytes();
        if b.len() != 16 || !text.is_ascii() || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u64> {
            let digits = &text[range];
            digits
                .bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| digits.parse().ok())
                .flatten()
        };
        let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
            return None;
        }
        let days = days_from_civil(y as i64, m as u32, d as u32);
        let unix = u64::try_from(days).ok()? * 86_400 + hh * 3600 + mm * 60 + ss;
        let date = AmzDate::from_unix(unix);
        // Rejects days past the month's end (Feb 30 would come back as Mar 1).
        (date.text == b[..]).then_some(date)
    }

    /// The current time.
    pub fn now() -> AmzDate {
        AmzDate::from_unix(unix_now())
    }

    /// Seconds since the epoch this timestamp stands for.
    pub fn unix(&self) -> u64 {
        self.unix
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).expect("ASCII digits")
    }

    /// `YYYYMMDD`, the credential scope's date.
    pub fn day(&self) -> &str {
        &self.as_str()[..8]
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian (year, month, day) of a day count.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Appends the canonical request to `out`.
///
/// `headers` must already be canonical: lower-case names, sorted by name, values trimmed
/// (the DynamoDB hot path passes constants that are). `query` must be the canonical query
/// string (empty for DynamoDB). The signed-headers line is written from the same names.
pub fn canonical_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_hash: &[u8; 64],
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(path.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(query.as_bytes());
    out.push(b'\n');
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, (name, _)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash);
}

/// Signs requests for one access key, region and service, caching the day's signing key.
#[derive(Clone)]
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    /// The day (`YYYYMMDD`) `keyed` was derived for.
    day: [u8; 8],
    /// HMAC-SHA256 keyed with that day's signing key, cloned for each signature.
    keyed: Option<HmacSha256>,
}

impl Signer {
    pub fn new(access_key: &str, secret_key: &str, region: &str, service: &str) -> Signer {
        Signer {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            day: [0; 8],
            keyed: None,
        }
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn keyed_for(&mut self, day: &str) -> HmacSha256 {
        if self.keyed.is_none() || self.day != day.as_bytes() {
            let key = signing_key(&self.secret_key, day, &self.region, &self.service);
            self.keyed =
                Some(HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length"));
            self.day.copy_from_slice(day.as_bytes());
        }
        self.keyed.clone().expect("set above")
    }

    /// The hex signature of `canonical_request` at `date`.
    pub fn signature(&mut self, date: &AmzDate, canonical_request: &[u8]) -> [u8; 64] {
        let creq_hash = hex64(&Sha256::digest(canonical_request).into());
        let mut mac = self.keyed_for(date.day());
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        mac.update(date.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(date.day().as_bytes());
        mac.update(b"/");
        mac.update(self.region.as_bytes());
        mac.update(b"/");
        mac.update(self.service.as_bytes());
        mac.update(b"/aws4_request\n");
        mac.update(&creq_hash);
        hex64(&mac.finalize().into_bytes().into())
    }

    /// The full `Authorization` header value for `canonical_request`, whose signed
    /// headers are `signed_headers` (`a;b;c`).
    pub fn authorization(
        &mut self,
        date: &AmzDate,
        signed_headers: &str,
        canonical_request: &[u8],
    ) -> String {
        let sig = self.signature(date, canonical_request);
        format!(
            "{ALGORITHM} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={signed_headers}, Signature={}",
            self.access_key,
            date.day(),
            self.region,
            self.service,
            std::str::from_utf8(&sig).expect("hex is ASCII"),
        )
    }
}

/// Signs an arbitrary request: lower-cases and sorts the header names, trims and
/// collapses the values' whitespace, and returns the `Authorization` header value.
/// `headers` must include `host` and `x-amz-date` as sent. Slower than the hot path; for
/// tests and for checking what arrived on the wire.
pub fn authorization_for(
    signer: &mut Signer,
    date: &AmzDate,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> String {
    let mut owned: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    owned.sort();
    let borrowed: Vec<(&str, &str)> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let signed: Vec<&str> = borrowed.iter().map(|(n, _)| *n).collect();
    let mut creq = Vec::new();
    canonical_request(
        &mut creq,
        method,
        path,
        query,
        &borrowed,
        &payload_hash(payload),
    );
    signer.authorization(date, &signed.join(";"), &creq)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AWS Signature Version 4 test suite's shared context.
    const AK: &str = "AKIDEXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const WHEN: u64 = 1_440_938_160; // 2015-08-30T12:36:00Z

    fn suite_signer() -> Signer {
        Signer::new(AK, SK, "us-east-1", "service")
    }

    fn suite_authz(signed: &str, sig: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={signed}, Signature={sig}"
        )
    }

    #[test]
    fn amz_date_formats_utc() {
        assert_eq!(AmzDate::from_unix(WHEN).as_str(), "20150830T123600Z");
        assert_eq!(AmzDate::from_unix(WHEN).day(), "20150830");
        assert_eq!(AmzDate::from_unix(0).as_str(), "19700101T000000Z");
        // A leap day and the last second of a year.
        assert_eq!(AmzDate::from_unix(951_782_400).as_str(), "20000229T000000Z");
        assert_eq!(
            AmzDate::from_unix(1_704_067_199).as_str(),
            "20231231T235959Z"
        );
    }

    #[test]
    fn amz_date_parses_what_it_formats() {
        for unix in [0, WHEN, 951_782_400, 1_704_067_199, 4_102_444_800] {
            let d = AmzDate::from_unix(unix);
            assert_eq!(AmzDate::parse(d.as_str()), Some(d));
        }
        for bad in [
            "",
            "20150830",
            "20150230T000000Z",
            "20151330T000000Z",
            "2015083aT123600Z",
            "201é083T123600Z",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn get_vanilla() {
        let date = AmzDate::from_unix(WHEN);
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", date.as_str()),
        ];
        let got = authorization_for(&mut suite_signer(), &date, "GET", "/", "", &headers, b"");
        assert_eq!(
            got,
            suite_authz(
                "host;x-amz-date",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
    }

    #[test]
    fn post_vanilla_canonical_request_and_signature() {
        let date = AmzDate::from_unix(WHEN);
        let mut creq = Vec::new();
        canonical_request(
            &mut creq,
            "POST",
            "/",
            "",
            &[
                ("host", "example.amazonaws.com"),
                ("x-amz-date", date.as_str()),
            ],
            &payload_hash(b""),
        );
        assert_eq!(
            std::str::from_utf8(&creq).unwrap(),
            "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(Sha256::digest(&creq)),
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"
        );
        let sig = suite_signer().signature(&date, &creq);
        assert_eq!(
            &sig[..],
            b"5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn post_x_www_form_urlencoded_with_body() {
        let date = AmzDate::from_unix(WHEN);
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", date.as_str()),
        ];
        assert_eq!(
            &payload_hash(b"Param1=value1")[..],
            b"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        let got = authorization_for(
            &mut suite_signer(),
            &date,
            "POST",
            "/",
            "",
            &headers,
            b"Param1=value1",
        );
        assert_eq!(
            got,
            suite_authz(
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        );
    }

    #[test]
    fn post_header_value_case_and_cached_key_reuse() {
        let date = AmzDate::from_unix(WHEN);
        let headers = [
            ("My-Header1", "VALUE1"),
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", date.as_str()),
        ];
        let mut signer = suite_signer();
        // Sign something on another day first, so the cached key must be replaced.
        let other = AmzDate::from_unix(WHEN + 86_400);
        let _ = authorization_for(&mut signer, &other, "GET", "/", "", &headers, b"");
        for _ in 0..2 {
            let got = authorization_for(&mut signer, &date, "POST", "/", "", &headers, b"");
            assert_eq!(
                got,
                suite_authz(
                    "host;my-header1;x-amz-date",
                    "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"
                )
            );
        }
    }
}
