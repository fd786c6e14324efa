//! A minimal in-process HTTP/1.1 server (tokio, keep-alive, pipelining-safe) that hands
//! each request to a function. `--ceiling` runs it with [`ceiling_handler`] (every request
//! answered `200 {}`) to measure the load generator's own limit; tests run it with fake
//! DynamoDB handlers.

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const MAX_HEADERS: usize = 64;
const MAX_REQUEST: usize = 16 << 20;

/// One request as the handler sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    headers: &'a [httparse::Header<'a>],
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The first header called `name` (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    }

    /// The operation name after `DynamoDB_20120810.` in `X-Amz-Target`, or "".
    pub fn target(&self) -> &str {
        self.header("x-amz-target")
            .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
            .unwrap_or("")
    }

    /// All headers as (name, value) pairs (values lossily decoded).
    pub fn headers(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.headers
            .iter()
            .map(|h| (h.name, String::from_utf8_lossy(h.value)))
            .collect()
    }
}

/// What the handler answers. Sent with the DynamoDB JSON content type.
pub struct Response {
    pub status: u16,
    pub body: Cow<'static, [u8]>,
}

impl Response {
    pub fn ok(body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response {
            status: 200,
            body: body.into(),
        }
    }

    /// A DynamoDB-style error: status 400 and `{"__type": "...#<kind>", "message": ...}`.
    pub fn error(kind: &str, message: &str) -> Response {
        let body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
            "message": message,
        });
        Response {
            status: 400,
            body: body.to_string().into_bytes().into(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Request<'_>) -> Response + Send + Sync>;

/// The `--ceiling` handler: `200 {}` to everything, without looking.
pub fn ceiling_handler() -> Handler {
    Arc::new(|_| Response::ok(&b"{}"[..]))
}

/// A running server; stops accepting when dropped (open connections end when their
/// clients close them).
pub struct Server {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Server {
    /// Listens on 127.0.0.1 on a free port.
    pub async fn start(handler: Handler) -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let _ = serve_connection(stream, handler).await;
                        });
                    }
                    // Out of file descriptors and the like: back off briefly.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                }
            }
        });
        Ok(Server { addr, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn write_response(out: &mut Vec<u8>, resp: &Response, close: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(resp.status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(resp.status).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(resp.body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"\r\nConnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&resp.body);
}

/// A parsed request head's body length and whether the client wants to close.
fn framing(req: &httparse::Request<'_, '_>) -> Result<(usize, bool), &'static str> {
    let mut len = 0;
    let mut close = req.version == Some(0);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or("bad content-length")?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked requests are not supported");
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    if len > MAX_REQUEST {
        return Err("request too large");
    }
    Ok((len, close))
}

fn bad_request(out: &mut Vec<u8>, what: &'static str) {
    let resp = Response {
        status: 400,
        body: Cow::Borrowed(what.as_bytes()),
    };
    write_response(out, &resp, true);
}

async fn serve_connection(mut stream: TcpStream, handler: Handler) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 << 10];
    let (mut start, mut end) = (0usize, 0usize);
    let mut out = Vec::with_capacity(4096);
    loop {
        // Answer every complete request already buffered, then write them all at once.
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            let head = match req.parse(&buf[start..end]) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    bad_request(&mut out, "unparsable request");
                    close = true;
                    break;
                }
            };
            let (len, wants_close) = match framing(&req) {
                Ok(f) => f,
                Err(what) => {
                    bad_request(&mut out, what);
                    close = true;
                    break;
                }
            };
            if end - start < head + len {
                break;
            }
            let request = Request {
                method: req.method.unwrap_or(""),
                path: req.path.unwrap_or(""),
                headers: req.headers,
                body: &buf[start + head..start + head + len],
            };
            let resp = handler(&request);
            write_response(&mut out, &resp, wants_close);
            start += head + len;
            if wants_close {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close {
            return Ok(());
        }
        if start == end {
            start = 0;
            end = 0;
        } else if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            } else if buf.len() < MAX_REQUEST {
                buf.resize(buf.len() * 2, 0);
            } else {
                return Ok(());
            }
        }
        let n = stream.read(&mut buf[end..]).await?;
        if n == 0 {
            return Ok(());
        }
        end += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_pipelined_and_split_requests() {
        let server = Server::start(ceiling_handler()).await.unwrap();
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
        let mut two = req.to_vec();
        two.extend_from_slice(req);
        s.write_all(&two).await.unwrap();
        s.write_all(&req[..10]).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        s.write_all(&req[10..]).await.unwrap();
        let one = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}";
        let mut got = vec![0u8; one.len() * 3];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [&one[..], &one[..], &one[..]].concat());
    }

    #[tokio::test]
    async fn rejects_garbage_and_closes() {
        let server = Server::start(ceiling_handler()).await.unwrap();
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(b"\x00\x01 nonsense\r\n\r\n").await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert!(got.starts_with(b"HTTP/1.1 400 "), "{got:?}");
    }
}
