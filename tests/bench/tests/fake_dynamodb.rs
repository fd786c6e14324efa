//! Every workload against a small fake DynamoDB that checks what arrives: JSON bodies,
//! targets, SigV4 signatures recomputed from the received headers, BatchWriteItem limits,
//! and table state (create/delete/describe), and answers like the service (including
//! UnprocessedItems, Scan pages, ConditionalCheckFailedException, and Rotor's 503s from
//! DescribeTable while a new table comes up).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use clap::Parser;
use rotor_bench::server::{Request, Response, Server};
use rotor_bench::sigv4::{self, AmzDate, Signer};
use rotor_bench::{BenchArgs, Report};
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

#[derive(Default)]
struct State {
    table: Option<Value>, // the CreateTable request
    items: HashSet<String>,
    calls: HashMap<String, u64>,
    batches: u64,
    continued_scans: u64,
    /// DescribeTable answers 503 this many more times (as Rotor does right after
    /// CreateTable, until the new table's partitions have leaders).
    unavailable: u32,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<State>>;

fn check_signature(req: &Request<'_>) -> Result<(), String> {
    let date = req.header("x-amz-date").ok_or("no X-Amz-Date")?;
    let date = AmzDate::parse(date).ok_or("bad X-Amz-Date")?;
    let signed: Vec<(&str, &str)> = ["content-type", "host", "x-amz-date", "x-amz-target"]
        .iter()
        .map(|n| Ok((*n, req.header(n).ok_or(format!("no {n}"))?)))
        .collect::<Result<_, String>>()?;
    let mut signer = Signer::new("AKID", "SECRET", "eu-central-1", "dynamodb");
    let expected = sigv4::authorization_for(&mut signer, &date, "POST", "/", "", &signed, req.body);
    let got = req.header("authorization").ok_or("no Authorization")?;
    if got != expected {
        return Err(format!("signature mismatch: got {got}, want {expected}"));
    }
    if req.header("content-type") != Some("application/x-amz-json-1.0") {
        return Err("wrong content type".into());
    }
    Ok(())
}

fn key_of(v: &Value) -> String {
    let pk = v["pk"]["S"].as_str().unwrap_or("?");
    match v["n"]["N"].as_str() {
        Some(n) => format!("{pk}/{n}"),
        None => pk.to_owned(),
    }
}

fn handle(state: &Shared, req: &Request<'_>) -> Result<Response, String> {
    if req.method != "POST" || req.path != "/" {
        return Err(format!("{} {}", req.method, req.path));
    }
    check_signature(req)?;
    let body: Value = serde_json::from_slice(req.body).map_err(|e| format!("bad JSON: {e}"))?;
    let mut s = state.lock().unwrap();
    let target = req.target().to_owned();
    *s.calls.entry(target.clone()).or_default() += 1;
    let table_name = body["TableName"].as_str().map(str::to_owned);
    let expect_table = |name: Option<String>| -> Result<(), String> {
        if name.as_deref() != Some("bench") {
            return Err(format!("{target}: TableName {name:?}"));
        }
        Ok(())
    };
    let not_found = || Response::error("ResourceNotFoundException", "Requested resource not found");
    Ok(match target.as_str() {
        "CreateTable" => {
            expect_table(table_name)?;
            if s.table.is_some() {
                Response::error("ResourceInUseException", "Table already exists")
            } else {
                s.table = Some(body);
                s.unavailable = 2;
                Response::ok(br#"{"TableDescription":{"TableStatus":"CREATING"}}"#.to_vec())
            }
        }
        "DescribeTable" => {
            expect_table(table_name)?;
            match s.table {
                Some(_) if s.unavailable > 0 => {
                    s.unavailable -= 1;
                    let mut r = Response::error("ServiceUnavailableException", "no leader yet");
                    r.status = 503;
                    r
                }
                Some(_) => Response::ok(br#"{"Table":{"TableStatus":"ACTIVE"}}"#.to_vec()),
                None => not_found(),
            }
        }
        "DeleteTable" => {
            expect_table(table_name)?;
            match s.table.take() {
                Some(_) => {
                    s.items.clear();
                    Response::ok(&b"{}"[..])
                }
                None => not_found(),
            }
        }
        "BatchWriteItem" => {
            let puts = body["RequestItems"]["bench"]
                .as_array()
                .ok_or("BatchWriteItem without puts for bench")?;
            if puts.is_empty() || puts.len() > 25 {
                return Err(format!("BatchWriteItem of {} puts", puts.len()));
            }
            let keys: Vec<String> = puts
                .iter()
                .map(|p| key_of(&p["PutRequest"]["Item"]))
                .collect();
            if keys.iter().collect::<HashSet<_>>().len() != keys.len() {
                return Err("BatchWriteItem with duplicate keys".into());
            }
            s.batches += 1;
            // Every 7th multi-item batch leaves its last put unprocessed.
            let leave = s.batches.is_multiple_of(7) && puts.len() > 1;
            let done = if leave { puts.len() - 1 } else { puts.len() };
            s.items.extend(keys[..done].iter().cloned());
            let unprocessed = if leave {
                json!({"bench": [puts[puts.len() - 1]]})
            } else {
                json!({})
            };
            Response::ok(
                json!({"UnprocessedItems": unprocessed})
                    .to_string()
                    .into_bytes(),
            )
        }
        "GetItem" => {
            expect_table(table_name)?;
            let k = key_of(&body["Key"]);
            if s.items.contains(&k) {
                Response::ok(json!({"Item": body["Key"]}).to_string().into_bytes())
            } else {
                Response::ok(&b"{}"[..])
            }
        }
        "PutItem" => {
            expect_table(table_name)?;
            let k = key_of(&body["Item"]);
            s.items.insert(k);
            Response::ok(&b"{}"[..])
        }
        "UpdateItem" => {
            expect_table(table_name)?;
            if body["ConditionExpression"] != "attribute_exists(pk)"
                || body["UpdateExpression"] != "SET v = :v"
            {
                return Err("unexpected UpdateItem".into());
            }
            if s.items.contains(&key_of(&body["Key"])) {
                Response::ok(&b"{}"[..])
            } else {
                Response::error(
                    "ConditionalCheckFailedException",
                    "The conditional request failed",
                )
            }
        }
        "Query" => {
            expect_table(table_name)?;
            let p = body["ExpressionAttributeValues"][":p"]["S"]
                .as_str()
                .ok_or("Query without :p")?
                .to_owned();
            let items: Vec<Value> = (0..100)
                .filter(|n| s.items.contains(&format!("{p}/{n}")))
                .map(|n| json!({"pk": {"S": p}, "n": {"N": n.to_string()}}))
                .collect();
            Response::ok(
                json!({"Count": items.len(), "Items": items})
                    .to_string()
                    .into_bytes(),
            )
        }
        "Scan" => {
            expect_table(table_name)?;
            if body["Limit"] != 100 {
                return Err("Scan without Limit 100".into());
            }
            // Two pages: the first continues, the second ends.
            if body.get("ExclusiveStartKey").is_some() {
                if body["ExclusiveStartKey"] != json!({"pk": {"S": "k1"}}) {
                    return Err("Scan continued from the wrong key".into());
                }
                s.continued_scans += 1;
                Response::ok(br#"{"Count":0,"Items":[]}"#.to_vec())
            } else {
                Response::ok(
                    br#"{"Count":1,"Items":[{"pk":{"S":"k1"}}],"LastEvaluatedKey":{"pk":{"S":"k1"}}}"#
                        .to_vec(),
                )
            }
        }
        other => return Err(format!("unexpected target {other:?}")),
    })
}

async fn fake() -> (Server, Shared) {
    let state: Shared = Arc::default();
    let s = state.clone();
    let server = Server::start(Arc::new(move |req: &Request<'_>| {
        handle(&s, req).unwrap_or_else(|problem| {
            s.lock().unwrap().problems.push(problem.clone());
            Response {
                status: 500,
                body: problem.into_bytes().into(),
            }
        })
    }))
    .await
    .unwrap();
    (server, state)
}

async fn bench(server: &Server, extra: &[&str]) -> anyhow::Result<Report> {
    let url = format!("http://{}", server.addr());
    let mut argv = vec![
        "rotor-bench",
        "--endpoint",
        &url,
        "--region",
        "eu-central-1",
        "--access-key",
        "AKID",
        "--secret-key",
        "SECRET",
        "--warmup",
        "0",
        "--concurrency",
        "6",
        "--threads",
        "2",
        "--quiet",
    ];
    argv.extend_from_slice(extra);
    rotor_bench::execute(Cli::try_parse_from(argv)?.args).await
}

fn no_problems(state: &Shared) {
    let s = state.lock().unwrap();
    assert!(
        s.problems.is_empty(),
        "{:?}",
        &s.problems[..s.problems.len().min(5)]
    );
}

#[tokio::test]
async fn every_workload_runs_clean_against_a_strict_fake() {
    let cases: &[(&str, &[&str])] = &[
        ("put", &["put"]),
        ("get", &["get"]),
        ("get-strong", &["get-strong"]),
        ("update", &["update"]),
        ("query", &["query"]),
        ("scan", &["scan"]),
        ("batch-write", &["batch-write"]),
        ("ycsb-a", &["get", "update"]),
        ("ycsb-b", &["get", "update"]),
        ("ycsb-c", &["get"]),
        ("ycsb-f", &["get", "rmw"]),
    ];
    for (workload, ops) in cases {
        let (server, state) = fake().await;
        let report = bench(
            &server,
            &[
                "--workload",
                workload,
                "--create-table",
                "--load",
                "--keys",
                "300",
                "--ops",
                "400",
                "--distribution",
                "zipfian",
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{workload}: {e:#}"));
        no_problems(&state);
        assert_eq!(report.total.errors, 0, "{workload}: {:?}", report.errors);
        assert_eq!(report.total.count, 400, "{workload}: --ops is exact");
        assert!(report.total.ops_per_sec > 0.0);
        let seen: Vec<&str> = report.ops.iter().map(|o| o.op.as_str()).collect();
        assert_eq!(&seen, ops, "{workload}");

        let s = state.lock().unwrap();
        let table = s.table.as_ref().expect("table created");
        assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
        let schema = table["KeySchema"].as_array().unwrap();
        if *workload == "query" {
            assert_eq!(schema.len(), 2);
            assert_eq!(schema[1], json!({"AttributeName": "n", "KeyType": "RANGE"}));
            // 300 keys -> 3 partitions of 100 items, all written despite UnprocessedItems.
            assert_eq!(s.items.len(), 300);
            assert!(s.items.contains("q2/99"));
        } else {
            assert_eq!(schema.len(), 1);
            assert!(s.items.len() >= 300);
            assert!(s.items.contains("k299"));
        }
        if *workload == "scan" {
            assert!(s.continued_scans > 0, "scan never used ExclusiveStartKey");
        }
    }
}

#[tokio::test]
async fn errors_are_counted_by_type_and_recreate_starts_afresh() {
    let (server, state) = fake().await;
    // Load once, then recreate: the items are gone, so every update fails its condition.
    bench(
        &server,
        &["--create-table", "--load", "--keys", "50", "--ops", "10"],
    )
    .await
    .unwrap();
    assert_eq!(state.lock().unwrap().items.len(), 50);
    let report = bench(
        &server,
        &[
            "--recreate",
            "--workload",
            "update",
            "--keys",
            "50",
            "--ops",
            "200",
        ],
    )
    .await
    .unwrap();
    no_problems(&state);
    assert_eq!(report.total.count, 0);
    assert_eq!(report.total.errors, 200);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].op, "update");
    assert_eq!(report.errors[0].kind, "ConditionalCheckFailedException");
    assert!(report.table().contains("ConditionalCheckFailedException"));
    let s = state.lock().unwrap();
    assert_eq!(s.calls["DeleteTable"], 1);
    assert_eq!(s.calls["CreateTable"], 2);
    assert!(s.items.is_empty());
}

#[tokio::test]
async fn existing_table_is_kept_without_recreate() {
    let (server, state) = fake().await;
    bench(&server, &["--create-table", "--ops", "5"])
        .await
        .unwrap();
    bench(&server, &["--create-table", "--ops", "5"])
        .await
        .unwrap();
    no_problems(&state);
    let s = state.lock().unwrap();
    assert_eq!(s.calls["CreateTable"], 2); // the second answered ResourceInUseException
    assert!(!s.calls.contains_key("DeleteTable"));
    assert!(s.table.is_some());
}
