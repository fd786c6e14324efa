//! What the workers send: the workloads and their operation mixes, the DynamoDB
//! operations (targets), and prebuilt request-body templates into which the hot loop only
//! formats a key (no serde on the hot path).
//!
//! Data model: single-key items are `pk` (S) = `k<index>`, `v` (S) = `--item-bytes`
//! filler. The query workload's items are `pk` = `q<partition>`, `n` (N) = 0..99, `v`.

use clap::ValueEnum;

use crate::keys::Rng;

/// Items per query partition (and so per Query response).
pub const QUERY_ITEMS: u64 = 100;
/// Puts per BatchWriteItem (DynamoDB's maximum).
pub const BATCH: u64 = 25;
/// Items per Scan page.
pub const SCAN_LIMIT: u32 = 100;

/// The benchmark's operation mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// PutItem of one item.
    Put,
    /// GetItem, eventually consistent.
    Get,
    /// GetItem with ConsistentRead.
    GetStrong,
    /// UpdateItem `SET v = :v` if `attribute_exists(pk)` (needs loaded keys).
    Update,
    /// Query of one 100-item partition (table needs range key `n`, N).
    Query,
    /// Scan, paging through the table 100 items at a time.
    Scan,
    /// BatchWriteItem of 25 puts.
    BatchWrite,
    /// YCSB A: 50% get, 50% update.
    YcsbA,
    /// YCSB B: 95% get, 5% update.
    YcsbB,
    /// YCSB C: 100% get.
    YcsbC,
    /// YCSB F: 50% get, 50% read-modify-write (get, then conditional update).
    YcsbF,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::GetStrong => "get-strong",
            Workload::Update => "update",
            Workload::Query => "query",
            Workload::Scan => "scan",
            Workload::BatchWrite => "batch-write",
            Workload::YcsbA => "ycsb-a",
            Workload::YcsbB => "ycsb-b",
            Workload::YcsbC => "ycsb-c",
            Workload::YcsbF => "ycsb-f",
        }
    }

    /// The next operation of the mix.
    pub fn pick(self, rng: &mut Rng) -> Op {
        match self {
            Workload::Put => Op::Put,
            Workload::Get | Workload::YcsbC => Op::Get,
            Workload::GetStrong => Op::GetStrong,
            Workload::Update => Op::Update,
            Workload::Query => Op::Query,
            Workload::Scan => Op::Scan,
            Workload::BatchWrite => Op::BatchWrite,
            Workload::YcsbA => pick2(rng, 50, Op::Get, Op::Update),
            Workload::YcsbB => pick2(rng, 95, Op::Get, Op::Update),
            Workload::YcsbF => pick2(rng, 50, Op::Get, Op::Rmw),
        }
    }

    /// Whether the table has the range key `n` (only the query workload's does).
    pub fn range_key(self) -> bool {
        self == Workload::Query
    }

    /// How many distinct keys the distribution picks from: items, or query partitions.
    pub fn key_space(self, keys: u64) -> u64 {
        if self == Workload::Query {
            keys.div_ceil(QUERY_ITEMS).max(1)
        } else {
            keys.max(1)
        }
    }
}

fn pick2(rng: &mut Rng, percent_first: u64, first: Op, second: Op) -> Op {
    if rng.below(100) < percent_first {
        first
    } else {
        second
    }
}

/// One reported operation type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Get,
    GetStrong,
    Put,
    Update,
    Query,
    Scan,
    BatchWrite,
    /// Read-modify-write: a GetItem then a conditional UpdateItem of the same key,
    /// timed together (two requests).
    Rmw,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Get,
        Op::GetStrong,
        Op::Put,
        Op::Update,
        Op::Query,
        Op::Scan,
        Op::BatchWrite,
        Op::Rmw,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::GetStrong => "get-strong",
            Op::Put => "put",
            Op::Update => "update",
            Op::Query => "query",
            Op::Scan => "scan",
            Op::BatchWrite => "batch-write",
            Op::Rmw => "rmw",
        }
    }
}

/// A DynamoDB API operation: the `X-Amz-Target` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchWriteItem,
    CreateTable,
    DeleteTable,
    DescribeTable,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::GetItem => "GetItem",
            Target::PutItem => "PutItem",
            Target::UpdateItem => "UpdateItem",
            Target::DeleteItem => "DeleteItem",
            Target::Query => "Query",
            Target::Scan => "Scan",
            Target::BatchWriteItem => "BatchWriteItem",
            Target::CreateTable => "CreateTable",
            Target::DeleteTable => "DeleteTable",
            Target::DescribeTable => "DescribeTable",
        }
    }

    /// The full header value, `DynamoDB_20120810.<Op>`.
    pub fn header(self) -> &'static str {
        match self {
            Target::GetItem => "DynamoDB_20120810.GetItem",
            Target::PutItem => "DynamoDB_20120810.PutItem",
            Target::UpdateItem => "DynamoDB_20120810.UpdateItem",
            Target::DeleteItem => "DynamoDB_20120810.DeleteItem",
            Target::Query => "DynamoDB_20120810.Query",
            Target::Scan => "DynamoDB_20120810.Scan",
            Target::BatchWriteItem => "DynamoDB_20120810.BatchWriteItem",
            Target::CreateTable => "DynamoDB_20120810.CreateTable",
            Target::DeleteTable => "DynamoDB_20120810.DeleteTable",
            Target::DescribeTable => "DynamoDB_20120810.DescribeTable",
        }
    }
}

