//! Test harness: starts a real `rotor` process on a free loopback port and builds an
//! AWS SDK client for it.
//!
//! The binary is `$ROTOR_BIN`, or `rotor` in the target directory the tests were built
//! in (the test command builds it first).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};

pub mod cluster;
pub mod index_rounds;

/// A running `rotor dev` with its own data directory.
pub struct Rotor {
    child: Option<Child>,
    pub port: u16,
    /// First of the three node ports of the local cluster.
    pub node_port: u16,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn rotor_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ROTOR_BIN") {
        return PathBuf::from(p);
    }
    // Test executables live in `<target>/debug/deps`, the binary in `<target>/debug`.
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("rotor")))
        .unwrap_or_else(|| PathBuf::from("target/debug/rotor"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// The first of `n` consecutive free loopback ports.
pub fn free_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let base = free_port();
        if base.checked_add(n).is_none() {
            continue;
        }
        let all_free = (1..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no {n} consecutive free loopback ports")
}

/// Collects a child's stdout and stderr lines.
pub(crate) fn capture_output(child: &mut Child) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut l) = log.lock() {
                    l.push(line);
                }
            }
        });
    }
    log
}

/// An AWS SDK client for `endpoint` (dummy credentials, plain HTTP), with the SDK's
/// standard retries.
pub fn sdk_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    sdk_client_with_attempts(endpoint, 3)
}

/// An AWS SDK client making up to `max_attempts` attempts per request (standard retry
/// mode: exponential backoff from 100 ms on throttling, 5xx and connection errors).
pub fn sdk_client_with_attempts(endpoint: &str, max_attempts: u32) -> aws_sdk_dynamodb::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let retry = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(Duration::from_millis(100));
    let config = aws_sdk_dynamodb::Config::builder()
        .retry_config(retry)
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "static"))
        .http_client(http)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

impl Rotor {
    /// Starts `rotor dev` on a fresh data directory.
    pub fn start() -> Rotor {
        Rotor::start_with(&[])
    }

    /// Starts `rotor dev` on a fresh data directory with extra arguments.
    pub fn start_with(args: &[&str]) -> Rotor {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut r = Rotor::start_on_with(&dir, free_port(), free_ports(3), args);
        r._temp = Some(temp);
        r
    }

    /// Starts `rotor dev` on an existing data directory and ports.
    pub fn start_on(data_dir: &Path, port: u16, node_port: u16) -> Rotor {
        Rotor::start_on_with(data_dir, port, node_port, &[])
    }

    fn start_on_with(data_dir: &Path, port: u16, node_port: u16, args: &[&str]) -> Rotor {
        let bin = rotor_bin();
        assert!(
            bin.exists(),
            "{} is missing: build it with `cargo build -p rotor-node`",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args(["dev", "--port", &port.to_string()])
            .args(["--node-port", &node_port.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rotor");
        let log = capture_output(&mut child);
        let r = Rotor {
            child: Some(child),
            port,
            node_port,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            log,
        };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "rotor did not start listening within 30 s; its output:\n{}",
            self.output()
        );
    }

    pub fn output(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An AWS SDK client for this server (dummy credentials, plain HTTP).
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        sdk_client(&self.endpoint())
    }

    /// Whether the process is still running (it has not crashed or exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `kill -9`: nothing gets a chance to flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the process and starts a new one on the same data directory and port.
    pub fn restart_after_kill9(mut self) -> Rotor {
        self.kill9();
        let mut next = Rotor::start_on(&self.data_dir, self.port, self.node_port);
        next._temp = self._temp.take();
        next
    }
}

impl Drop for Rotor {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A CreateTable request: `pk` (S) and, with `sort`, `sk` (N); on-demand.
pub fn create_table_request(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    sort: bool,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        );
    if sort {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            );
    }
    req
}

/// Creates a table as `create_table_request` describes it.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, sort: bool) {
    create_table_request(client, name, sort)
        .send()
        .await
        .expect("create table");
}

/// Puts the items `{prefix}0` to `{prefix}{count - 1}`, each with `v` its number, one by
/// one; panics on the first failure.
pub async fn put_numbered(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
    count: u64,
) {
    for i in 0..count {
        client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(format!("{prefix}{i}")))
            .item("v", AttributeValue::N(i.to_string()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {prefix}{i}: {e:?}"));
    }
}

/// A client writing numbered items (as `put_numbered`) in the background, one every
/// `pause`, `count` at most and for `max_time` at most. Resolves to how many it tried
/// and the failures it saw.
pub fn spawn_numbered_writer(
    client: aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
    count: u64,
    pause: Duration,
    max_time: Duration,
) -> tokio::task::JoinHandle<(u64, Vec<String>)> {
    let (table, prefix) = (table.to_owned(), prefix.to_owned());
    tokio::spawn(async move {
        let started = Instant::now();
        let mut failures = Vec::new();
        let mut tried = 0;
        while tried < count && started.elapsed() < max_time {
            let put = client
                .put_item()
                .table_name(&table)
                .item("pk", AttributeValue::S(format!("{prefix}{tried}")))
                .item("v", AttributeValue::N(tried.to_string()))
                .send()
                .await;
            if let Err(e) = put {
                failures.push(format!("{prefix}{tried}: {e:?}"));
            }
            tried += 1;
            tokio::time::sleep(pause).await;
        }
        (tried, failures)
    })
}

/// The numbered items (as `put_numbered` wrote them) that a strongly consistent read
/// does not find with their number.
pub async fn missing_numbered(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
    count: u64,
) -> Vec<String> {
    missing_numbered_read(client, table, prefix, count, true).await
}

/// The numbered items that a read (strongly consistent or not) does not find with their
/// number.
pub async fn missing_numbered_read(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
    count: u64,
    consistent: bool,
) -> Vec<String> {
    let mut missing = Vec::new();
    for i in 0..count {
        let got = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(format!("{prefix}{i}")))
            .consistent_read(consistent)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {prefix}{i}: {e:?}"))
            .item;
        let v = got.and_then(|item| item.get("v").and_then(|v| v.as_n().ok()).cloned());
        if v != Some(i.to_string()) {
            missing.push(format!("{prefix}{i}: {v:?}"));
        }
    }
    missing
}

/// One plain HTTP/1.1 request (blocking; e.g. to `/_rotor/faults`); returns the status
/// and the body.
pub fn http(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
