//! A minimal HTTP/1.1 client: endpoint parsing, and one keep-alive connection that sends a
//! prebuilt request and reads one response (Content-Length, chunked, or until close).
//! Nothing read from the network is trusted: malformed or oversized responses are errors,
//! never panics.

use std::io;
use std::net::SocketAddr;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response accepted (a Scan page is far smaller).
const MAX_RESPONSE: usize = 64 << 20;
const INITIAL_BUFFER: usize = 16 << 10;
const MAX_HEADERS: usize = 64;

/// Where requests go: an `http://host[:port]` URL, resolved.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The URL as given (without a trailing slash).
    pub url: String,
    /// `host[:port]` exactly as in the URL: the Host header, and what is signed.
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

impl Endpoint {
    /// Parses and resolves `url` (`http://host[:port][/]`).
    pub async fn resolve(url: &str) -> anyhow::Result<Endpoint> {
        let host = parse_url(url)?;
        let with_port = if has_port(&host) {
            host.clone()
        } else {
            format!("{host}:80")
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&with_port)
            .await
            .with_context(|| format!("cannot resolve the endpoint host {with_port}"))?
            .collect();
        if addrs.is_empty() {
            bail!("the endpoint host {with_port} resolves to no address");
        }
        Ok(Endpoint {
            url: url.trim_end_matches('/').to_owned(),
            host,
            addrs,
        })
    }

    /// An endpoint for a known local address.
    pub fn local(addr: SocketAddr) -> Endpoint {
        Endpoint {
            url: format!("http://{addr}"),
            host: addr.to_string(),
            addrs: vec![addr],
        }
    }

    /// Opens a connection (first address that answers), with TCP_NODELAY.
    pub async fn connect(&self) -> io::Result<Conn> {
        let mut last = None;
        for addr in &self.addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(Conn::new(stream));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
    }

    /// Connects once to say clearly what is wrong before any work starts.
    pub async fn check(&self) -> anyhow::Result<()> {
        match self.connect().await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => bail!(
                "cannot connect to {url}: connection refused (is the server running at {url}?)",
                url = self.url
            ),
            Err(e) => bail!("cannot connect to {}: {e}", self.url),
        }
    }
}

/// The `host[:port]` of an `http://` URL.
fn parse_url(url: &str) -> anyhow::Result<String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        bail!("{url}: https endpoints are not supported (TLS is out of scope); use http://");
    }
    let Some(rest) = lower.starts_with("http://").then(|| &url[7..]) else {
        bail!("{url}: the endpoint must be an http:// URL, like http://127.0.0.1:8000");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !(path.is_empty() || path == "/") {
        bail!("{url}: the endpoint must not have a path (DynamoDB requests go to /)");
    }
    if authority.is_empty() || authority.contains('@') {
        bail!("{url}: the endpoint needs a host (and no user info), like http://127.0.0.1:8000");
    }
    Ok(authority.to_owned())
}

fn has_port(authority: &str) -> bool {
    // The port follows the last ':' outside an IPv6 literal's brackets.
    let after_bracket = authority.rfind(']').map(|i| i + 1).unwrap_or(0);
    authority[after_bracket..].contains(':')
}