/// A body with one slot for a decimal number: `prefix <n> suffix`.
#[derive(Clone, Debug)]
pub struct Template {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

impl Template {
    fn new(prefix: String, suffix: String) -> Template {
        Template {
            prefix: prefix.into_bytes(),
            suffix: suffix.into_bytes(),
        }
    }

    /// Appends the body for `n` to `out`.
    pub fn render(&self, out: &mut Vec<u8>, n: u64) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(&self.suffix);
    }
}

/// Every request body a worker sends, prebuilt for one table and item size.
#[derive(Clone, Debug)]
pub struct Templates {
    /// The table name as a JSON string literal (quoted, escaped).
    table_json: String,
    filler: String,
    pub get: Template,
    pub get_strong: Template,
    pub put: Template,
    pub update: Template,
    pub query: Template,
    /// One PutRequest of a `k<n>` item, for BatchWriteItem.
    pub batch_put: Template,
    batch_prefix: Vec<u8>,
    scan_prefix: Vec<u8>,
}

impl Templates {
    /// Requests on `table`; Query and Scan read its index `index` when given.
    pub fn new(table: &str, item_bytes: usize, index: Option<&str>) -> Templates {
        let t = serde_json::to_string(table).expect("a string serializes");
        let on_index = index.map_or(String::new(), |i| {
            format!(
                r#","IndexName":{}"#,
                serde_json::to_string(i).expect("a string serializes")
            )
        });
        let filler = filler(item_bytes);
        let key = |prefix: &str| format!(r#"{{"TableName":{t},"Key":{{"pk":{{"S":"{prefix}"#);
        let item = format!(r#""}},"v":{{"S":"{filler}"}}}}"#);
        Templates {
            get: Template::new(key("k"), r#""}}}"#.into()),
            get_strong: Template::new(key("k"), r#""}},"ConsistentRead":true}"#.into()),
            put: Template::new(
                format!(r#"{{"TableName":{t},"Item":{{"pk":{{"S":"k"#),
                format!("{item}}}"),
            ),
            update: Template::new(
                key("k"),
                format!(
                    r#""}}}},"UpdateExpression":"SET v = :v","ConditionExpression":"attribute_exists(pk)","ExpressionAttributeValues":{{":v":{{"S":"{filler}"}}}}}}"#
                ),
            ),
            query: Template::new(
                format!(
                    r#"{{"TableName":{t}{on_index},"KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"q"#
                ),
                format!(r#""}}}},"Limit":{QUERY_ITEMS}}}"#),
            ),
            batch_put: Template::new(
                r#"{"PutRequest":{"Item":{"pk":{"S":"k"#.into(),
                format!("{item}}}}}"),
            ),
            batch_prefix: format!(r#"{{"RequestItems":{{{t}:["#).into_bytes(),
            scan_prefix: format!(r#"{{"TableName":{t}{on_index},"Limit":{SCAN_LIMIT}"#)
                .into_bytes(),
            table_json: t,
            filler,
        }
    }

    /// BatchWriteItem of the keys `first, first+1, ...` (`count` of them, wrapping at
    /// `keys`, so they are distinct while count <= keys).
    pub fn batch_write(&self, out: &mut Vec<u8>, first: u64, count: u64, keys: u64) {
        out.extend_from_slice(&self.batch_prefix);
        for i in 0..count {
            if i > 0 {
                out.push(b',');
            }
            self.batch_put.render(out, (first + i) % keys);
        }
        out.extend_from_slice(b"]}}");
    }

    /// BatchWriteItem of the query workload's items: partition `q<partition>`, sort keys
    /// `n` = first..first+count. Only used to load, so it may format.
    pub fn batch_write_query_items(
        &self,
        out: &mut Vec<u8>,
        partition: u64,
        first: u64,
        count: u64,
    ) {
        out.extend_from_slice(&self.batch_prefix);
        for i in 0..count {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(
                format!(
                    r#"{{"PutRequest":{{"Item":{{"pk":{{"S":"q{partition}"}},"n":{{"N":"{}"}},"v":{{"S":"{}"}}}}}}}}"#,
                    first + i,
                    self.filler
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(b"]}}");
    }

    /// Scan of one page, continuing after `start_key` (raw JSON of a LastEvaluatedKey).
    pub fn scan(&self, out: &mut Vec<u8>, start_key: Option<&[u8]>) {
        out.extend_from_slice(&self.scan_prefix);
        if let Some(k) = start_key {
            out.extend_from_slice(br#","ExclusiveStartKey":"#);
            out.extend_from_slice(k);
        }
        out.push(b'}');
    }

    /// `{"TableName": ...}` for DescribeTable and DeleteTable.
    pub fn table_only(&self) -> Vec<u8> {
        format!(r#"{{"TableName":{}}}"#, self.table_json).into_bytes()
    }

    /// BatchWriteItem retrying a response's `UnprocessedItems` (raw JSON object).
    pub fn batch_retry(unprocessed: &str) -> Vec<u8> {
        format!(r#"{{"RequestItems":{unprocessed}}}"#).into_bytes()
    }
}

/// `len` bytes of printable, JSON-safe filler.
fn filler(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|i| ALPHABET[(i * 7 + i / ALPHABET.len()) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    fn render(t: &Template, n: u64) -> Value {
        let mut out = Vec::new();
        t.render(&mut out, n);
        parse(&out)
    }

    #[test]
    fn single_item_templates_are_the_requests_serde_would_build() {
        // A table name that needs escaping proves the name is JSON-encoded once.
        let t = Templates::new("be\"nch", 10, None);
        let filler = filler(10);
        assert_eq!(
            render(&t.get, 42),
            json!({"TableName": "be\"nch", "Key": {"pk": {"S": "k42"}}})
        );
        assert_eq!(
            render(&t.get_strong, 0),
            json!({"TableName": "be\"nch", "Key": {"pk": {"S": "k0"}}, "ConsistentRead": true})
        );
        assert_eq!(
            render(&t.put, 9_999),
            json!({"TableName": "be\"nch", "Item": {"pk": {"S": "k9999"}, "v": {"S": filler}}})
        );
        assert_eq!(
            render(&t.update, 7),
            json!({
                "TableName": "be\"nch",
                "Key": {"pk": {"S": "k7"}},
                "UpdateExpression": "SET v = :v",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":v": {"S": filler}},
            })
        );
        assert_eq!(
            render(&t.query, 3),
            json!({
                "TableName": "be\"nch",
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "q3"}},
                "Limit": 100,
            })
        );
        let on_index = Templates::new("bench", 10, Some("gsi0"));
        assert_eq!(render(&on_index.query, 3)["IndexName"], "gsi0");
    }

    #[test]
    fn batch_templates() {
        let t = Templates::new("bench", 3, None);
        let mut out = Vec::new();
        t.batch_write(&mut out, 98, 25, 100);
        let v = parse(&out);
        let puts = v["RequestItems"]["bench"].as_array().unwrap();
        assert_eq!(puts.len(), 25);
        assert_eq!(puts[0]["PutRequest"]["Item"]["pk"]["S"], "k98");
        assert_eq!(puts[1]["PutRequest"]["Item"]["pk"]["S"], "k99");
        assert_eq!(puts[2]["PutRequest"]["Item"]["pk"]["S"], "k0");
        assert_eq!(puts[24]["PutRequest"]["Item"]["v"]["S"], filler(3));

        out.clear();
        t.batch_write_query_items(&mut out, 5, 75, 25);
        let v = parse(&out);
        let puts = v["RequestItems"]["bench"].as_array().unwrap();
        assert_eq!(puts.len(), 25);
        assert_eq!(
            puts[24]["PutRequest"]["Item"],
            json!({"pk": {"S": "q5"}, "n": {"N": "99"}, "v": {"S": filler(3)}})
        );
    }

    #[test]
    fn scan_and_table_templates() {
        let t = Templates::new("bench", 1, Some("gsi0"));
        let mut out = Vec::new();
        t.scan(&mut out, None);
        assert_eq!(
            parse(&out),
            json!({"TableName": "bench", "IndexName": "gsi0", "Limit": 100})
        );
        out.clear();
        t.scan(&mut out, Some(br#"{"pk":{"S":"k5"}}"#));
        assert_eq!(
            parse(&out),
            json!({"TableName": "bench", "IndexName": "gsi0", "Limit": 100, "ExclusiveStartKey": {"pk": {"S": "k5"}}})
        );
        assert_eq!(parse(&t.table_only()), json!({"TableName": "bench"}));
        assert_eq!(
            parse(&Templates::batch_retry(r#"{"bench":[]}"#)),
            json!({"RequestItems": {"bench": []}})
        );
    }

    #[test]
    fn item_size_is_respected() {
        for n in [0, 1, 100, 4000] {
            assert_eq!(filler(n).len(), n);
        }
    }

    #[test]
    fn mixes_have_the_right_proportions() {
        let mut rng = Rng::new(9);
        let count =
            |w: Workload, op: Op, rng: &mut Rng| (0..100_000).filter(|_| w.pick(rng) == op).count();
        let b_updates = count(Workload::YcsbB, Op::Update, &mut rng);
        assert!((4_000..6_000).contains(&b_updates), "{b_updates}");
        let a_gets = count(Workload::YcsbA, Op::Get, &mut rng);
        assert!((48_000..52_000).contains(&a_gets), "{a_gets}");
        let f_rmw = count(Workload::YcsbF, Op::Rmw, &mut rng);
        assert!((48_000..52_000).contains(&f_rmw), "{f_rmw}");
        assert_eq!(count(Workload::YcsbC, Op::Get, &mut rng), 100_000);
        assert_eq!(Workload::Query.key_space(10_000), 100);
        assert_eq!(Workload::Query.key_space(50), 1);
        assert_eq!(Workload::Get.key_space(10_000), 10_000);
    }
}
