//! Hostile input against a running `rotor dev`: the classic attacks, sent raw over TCP.
//! Each must get DynamoDB's error (or, for clients too slow to send, a closed
//! connection after the read timeout); the process must stay up and keep serving
//! others, and nothing may be written.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rotor_tests::Rotor;
use serde_json::{json, Value as Json};

const TABLE: &str = "hostile";
/// The read timeout the server is started with (`--read-timeout-secs`).
const READ_TIMEOUT_SECS: u64 = 2;

/// One HTTP response: status and body.
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or(Json::Null)
    }

    /// `__type` after the `#`.
    fn error_type(&self) -> String {
        let t = self.json()["__type"].as_str().unwrap_or("").to_owned();
        t.rsplit('#').next().unwrap_or("").to_owned()
    }

    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_owned()
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Reads one response (Content-Length framed) or whatever arrives before EOF.
fn read_reply(s: &mut TcpStream) -> Option<Reply> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    let end = find(&buf, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Reply {
        status,
        body: String::from_utf8_lossy(&buf[end + 4..]).to_string(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends raw bytes: `headers` as given (each `Name: value`), then `body`.
fn raw(port: u16, headers: &[String], body: &[u8]) -> Option<Reply> {
    let mut s = connect(port);
    let mut req = String::from("POST / HTTP/1.1\r\nHost: localhost\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    // A server that refuses early may close before the body is all sent: then read what
    // it answered, if anything arrived.
    let _ = s.write_all(req.as_bytes()).and_then(|()| s.write_all(body));
    read_reply(&mut s)
}

fn standard_headers(op: &str, len: usize) -> Vec<String> {
    vec![
        format!("X-Amz-Target: DynamoDB_20120810.{op}"),
        "Content-Type: application/x-amz-json-1.0".into(),
        "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0".into(),
        format!("Content-Length: {len}"),
    ]
}

fn call_bytes(port: u16, op: &str, body: &[u8]) -> Reply {
    raw(port, &standard_headers(op, body.len()), body).expect("a response")
}

fn call(port: u16, op: &str, body: &Json) -> Reply {
    call_bytes(port, op, body.to_string().as_bytes())
}

/// Asserts a 400 ValidationException whose message contains `part`.
#[track_caller]
fn assert_validation(reply: &Reply, part: &str) {
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.error_type(), "ValidationException", "{}", reply.body);
    assert!(
        reply.message().contains(part),
        "expected {part:?} in {:?}",
        reply.message()
    );
}

fn put(item: Json) -> Json {
    json!({"TableName": TABLE, "Item": item})
}

fn conditional_put(condition: &str) -> Json {
    json!({
        "TableName": TABLE,
        "Item": {"pk": {"S": "victim"}, "v": {"N": "2"}},
        "ConditionExpression": condition,
        "ExpressionAttributeValues": {":v": {"N": "1"}},
    })
}

/// The server still answers a well-formed request, on a fresh connection.
#[track_caller]
fn assert_serving(port: u16) {
    let reply = call(
        port,
        "GetItem",
        &json!({"TableName": TABLE, "Key": {"pk": {"S": "victim"}}, "ConsistentRead": true}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["Item"]["v"]["N"], "1", "{}", reply.body);
}

fn setup() -> Rotor {
    let rotor = Rotor::start_with(&["--read-timeout-secs", &READ_TIMEOUT_SECS.to_string()]);
    let create = json!({
        "TableName": TABLE,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    });
    let reply = call(rotor.port, "CreateTable", &create);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = call(
        rotor.port,
        "PutItem",
        &put(json!({"pk": {"S": "victim"}, "v": {"N": "1"}})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    rotor
}

/// Every key in the table, by a strongly consistent Scan.
fn keys(port: u16) -> Vec<String> {
    let reply = call(
        port,
        "Scan",
        &json!({"TableName": TABLE, "ConsistentRead": true}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut keys: Vec<String> = reply.json()["Items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["pk"]["S"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn hostile_expressions_values_and_bodies_get_dynamodb_errors() {
    let mut rotor = setup();
    let port = rotor.port;

    // Expressions: deep nesting, long chains, over 4 KB, too deep a path.
    let conditions = [
        (
            format!("{}a = :v{}", "(".repeat(1000), ")".repeat(1000)),
            "The expression has redundant parentheses;",
        ),
        (
            format!("{}a = :v", "NOT ".repeat(1000)),
            "The expression contains too many operators; operator count: 301",
        ),
        (vec!["a=:v"; 400].join(" AND "), "too many operators"),
        (
            format!("a = :v OR b = :v{}", " ".repeat(5000)),
            "Expression size has exceeded the maximum allowed size",
        ),
        (
            format!("{} = :v", vec!["a"; 40].join(".")),
            "The document path has too many nesting levels",
        ),
    ];
    for (condition, part) in &conditions {
        assert_validation(&call(port, "PutItem", &conditional_put(condition)), part);
    }
    let projection = (0..2000)
        .map(|i| format!("p{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let reply = call(
        port,
        "GetItem",
        &json!({"TableName": TABLE, "Key": {"pk": {"S": "victim"}}, "ProjectionExpression": projection}),
    );
    assert_validation(
        &reply,
        "Expression size has exceeded the maximum allowed size",
    );
    assert_serving(port);

    // Sets, lists and maps: huge, duplicated, too deep; names too long.
    let big_set: Vec<String> = (0..200_000).map(|i| format!("element-{i}")).collect();
    let mut dup_set: Vec<String> = (0..100_000).map(|i| format!("e{i}")).collect();
    dup_set.push("e0".into());
    let list: Vec<Json> = (0..300_000).map(|_| json!({"NULL": true})).collect();
    let mut nested = json!({"S": "x"});
    for _ in 0..40 {
        nested = json!({"M": {"m": nested}});
    }
    let items = [
        (
            json!({"SS": big_set}),
            "Item size has exceeded the maximum allowed size",
        ),
        (json!({"SS": dup_set}), "contains duplicates"),
        (
            json!({"L": list}),
            "Item size has exceeded the maximum allowed size",
        ),
        (nested, "Nesting Levels have exceeded supported limits"),
    ];
    for (value, part) in items {
        let reply = call(
            port,
            "PutItem",
            &put(json!({"pk": {"S": "value"}, "v": value})),
        );
        assert_validation(&reply, part);
    }
    // ADD of a huge set (linear set union, then the item is too large); substitutions
    // over 2 MB in all; a placeholder over 255 bytes.
    let add_set: Vec<String> = (0..200_000).map(|i| format!("a{i}")).collect();
    let big_values: serde_json::Map<String, Json> = (0..3)
        .map(|i| (format!(":v{i}"), json!({"S": "x".repeat(800 * 1024)})))
        .collect();
    let long_key = format!("#{}", "k".repeat(300));
    let updates = [
        (
            json!({"UpdateExpression": "ADD s :s", "ExpressionAttributeValues": {":s": {"SS": add_set}}}),
            "Item size to update has exceeded the maximum allowed size",
        ),
        (
            json!({"UpdateExpression": "SET a = :v0, b = :v1, c = :v2", "ExpressionAttributeValues": big_values}),
            "ExpressionAttributeValues exceeds max size",
        ),
        (
            json!({
                "UpdateExpression": format!("SET {long_key} = :v"),
                "ExpressionAttributeNames": {long_key.clone(): "a"},
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            }),
            "contains a key that is too long",
        ),
    ];
    for (mut request, part) in updates {
        request["TableName"] = json!(TABLE);
        request["Key"] = json!({"pk": {"S": "update"}});
        assert_validation(&call(port, "UpdateItem", &request), part);
    }
    let long_name = "n".repeat(70_000);
    let reply = call(
        port,
        "PutItem",
        &put(json!({"pk": {"S": "name"}, long_name: {"S": "x"}})),
    );
    assert_validation(
        &reply,
        "Attribute name is too large, must be less than 65536 bytes",
    );
    assert_serving(port);

    // Items at the limits: 400 KB exactly is stored; a byte more is not.
    let filler = 400 * 1024 - "pk".len() - "max".len() - "f".len();
    let reply = call(
        port,
        "PutItem",
        &put(json!({"pk": {"S": "max"}, "f": {"S": "x".repeat(filler)}})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = call(
        port,
        "PutItem",
        &put(json!({"pk": {"S": "over"}, "f": {"S": "x".repeat(filler + 1)}})),
    );
    assert_validation(&reply, "Item size has exceeded the maximum allowed size");
    let key_too_long = "k".repeat(2049);
    let reply = call(port, "PutItem", &put(json!({"pk": {"S": key_too_long}})));
    assert_validation(
        &reply,
        "Size of hashkey has exceeded the maximum size limit",
    );

    // Numbers at and past 38 digits and the exponent range.
    let digits38 = "9".repeat(38);
    let reply = call(
        port,
        "PutItem",
        &put(json!({"pk": {"S": "n38"}, "n": {"N": digits38}})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    for (n, part) in [
        (
            "9".repeat(39),
            "Attempting to store more than 38 significant digits in a Number",
        ),
        (
            "1".repeat(100_000),
            "Attempting to store more than 38 significant digits",
        ),
        ("1E+126".to_owned(), "Number overflow"),
        ("1E-131".to_owned(), "Number underflow"),
        ("1E99999999999999999999".to_owned(), "Number overflow"),
        (
            "--1".to_owned(),
            "A value provided cannot be converted into a number",
        ),
    ] {
        let reply = call(
            port,
            "PutItem",
            &put(json!({"pk": {"S": "num"}, "n": {"N": n}})),
        );
        assert_validation(&reply, part);
    }
    assert_serving(port);

    // Bodies: invalid UTF-8, invalid, deeply nested and truncated JSON, too large.
    let mut bad_utf8 = br#"{"TableName": "hostile", "Key": {"pk": {"S": ""#.to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad_utf8.extend_from_slice(br#""}}}"#);
    for body in [
        bad_utf8,
        b"{not json".to_vec(),
        b"[1, 2, 3]".to_vec(),
        "[".repeat(100_000).into_bytes(),
        br#"{"TableName": "hostile", "Key": {"pk""#.to_vec(),
        Vec::new(),
    ] {
        let reply = call_bytes(port, "GetItem", &body);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(
            reply.error_type(),
            "SerializationException",
            "{}",
            reply.body
        );
    }
    // Over 16 MB: a 413, unless the connection was closed before the client could read
    // it (the server does not read a body it refuses).
    let huge = vec![b' '; 17 * 1024 * 1024];
    let reply = raw(port, &standard_headers("GetItem", huge.len()), &huge);
    assert!(
        reply.as_ref().is_none_or(|r| r.status == 413),
        "{:?}",
        reply.map(|r| r.body)
    );
    // Announced but never sent: refused from the header alone.
    let reply = raw(port, &standard_headers("GetItem", 1 << 30), b"{}").expect("a response");
    assert_eq!(reply.status, 413, "{}", reply.body);
    // Truncated: fewer bytes than announced, then the client hangs up.
    {
        let mut s = connect(port);
        let mut req = String::from("POST / HTTP/1.1\r\nHost: localhost\r\n");
        for h in standard_headers("GetItem", 1000) {
            req.push_str(&h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n{\"TableName\": ");
        s.write_all(req.as_bytes()).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let _ = read_reply(&mut s);
    }

    // Headers: missing, duplicated.
    let body = json!({"TableName": TABLE, "Key": {"pk": {"S": "victim"}}}).to_string();
    let mut no_target = standard_headers("GetItem", body.len());
    no_target.remove(0);
    let reply = raw(port, &no_target, body.as_bytes()).expect("a response");
    assert_eq!(
        reply.error_type(),
        "UnknownOperationException",
        "{}",
        reply.body
    );
    let mut no_auth = standard_headers("GetItem", body.len());
    no_auth.remove(2);
    let reply = raw(port, &no_auth, body.as_bytes()).expect("a response");
    assert_eq!(reply.error_type(), "MissingAuthenticationTokenException");
    let mut two_targets = standard_headers("GetItem", body.len());
    two_targets.push("X-Amz-Target: DynamoDB_20120810.DeleteTable".into());
    let reply = raw(port, &two_targets, body.as_bytes()).expect("a response");
    assert_eq!(
        reply.status, 200,
        "the first X-Amz-Target counts: {}",
        reply.body
    );
    let mut two_lengths = standard_headers("GetItem", body.len());
    two_lengths.push(format!("Content-Length: {}", body.len() + 5));
    let reply = raw(port, &two_lengths, body.as_bytes()).expect("a response");
    assert_eq!(
        reply.status, 400,
        "conflicting Content-Length: {}",
        reply.body
    );

    assert_serving(port);
    assert!(rotor.is_running(), "rotor exited:\n{}", rotor.output());
    assert_eq!(
        keys(port),
        vec!["max", "n38", "victim"],
        "only the valid puts wrote"
    );
}

/// Sends `head` at once, then `rest` a byte a second until the server answers or
/// closes the connection (or `rest` runs out). How long that took, and the status
/// answered, if any.
fn trickle(port: u16, head: &str, rest: &str) -> (Duration, Option<u16>) {
    let mut s = connect(port);
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut rest = rest.bytes();
    loop {
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !got.is_empty() {
                    break;
                }
                match rest.next() {
                    Some(b) if s.write_all(&[b]).is_ok() => {}
                    _ => break,
                }
            }
            Err(_) => break,
        }
    }
    let status = String::from_utf8_lossy(&got)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok());
    (started.elapsed(), status)
}

#[test]
fn slow_and_many_clients_are_bounded() {
    let mut rotor = setup();
    let port = rotor.port;
    // Many connections at once, all idle: others are still served.
    let idle: Vec<TcpStream> = (0..1000).map(|_| connect(port)).collect();
    assert_serving(port);

    // Slow loris: headers at a byte a second, and a body at a byte a second. Each
    // connection is closed (the body's after a 408) once the read timeout passes.
    let header_loris = std::thread::spawn(move || {
        trickle(
            port,
            "",
            "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: DynamoDB",
        )
    });
    let body_loris = std::thread::spawn(move || {
        let mut head = String::from("POST / HTTP/1.1\r\nHost: localhost\r\n");
        for h in standard_headers("GetItem", 100) {
            head.push_str(&h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        trickle(port, &head, &" ".repeat(30))
    });
    // A connection that sends nothing at all is closed too.
    let mut silent = connect(port);
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let closed = matches!(silent.read(&mut byte), Ok(0) | Err(_));
    assert!(closed, "a silent connection was kept open");
    assert!(started.elapsed() < Duration::from_secs(READ_TIMEOUT_SECS + 10));
    assert_serving(port);

    for loris in [header_loris, body_loris] {
        let (took, status) = loris.join().unwrap();
        assert!(
            matches!(status, None | Some(408)),
            "a slow client got {status:?}"
        );
        assert!(
            took < Duration::from_secs(15),
            "a slow client held on for {took:?}"
        );
    }

    drop(idle);
    assert_serving(port);
    assert!(rotor.is_running(), "rotor exited:\n{}", rotor.output());
    assert_eq!(keys(port), vec!["victim"]);
}
