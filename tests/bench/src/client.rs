//! A DynamoDB JSON-protocol client for one worker: owns one keep-alive connection
//! (reconnecting after errors), signs each request (SigV4, cached day key and per-second
//! date), and classifies failures by DynamoDB error type, HTTP status or I/O error kind.

use std::sync::Arc;
use std::time::Duration;

use crate::http::{Conn, Endpoint, HttpError};
use crate::sigv4::{self, AmzDate, Signer};
use crate::workload::Target;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const SIGNED_HEADERS: &str = "content-type;host;x-amz-date;x-amz-target";

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// A non-200 answer: DynamoDB's error type (after '#' in `__type`), or `HTTP <status>`.
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    Http(HttpError),
    /// Connecting failed.
    Connect(std::io::Error),
    /// No whole response within the request timeout.
    Timeout,
}

impl CallError {
    /// The name errors are counted under.
    pub fn kind(&self) -> String {
        match self {
            CallError::Api { kind, .. } => kind.clone(),
            CallError::Http(e) => e.kind(),
            CallError::Connect(e) => format!("connect: {:?}", e.kind()),
            CallError::Timeout => "timeout".into(),
        }
    }

    pub fn is_api(&self, kind: &str) -> bool {
        matches!(self, CallError::Api { kind: k, .. } if k == kind)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Api {
                status,
                kind,
                message,
            } => {
                write!(f, "{kind} (HTTP {status})")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            CallError::Http(e) => write!(f, "{e}"),
            CallError::Connect(e) => write!(f, "cannot connect: {e}"),
            CallError::Timeout => write!(f, "no response within the request timeout"),
        }
    }
}

impl std::error::Error for CallError {}

/// Signing settings shared by all clients of a run.
#[derive(Clone)]
pub struct ClientConfig {
    pub endpoint: Arc<Endpoint>,
    pub signer: Signer,
    pub timeout: Duration,
}

/// One worker's client.
pub struct Client {
    endpoint: Arc<Endpoint>,
    signer: Signer,
    timeout: Duration,
    conn: Option<Conn>,
    date: AmzDate,
    /// Reused buffers: the canonical request and the whole HTTP request.
    canonical: Vec<u8>,
    request: Vec<u8>,
    /// "POST / HTTP/1.1\r\nHost: ...\r\nContent-Type: ...\r\nX-Amz-Target: "
    head_start: Vec<u8>,
    /// "/<region>/dynamodb/aws4_request, SignedHeaders=..., Signature="
    credential_tail: Vec<u8>,
}

impl Client {
    pub fn new(config: &ClientConfig) -> Client {
        let host = &config.endpoint.host;
        let s = &config.signer;
        Client {
            endpoint: config.endpoint.clone(),
            signer: config.signer.clone(),
            timeout: config.timeout,
            conn: None,
            date: AmzDate::now(),
            canonical: Vec::with_capacity(512),
            request: Vec::with_capacity(1024),
            head_start: format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Target: "
            )
            .into_bytes(),
            credential_tail: format!(
                "/{}/{}/aws4_request, SignedHeaders={SIGNED_HEADERS}, Signature=",
                s.region(),
                s.service()
            )
            .into_bytes(),
        }
    }

    /// The body of the last successful response.
    pub fn body(&self) -> &[u8] {
        self.conn.as_ref().map(|c| c.body()).unwrap_or(&[])
    }

    /// Sends one signed request; on success the response body is [`Client::body`].
    pub async fn call(&mut self, target: Target, body: &[u8]) -> Result<(), CallError> {
        // A connection the server closed after its last answer: open a new one.
        if self.conn.as_ref().is_some_and(|c| !c.reusable()) {
            self.conn = None;
        }
        self.build(target, body);
        let result = match tokio::time::timeout(self.timeout, self.send()).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout),
        };
        if let Err(e) = &result {
            if !matches!(e, CallError::Api { .. }) {
                self.conn = None;
            }
        }
        result
    }

    /// Writes the whole signed HTTP request into `self.request`.
    fn build(&mut self, target: Target, body: &[u8]) {
        let now = sigv4::unix_now();
        if now != self.date.unix() {
            self.date = AmzDate::from_unix(now);
        }
        let date = self.date;
        let target_header = target.header();

        self.canonical.clear();
        sigv4::canonical_request(
            &mut self.canonical,
            "POST",
            "/",
            "",
            &[
                ("content-type", CONTENT_TYPE),
                ("host", &self.endpoint.host),
                ("x-amz-date", date.as_str()),
                ("x-amz-target", target_header),
            ],
            &sigv4::payload_hash(body),
        );
        let signature = self.signer.signature(&date, &self.canonical);

        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(&self.head_start);
        r.extend_from_slice(target_header.as_bytes());
        r.extend_from_slice(b"\r\nX-Amz-Date: ");
        r.extend_from_slice(date.as_str().as_bytes());
        r.extend_from_slice(b"\r\nAuthorization: AWS4-HMAC-SHA256 Credential=");
        r.extend_from_slice(self.signer.access_key().as_bytes());
        r.push(b'/');
        r.extend_from_slice(date.day().as_bytes());
        r.extend_from_slice(&self.credential_tail);
        r.extend_from_slice(&signature);
        r.extend_from_slice(b"\r\nContent-Length: ");
        r.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
        r.extend_from_slice(body);
    }

    async fn send(&mut self) -> Result<(), CallError> {
        if self.conn.is_none() {
            let conn = self.endpoint.connect().await.map_err(CallError::Connect)?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let status = conn
            .round_trip(&self.request)
            .await
            .map_err(CallError::Http)?;
        if status == 200 {
            Ok(())
        } else {
            Err(api_error(status, conn.body()))
        }
    }
}