/// Why a request on a connection failed. Each kind is counted separately in the report.
#[derive(Debug)]
pub enum HttpError {
    Io(io::Error),
    /// The server closed the connection before a whole response arrived.
    Closed,
    /// The response was not HTTP/1.x as understood here.
    Malformed(&'static str),
}

impl HttpError {
    /// A short stable name for error tables.
    pub fn kind(&self) -> String {
        match self {
            HttpError::Io(e) => format!("io: {:?}", e.kind()),
            HttpError::Closed => "connection closed by server".into(),
            HttpError::Malformed(what) => format!("bad response: {what}"),
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Io(e) => write!(f, "{e}"),
            HttpError::Closed => write!(f, "connection closed by the server mid-response"),
            HttpError::Malformed(what) => write!(f, "malformed HTTP response: {what}"),
        }
    }
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> Self {
        HttpError::Io(e)
    }
}

#[derive(Clone, Copy, Debug)]
enum Body {
    /// A range of the read buffer.
    InBuffer(usize, usize),
    /// Decoded chunks in `chunked`.
    Chunked,
}

/// One keep-alive HTTP/1.1 connection with one request in flight at a time.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    body: Body,
    chunked: Vec<u8>,
    reusable: bool,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            body: Body::InBuffer(0, 0),
            chunked: Vec::new(),
            reusable: true,
        }
    }

    /// Whether the server let the connection live on after the last response.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// The last response's body.
    pub fn body(&self) -> &[u8] {
        match self.body {
            Body::InBuffer(a, b) => &self.buf[a..b],
            Body::Chunked => &self.chunked,
        }
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads the response; returns its
    /// status, the body is [`Conn::body`].
    pub async fn round_trip(&mut self, request: &[u8]) -> Result<u16, HttpError> {
        self.stream.write_all(request).await?;
        self.read_response().await
    }

    /// Reads more bytes after `end`; errors on EOF.
    async fn fill(&mut self) -> Result<(), HttpError> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() >= MAX_RESPONSE {
                return Err(HttpError::Malformed("response too large"));
            } else {
                let grown = (self.buf.len() * 2).min(MAX_RESPONSE);
                self.buf.resize(grown, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(HttpError::Closed);
        }
        self.end += n;
        Ok(())
    }

    async fn read_response(&mut self) -> Result<u16, HttpError> {
        // Whatever the last response left (nothing, without pipelining) starts at 0.
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        loop {
            let head = parse_head(&self.buf[self.start..self.end])?;
            let Some(head) = head else {
                self.fill().await?;
                continue;
            };
            let body_start = self.start + head.len;
            self.reusable = head.keep_alive;
            if (100..200).contains(&head.status) {
                // An interim response (100 Continue): skip it, read the real one.
                self.start = body_start;
                continue;
            }
            match head.framing {
                Framing::Length(len) => {
                    if len > MAX_RESPONSE {
                        return Err(HttpError::Malformed("response too large"));
                    }
                    // Make room up front so a big body needs no repeated compaction.
                    if body_start + len > self.buf.len() {
                        self.buf.copy_within(self.start..self.end, 0);
                        self.end -= self.start;
                        let shift = self.start;
                        self.start = 0;
                        let need = body_start - shift + len;
                        if need > self.buf.len() {
                            self.buf.resize(need, 0);
                        }
                        return self
                            .finish_length(body_start - shift, len, head.status)
                            .await;
                    }
                    return self.finish_length(body_start, len, head.status).await;
                }
                Framing::Chunked => {
                    self.start = body_start;
                    self.read_chunked().await?;
                    return Ok(head.status);
                }
                Framing::UntilClose => {
                    self.reusable = false;
                    self.start = body_start;
                    loop {
                        match self.fill().await {
                            Ok(()) => {}
                            Err(HttpError::Closed) => break,
                            Err(e) => return Err(e),
                        }
                    }
                    self.body = Body::InBuffer(self.start, self.end);
                    self.start = self.end;
                    return Ok(head.status);
                }
            }
        }
    }

    async fn finish_length(
        &mut self,
        body_start: usize,
        len: usize,
        status: u16,
    ) -> Result<u16, HttpError> {
        while self.end < body_start + len {
            self.fill().await?;
        }
        self.body = Body::InBuffer(body_start, body_start + len);
        self.start = body_start + len;
        Ok(status)
    }

    /// Decodes a chunked body starting at `start` into `chunked`.
    async fn read_chunked(&mut self) -> Result<(), HttpError> {
        self.chunked.clear();
        loop {
            let line_end = loop {
                if let Some(i) = find_crlf(&self.buf[self.start..self.end]) {
                    break self.start + i;
                }
                if self.end - self.start > 4096 {
                    return Err(HttpError::Malformed("chunk size line too long"));
                }
                self.fill().await?;
            };
            let line = &self.buf[self.start..line_end];
            let size_hex = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let size = std::str::from_utf8(size_hex)
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or(HttpError::Malformed("bad chunk size"))?;
            self.start = line_end + 2;
            if size == 0 {
                // Trailers (ignored) up to an empty line.
                loop {
                    let line_end = loop {
                        if let Some(i) = find_crlf(&self.buf[self.start..self.end]) {
                            break self.start + i;
                        }
                        self.fill().await?;
                    };
                    let empty = line_end == self.start;
                    self.start = line_end + 2;
                    if empty {
                        self.body = Body::Chunked;
                        return Ok(());
                    }
                }
            }
            if size > MAX_RESPONSE || self.chunked.len() + size > MAX_RESPONSE {
                return Err(HttpError::Malformed("response too large"));
            }
            while self.end - self.start < size + 2 {
                self.fill().await?;
            }
            self.chunked
                .extend_from_slice(&self.buf[self.start..self.start + size]);
            if &self.buf[self.start + size..self.start + size + 2] != b"\r\n" {
                return Err(HttpError::Malformed("chunk not followed by CRLF"));
            }
            self.start += size + 2;
        }
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    len: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

/// Parses a response head; `None` while incomplete.
fn parse_head(bytes: &[u8]) -> Result<Option<Head>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if bytes.len() > 64 << 10 {
                return Err(HttpError::Malformed("response head too large"));
            }
            return Ok(None);
        }
        Err(_) => return Err(HttpError::Malformed("unparsable status line or headers")),
    };
    let status = resp.code.ok_or(HttpError::Malformed("no status"))?;
    let http10 = resp.version == Some(0);
    let mut keep_alive = !http10;
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or(HttpError::Malformed("bad content-length"))?;
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .split(|&b| b == b',')
                .next_back()
                .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some(Head {
        len,
        status,
        framing,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000"
        );
        assert_eq!(parse_url("HTTP://localhost/").unwrap(), "localhost");
        assert_eq!(parse_url("http://[::1]:9/").unwrap(), "[::1]:9");
        assert!(has_port("[::1]:9") && !has_port("[::1]") && !has_port("example.com"));
        let e = parse_url("https://x").unwrap_err().to_string();
        assert!(e.contains("https endpoints are not supported"), "{e}");
        assert!(parse_url("127.0.0.1:8000").is_err());
        assert!(parse_url("http://h/path").is_err());
        assert!(parse_url("http://").is_err());
    }

    #[test]
    fn heads() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.len, h.keep_alive), (200, 38, true));
        assert_eq!(h.framing, Framing::Length(2));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
            .unwrap()
            .is_none());
        let h = parse_head(b"HTTP/1.0 400 Bad\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    /// Serves `responses` (raw bytes, one per request read) on one connection.
    async fn serve_raw(responses: Vec<&'static [u8]>) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for r in responses {
                let _ = s.read(&mut buf).await.unwrap();
                // Dribble the response out to exercise partial reads.
                for piece in r.chunks(7) {
                    s.write_all(piece).await.unwrap();
                    s.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
        });
        Endpoint::local(addr)
    }

    #[tokio::test]
    async fn reads_length_chunked_and_close_delimited_bodies() {
        let ep = serve_raw(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}",
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n5\r\n\":1}\n\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nbye",
        ])
        .await;
        let mut c = ep.connect().await.unwrap();
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 200);
        assert_eq!(c.body(), b"{\"a\":\"bcd\"}");
        assert!(c.reusable());
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 400);
        assert_eq!(c.body(), b"{\"a\":1}\n");
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 200);
        assert_eq!(c.body(), b"");
        assert_eq!(c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap(), 500);
        assert_eq!(c.body(), b"bye");
        assert!(!c.reusable());
    }

    #[tokio::test]
    async fn absurd_chunk_size_is_an_error_not_a_panic() {
        let ep = serve_raw(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx",
        ])
        .await;
        let mut c = ep.connect().await.unwrap();
        let e = c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap_err();
        assert!(matches!(e, HttpError::Malformed(_)), "{e:?}");
    }

    #[tokio::test]
    async fn truncated_response_is_an_error_not_a_panic() {
        let ep = serve_raw(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"]).await;
        let mut c = ep.connect().await.unwrap();
        let e = c.round_trip(b"GET / HTTP/1.1\r\n\r\n").await.unwrap_err();
        assert!(matches!(e, HttpError::Closed), "{e:?}");
    }

    #[tokio::test]
    async fn refused_connection_says_what_to_check() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let e = Endpoint::local(addr).check().await.unwrap_err().to_string();
        assert!(
            e.contains("is the server running at http://127.0.0.1:"),
            "{e}"
        );
    }
}