/// Classifies a non-200 response by its `__type` (the part after '#'), else its status.
pub fn api_error(status: u16, body: &[u8]) -> CallError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (kind, message) = match parsed {
        Some(ErrorBody { kind, message }) => (kind, message.unwrap_or_default()),
        None => (
            None,
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    let kind = match kind {
        Some(k) if !k.is_empty() => k.rsplit('#').next().unwrap_or(&k).to_owned(),
        _ => format!("HTTP {status}"),
    };
    CallError::Api {
        status,
        kind,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_classified() {
        let e = api_error(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        );
        assert_eq!(e.kind(), "ConditionalCheckFailedException");
        assert!(e.to_string().contains("The conditional request failed"));
        assert_eq!(
            api_error(400, br#"{"__type":"ValidationException","Message":"m"}"#).kind(),
            "ValidationException"
        );
        assert_eq!(api_error(503, b"<html>busy</html>").kind(), "HTTP 503");
        assert_eq!(api_error(500, b"").kind(), "HTTP 500");
    }

    #[test]
    fn requests_are_signed_over_what_is_sent() {
        let endpoint = Arc::new(Endpoint::local("127.0.0.1:8000".parse().unwrap()));
        let mut client = Client::new(&ClientConfig {
            endpoint,
            signer: Signer::new("AK", "SK", "eu-west-1", "dynamodb"),
            timeout: Duration::from_secs(1),
        });
        let body = br#"{"TableName":"t","Key":{"pk":{"S":"k1"}}}"#;
        client.build(Target::GetItem, body);
        let text = String::from_utf8(client.request.clone()).unwrap();
        let (head, sent_body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(sent_body.as_bytes(), body);
        let mut lines = head.split("\r\n");
        assert_eq!(lines.next(), Some("POST / HTTP/1.1"));
        let headers: Vec<(&str, &str)> = lines.map(|l| l.split_once(": ").unwrap()).collect();
        let get = |n: &str| headers.iter().find(|(k, _)| *k == n).unwrap().1;
        assert_eq!(get("Host"), "127.0.0.1:8000");
        assert_eq!(get("X-Amz-Target"), "DynamoDB_20120810.GetItem");
        assert_eq!(get("Content-Type"), CONTENT_TYPE);
        assert_eq!(get("Content-Length"), body.len().to_string());
        // Re-sign independently from the headers as sent: the general path must agree.
        let date = client.date;
        assert_eq!(get("X-Amz-Date"), date.as_str());
        let signed: Vec<(&str, &str)> = headers
            .iter()
            .copied()
            .filter(|(k, _)| !matches!(*k, "Authorization" | "Content-Length"))
            .collect();
        let expected = sigv4::authorization_for(
            &mut Signer::new("AK", "SK", "eu-west-1", "dynamodb"),
            &date,
            "POST",
            "/",
            "",
            &signed,
            body,
        );
        assert_eq!(get("Authorization"), expected);
        assert!(expected.contains(&format!(
            "Credential=AK/{}/eu-west-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=",
            date.day()
        )));
    }
}
