#!/usr/bin/env python3
"""Differential driver: send a fixed list of raw DynamoDB JSON-API requests to
one or more endpoints and report status / __type / message for each, plus the
differences between endpoints.

    differential.py [--json FILE] [--markdown] [--only SUBSTR] NAME=URL [NAME=URL ...]

The first endpoint is the reference (normally DynamoDB Local). Each endpoint
gets the same fixture tables (fixed names, dropped and re-created first), so
messages that mention table names are comparable.

Exit status: 0 when all endpoints agree on status and __type for every case
(messages may differ; they are reported; an answer that matches the known
real-DynamoDB answer where DynamoDB Local departs from it counts as agreeing),
1 otherwise.
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse

try:  # Sign like a real client when botocore is available.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    SigV4Auth = None

TARGET = "DynamoDB_20120810."
CT = "application/x-amz-json-1.0"
H = "rotor_diff_hash"    # pk S
R = "rotor_diff_range"   # pk S, sk N
MISSING = "rotor_diff_no_such_table"

# --------------------------------------------------------------------------
# Raw HTTP


def _sign(url, headers, body):
    if SigV4Auth is None:
        headers["Authorization"] = (
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0000")
        return headers
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials("AKID", "SECRET"), "dynamodb", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def raw(url, target, body, headers=None, sign=True, method="POST", timeout=60, path=None):
    """Send one request. target=None omits X-Amz-Target. body: dict or str/bytes.
    Returns (status, parsed-json-or-None, text)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    h = {"Content-Type": CT}
    if target is not None:
        h["X-Amz-Target"] = target if "." in target else TARGET + target
    if headers:
        h.update(headers)
    if sign:
        h = _sign(url, h, body)
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request(method, path or u.path or "/", body=body if method == "POST" else None, headers=h)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        status = resp.status
    finally:
        conn.close()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    return status, doc, text


def summarize(status, doc, text):
    out = {"status": status, "type": None, "message": None, "message_key": None, "extra": None}
    if isinstance(doc, dict):
        out["type"] = doc.get("__type")
        for k in ("message", "Message"):
            if k in doc:
                out["message"], out["message_key"] = doc[k], k
        extra = {k: v for k, v in doc.items() if k not in ("__type", "message", "Message")}
        if out["type"] and extra:
            out["extra"] = extra
    elif status >= 400:
        out["message"] = text[:300]
    return out


# --------------------------------------------------------------------------
# Fixtures

S = lambda v: {"S": v}
N = lambda v: {"N": str(v)}


def hk(pk="p1"):
    return {"pk": S(pk)}


def rk(pk="p1", sk=1):
    return {"pk": S(pk), "sk": N(sk)}


def _warn(msg):
    print(f"differential.py: warning: {msg}", file=sys.stderr)


def setup(url):
    """Create the fixture tables. Problems are reported, not fatal: a server
    that is still incomplete should still get every case run against it."""
    for t in (H, R, "rotor_diff_x"):
        raw(url, "DeleteTable", {"TableName": t})
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until gone
        if all(raw(url, "DescribeTable", {"TableName": t})[0] == 400 for t in (H, R)):
            break
        time.sleep(0.2)
    else:
        _warn(f"{url}: fixture tables still exist 30 s after DeleteTable")
    for t, ks, ad in (
        (H, [{"AttributeName": "pk", "KeyType": "HASH"}], [{"AttributeName": "pk", "AttributeType": "S"}]),
        (R, [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
         [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]),
    ):
        st, doc, text = raw(url, "CreateTable", {"TableName": t, "KeySchema": ks, "AttributeDefinitions": ad,
                                                 "BillingMode": "PAY_PER_REQUEST"})
        if st != 200:
            _warn(f"{url}: setup CreateTable {t} failed: {st} {text[:300]}")
    deadline = time.time() + 30
    while time.time() < deadline:
        ok = True
        for t in (H, R):
            st, doc, _ = raw(url, "DescribeTable", {"TableName": t})
            ok &= st == 200 and isinstance(doc, dict) and doc.get("Table", {}).get("TableStatus") == "ACTIVE"
        if ok:
            break
        time.sleep(0.2)
    else:
        _warn(f"{url}: fixture tables not ACTIVE after 30 s; running the cases anyway")
    item = {"pk": S("p1"), "a": N(1), "s": S("hello"), "ss": {"SS": ["x", "y"]},
            "l": {"L": [N(1), N(2)]}, "m": {"M": {"b": N(1)}}, "status": S("ok")}
    writes = [(H, item)] + [(R, {"pk": S("p1"), "sk": N(i), "v": S(f"v{i}")}) for i in range(1, 4)]
    for t, it in writes:
        st, _, text = raw(url, "PutItem", {"TableName": t, "Item": it})
        if st != 200:
            _warn(f"{url}: setup PutItem into {t} failed: {st} {text[:300]}")


def teardown(url):
    for t in (H, R, "rotor_diff_x"):
        raw(url, "DeleteTable", {"TableName": t})


# --------------------------------------------------------------------------
# The fixed case list: (id, short description, target, body[, options])
# target None = no X-Amz-Target header. options: headers, sign, method, path.

AD_H = [{"AttributeName": "pk", "AttributeType": "S"}]
KS_H = [{"AttributeName": "pk", "KeyType": "HASH"}]


def ct(name, ks=None, ad=None, **kw):
    body = {"TableName": name, "KeySchema": ks or KS_H, "AttributeDefinitions": ad or AD_H,
            "BillingMode": "PAY_PER_REQUEST"}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def put(item, table=H, **kw):
    return dict({"TableName": table, "Item": item}, **kw)


def upd(expr, key=None, table=H, names=None, values=None, **kw):
    b = {"TableName": table, "Key": key or hk(), "UpdateExpression": expr}
    if names is not None:
        b["ExpressionAttributeNames"] = names
    if values is not None:
        b["ExpressionAttributeValues"] = values
    b.update(kw)
    return b


def q(kce, values, names=None, table=R, **kw):
    b = {"TableName": table, "KeyConditionExpression": kce, "ExpressionAttributeValues": values}
    if names:
        b["ExpressionAttributeNames"] = names
    b.update(kw)
    return b


def _cases():
    big = "x" * (400 * 1024)
    c = []
    a = c.append
    # ---- protocol ----
    a(("proto.unknown_op", "X-Amz-Target: DynamoDB_20120810.NoSuchOp", "DynamoDB_20120810.NoSuchOp", {}))
    a(("proto.no_target", "no X-Amz-Target header", None, {}))
    a(("proto.wrong_version", "X-Amz-Target: DynamoDB_20111205.ListTables", "DynamoDB_20111205.ListTables", {}))
    a(("proto.bad_prefix", "X-Amz-Target: Foo.ListTables", "Foo.ListTables", {}))
    a(("proto.malformed_json", "body `{\"TableName\":`", "ListTables", '{"TableName":'))
    a(("proto.empty_body", "empty body, ListTables", "ListTables", ""))
    a(("proto.empty_body_describe", "empty body, DescribeTable", "DescribeTable", ""))
    a(("proto.json_array", "body `[]`", "ListTables", "[]"))
    a(("proto.wrong_field_type", "DescribeTable TableName=5 (number)", "DescribeTable", {"TableName": 5}))
    a(("proto.wrong_field_type_limit", "ListTables Limit=\"x\"", "ListTables", {"Limit": "x"}))
    a(("proto.unknown_field", "ListTables with unknown field Foo", "ListTables", {"Foo": 1}))
    a(("proto.no_auth", "ListTables without Authorization header", "ListTables", {}, {"sign": False}))
    a(("proto.json_content_type", "Content-Type: application/json", "ListTables", {},
       {"headers": {"Content-Type": "application/json"}}))
    # ---- tables ----
    a(("table.create_exists", "CreateTable of an existing table", "CreateTable", ct(H)))
    a(("table.describe_missing", "DescribeTable missing table", "DescribeTable", {"TableName": MISSING}))
    a(("table.delete_missing", "DeleteTable missing table", "DeleteTable", {"TableName": MISSING}))
    a(("table.update_missing", "UpdateTable missing table", "UpdateTable",
       {"TableName": MISSING, "BillingMode": "PAY_PER_REQUEST"}))
    a(("table.describe_no_name", "DescribeTable {}", "DescribeTable", {}))
    a(("table.name_short", "CreateTable name 'ab'", "CreateTable", ct("ab")))
    a(("table.name_chars", "CreateTable name 'bad name!'", "CreateTable", ct("bad name!")))
    a(("table.name_long", "CreateTable name of 256 chars", "CreateTable", ct("t" * 256)))
    a(("table.no_keyschema", "CreateTable without KeySchema", "CreateTable",
       {"TableName": "rotor_diff_x", "AttributeDefinitions": AD_H, "BillingMode": "PAY_PER_REQUEST"}))
    a(("table.missing_attrdef", "CreateTable key attr not in AttributeDefinitions", "CreateTable",
       ct("rotor_diff_x", ad=[{"AttributeName": "other", "AttributeType": "S"}])))
    a(("table.extra_attrdef", "CreateTable unused AttributeDefinition", "CreateTable",
       ct("rotor_diff_x", ad=AD_H + [{"AttributeName": "extra", "AttributeType": "S"}])))
    a(("table.bad_attr_type", "CreateTable AttributeType 'X'", "CreateTable",
       ct("rotor_diff_x", ad=[{"AttributeName": "pk", "AttributeType": "X"}])))
    a(("table.bool_key_type", "CreateTable AttributeType 'BOOL'", "CreateTable",
       ct("rotor_diff_x", ad=[{"AttributeName": "pk", "AttributeType": "BOOL"}])))
    a(("table.two_hash", "CreateTable two HASH keys", "CreateTable",
       ct("rotor_diff_x", ks=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "HASH"}],
          ad=AD_H + [{"AttributeName": "sk", "AttributeType": "S"}])))
    a(("table.range_only", "CreateTable RANGE key only", "CreateTable",
       ct("rotor_diff_x", ks=[{"AttributeName": "pk", "KeyType": "RANGE"}])))
    a(("table.range_first", "CreateTable KeySchema [RANGE, HASH]", "CreateTable",
       ct("rotor_diff_x", ks=[{"AttributeName": "sk", "KeyType": "RANGE"}, {"AttributeName": "pk", "KeyType": "HASH"}],
          ad=AD_H + [{"AttributeName": "sk", "AttributeType": "S"}])))
    a(("table.provisioned_no_throughput", "CreateTable PROVISIONED without ProvisionedThroughput", "CreateTable",
       ct("rotor_diff_x", BillingMode="PROVISIONED")))
    a(("table.no_billing_no_throughput", "CreateTable no BillingMode, no ProvisionedThroughput", "CreateTable",
       ct("rotor_diff_x", BillingMode=None)))
    a(("table.ppr_with_throughput", "CreateTable PAY_PER_REQUEST with ProvisionedThroughput", "CreateTable",
       ct("rotor_diff_x", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})))
    a(("table.throughput_zero", "CreateTable PROVISIONED RCU=0", "CreateTable",
       ct("rotor_diff_x", BillingMode="PROVISIONED",
          ProvisionedThroughput={"ReadCapacityUnits": 0, "WriteCapacityUnits": 1})))
    a(("table.bad_billing", "CreateTable BillingMode 'FOO'", "CreateTable", ct("rotor_diff_x", BillingMode="FOO")))
    a(("table.list_limit_0", "ListTables Limit=0", "ListTables", {"Limit": 0}))
    a(("table.list_limit_101", "ListTables Limit=101", "ListTables", {"Limit": 101}))
    a(("table.update_nothing", "UpdateTable with no change", "UpdateTable", {"TableName": H}))
    a(("table.update_same_billing", "UpdateTable PAY_PER_REQUEST -> PAY_PER_REQUEST", "UpdateTable",
       {"TableName": H, "BillingMode": "PAY_PER_REQUEST"}))
    a(("table.update_throughput_on_ppr", "UpdateTable ProvisionedThroughput on PAY_PER_REQUEST table",
       "UpdateTable", {"TableName": H, "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}))
    # ---- PutItem ----
    a(("put.missing_table", "PutItem missing table", "PutItem", put(hk(), table=MISSING)))
    a(("put.missing_key", "PutItem without the hash key", "PutItem", put({"a": S("x")})))
    a(("put.missing_range_key", "PutItem without the range key", "PutItem", put(hk(), table=R)))
    a(("put.key_wrong_type", "PutItem hash key N instead of S", "PutItem", put({"pk": N(1)})))
    a(("put.range_key_wrong_type", "PutItem range key S instead of N", "PutItem",
       put({"pk": S("p"), "sk": S("x")}, table=R)))
    a(("put.empty_string_key", "PutItem hash key \"\"", "PutItem", put({"pk": S("")})))
    a(("put.empty_string_range_key", "PutItem (range table) hash key \"\"", "PutItem",
       put({"pk": S(""), "sk": N(1)}, table=R)))
    a(("put.map_key", "PutItem hash key given as M (map)", "PutItem", put({"pk": {"M": {"S": S("x")}}})))
    a(("proto.target_no_prefix", "X-Amz-Target: ListTables (no service prefix)", None, {},
       {"headers": {"X-Amz-Target": "ListTables"}}))
    a(("put.empty_binary_key", "PutItem hash key B \"\" (on S table)", "PutItem", put({"pk": {"B": ""}})))
    a(("put.pk_too_long", "PutItem hash key of 2049 bytes", "PutItem", put({"pk": S("k" * 2049)})))
    a(("put.pk_max_ok", "PutItem hash key of 2048 bytes (ok)", "PutItem", put({"pk": S("k" * 2048)})))
    a(("put.sk_too_long", "PutItem range key of 1025 bytes (S table)", "PutItem",
       "__SK_TOO_LONG__"))
    a(("put.item_too_big", "PutItem item over 400 KB", "PutItem", put({"pk": S("big"), "d": S(big)})))
    a(("put.empty_ss", "PutItem SS []", "PutItem", put({"pk": S("p2"), "x": {"SS": []}})))
    a(("put.empty_ns", "PutItem NS []", "PutItem", put({"pk": S("p2"), "x": {"NS": []}})))
    a(("put.empty_bs", "PutItem BS []", "PutItem", put({"pk": S("p2"), "x": {"BS": []}})))
    a(("put.dup_ss", "PutItem SS [\"a\",\"a\"]", "PutItem", put({"pk": S("p2"), "x": {"SS": ["a", "a"]}})))
    a(("put.dup_ns", "PutItem NS [\"1\",\"1.0\"]", "PutItem", put({"pk": S("p2"), "x": {"NS": ["1", "1.0"]}})))
    a(("put.dup_bs", "PutItem BS [\"AQ==\",\"AQ==\"]", "PutItem",
       put({"pk": S("p2"), "x": {"BS": ["AQ==", "AQ=="]}})))
    a(("put.bad_number", "PutItem N \"abc\"", "PutItem", put({"pk": S("p2"), "x": N("abc")})))
    a(("put.number_precision", "PutItem N with 39 significant digits", "PutItem",
       put({"pk": S("p2"), "x": N("1" * 39)})))
    a(("put.number_too_big", "PutItem N \"1E126\"", "PutItem", put({"pk": S("p2"), "x": N("1E126")})))
    a(("put.number_too_small", "PutItem N \"1E-131\"", "PutItem", put({"pk": S("p2"), "x": N("1E-131")})))
    a(("put.two_types", "PutItem value {\"S\":\"a\",\"N\":\"1\"}", "PutItem",
       put({"pk": S("p2"), "x": {"S": "a", "N": "1"}})))
    a(("put.no_type", "PutItem value {}", "PutItem", put({"pk": S("p2"), "x": {}})))
    a(("put.null_false", "PutItem value {\"NULL\": false}", "PutItem", put({"pk": S("p2"), "x": {"NULL": False}})))
    a(("put.bad_base64", "PutItem B \"!!!\"", "PutItem", put({"pk": S("p2"), "x": {"B": "!!!"}})))
    a(("put.empty_attr_name", "PutItem attribute named \"\"", "PutItem", put({"pk": S("p2"), "": S("v")})))
    a(("put.returnvalues_all_new", "PutItem ReturnValues=ALL_NEW", "PutItem",
       put({"pk": S("p2")}, ReturnValues="ALL_NEW")))
    a(("put.returnvalues_bad", "PutItem ReturnValues=FOO", "PutItem", put({"pk": S("p2")}, ReturnValues="FOO")))
    a(("put.cond_fail", "PutItem attribute_not_exists(pk) on existing item", "PutItem",
       put(hk(), ConditionExpression="attribute_not_exists(pk)")))
    a(("put.cond_fail_all_old", "...same with ReturnValuesOnConditionCheckFailure=ALL_OLD", "PutItem",
       put(hk(), ConditionExpression="attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD")))
    a(("put.unused_value", "PutItem unused ExpressionAttributeValues :u", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":u": N(1)})))
    a(("put.unused_name", "PutItem unused ExpressionAttributeNames #u", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeNames={"#u": "x"})))
    a(("put.values_without_expr", "PutItem ExpressionAttributeValues without any expression", "PutItem",
       put(hk("p3"), ExpressionAttributeValues={":u": N(1)})))
    a(("put.names_without_expr", "PutItem ExpressionAttributeNames without any expression", "PutItem",
       put(hk("p3"), ExpressionAttributeNames={"#u": "x"})))
    a(("put.empty_values_map", "PutItem ExpressionAttributeValues {}", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={})))
    a(("put.empty_names_map", "PutItem ExpressionAttributeNames {}", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeNames={})))
    a(("put.bad_value_name", "ExpressionAttributeValues key 'u' (no colon)", "PutItem",
       put(hk("p3"), ConditionExpression="a = :u", ExpressionAttributeValues={"u": N(1)})))
    a(("put.bad_attr_name_key", "ExpressionAttributeNames key 'u' (no #)", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeNames={"u": "x"})))
    a(("cond.undefined_value", "ConditionExpression a = :nope (undefined)", "PutItem",
       put(hk("p3"), ConditionExpression="a = :nope")))
    a(("cond.undefined_name", "ConditionExpression #nope = :v (undefined name)", "PutItem",
       put(hk("p3"), ConditionExpression="#nope = :v", ExpressionAttributeValues={":v": N(1)})))
    a(("cond.reserved_status", "ConditionExpression status = :v", "PutItem",
       put(hk("p3"), ConditionExpression="status = :v", ExpressionAttributeValues={":v": S("x")})))
    a(("cond.reserved_name", "ConditionExpression attribute_exists(name)", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_exists(name)")))
    a(("cond.syntax_eqeq", "ConditionExpression a = = :v", "PutItem",
       put(hk("p3"), ConditionExpression="a = = :v", ExpressionAttributeValues={":v": N(1)})))
    a(("cond.syntax_trailing", "ConditionExpression a = :v AND", "PutItem",
       put(hk("p3"), ConditionExpression="a = :v AND", ExpressionAttributeValues={":v": N(1)})))
    a(("cond.syntax_paren", "ConditionExpression (a = :v", "PutItem",
       put(hk("p3"), ConditionExpression="(a = :v", ExpressionAttributeValues={":v": N(1)})))
    a(("cond.quoted_names", "ConditionExpression attribute_not_exists(\"Artist\")", "PutItem",
       put(hk("p3"), ConditionExpression='attribute_not_exists("Artist")')))
    a(("cond.empty", "ConditionExpression \"\"", "PutItem", put(hk("p3"), ConditionExpression="")))
    a(("cond.unknown_function", "ConditionExpression foo(a)", "PutItem",
       put(hk("p3"), ConditionExpression="foo(a)")))
    a(("cond.size_bare", "ConditionExpression size(a) (not a condition)", "PutItem",
       put(hk("p3"), ConditionExpression="size(a)")))
    a(("cond.bad_attribute_type", "attribute_type(a, :t) with :t = \"X\"", "PutItem",
       put(hk("p1"), ConditionExpression="attribute_type(a, :t)", ExpressionAttributeValues={":t": S("X")})))
    a(("cond.attribute_type_N_arg", "attribute_type(a, :t) with :t a number", "PutItem",
       put(hk("p1"), ConditionExpression="attribute_type(a, :t)", ExpressionAttributeValues={":t": N(1)})))
    a(("cond.between_bounds", "a BETWEEN :hi AND :lo (hi > lo)", "PutItem",
       put(hk("p1"), ConditionExpression="a BETWEEN :hi AND :lo",
           ExpressionAttributeValues={":hi": N(5), ":lo": N(1)})))
    a(("cond.between_types", "a BETWEEN :n AND :s (mixed types)", "PutItem",
       put(hk("p1"), ConditionExpression="a BETWEEN :n AND :s",
           ExpressionAttributeValues={":n": N(1), ":s": S("z")})))
    a(("cond.begins_with_number", "begins_with(a, :n) with :n a number", "PutItem",
       put(hk("p1"), ConditionExpression="begins_with(a, :n)", ExpressionAttributeValues={":n": N(1)})))
    a(("cond.in_too_many", "a IN (101 values)", "PutItem",
       put(hk("p1"), ConditionExpression="a IN (" + ", ".join(f":v{i}" for i in range(101)) + ")",
           ExpressionAttributeValues={f":v{i}": N(i) for i in range(101)})))
    a(("cond.legacy_and_expr", "Expected together with ConditionExpression", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_not_exists(pk)", Expected={"a": {"Exists": False}})))
    a(("cond.value_in_attr_position", "attribute_exists(:v)", "PutItem",
       put(hk("p3"), ConditionExpression="attribute_exists(:v)", ExpressionAttributeValues={":v": N(1)})))
    a(("cond.compare_key_fail", "pk = :v false on existing item", "PutItem",
       put(hk("p1"), ConditionExpression="a > :v", ExpressionAttributeValues={":v": N(5)})))
    # ---- GetItem ----
    a(("get.missing_table", "GetItem missing table", "GetItem", {"TableName": MISSING, "Key": hk()}))
    a(("get.missing_key_attr", "GetItem Key without hash key", "GetItem", {"TableName": H, "Key": {"a": N(1)}}))
    a(("get.missing_range", "GetItem (range table) Key without range key", "GetItem", {"TableName": R, "Key": hk()}))
    a(("get.extra_key_attr", "GetItem Key with a non-key attribute", "GetItem",
       {"TableName": H, "Key": {"pk": S("p1"), "a": N(1)}}))
    a(("get.key_wrong_type", "GetItem Key hash N instead of S", "GetItem", {"TableName": H, "Key": {"pk": N(1)}}))
    a(("get.empty_key_value", "GetItem Key pk \"\"", "GetItem", {"TableName": H, "Key": {"pk": S("")}}))
    a(("get.no_key", "GetItem without Key", "GetItem", {"TableName": H}))
    a(("get.projection_syntax", "GetItem ProjectionExpression 'a,,b'", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "a,,b"}))
    a(("get.projection_reserved", "GetItem ProjectionExpression 'name'", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "name"}))
    a(("get.projection_overlap", "GetItem ProjectionExpression 'm, m.b'", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "m, m.b"}))
    a(("get.projection_conflict", "GetItem ProjectionExpression 'l[0], l.b'", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "l[0], l.b"}))
    a(("get.projection_dup", "GetItem ProjectionExpression 'a, a'", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "a, a"}))
    a(("get.projection_and_attrs", "GetItem ProjectionExpression + AttributesToGet", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "a", "AttributesToGet": ["a"]}))
    a(("get.unused_name", "GetItem unused ExpressionAttributeNames", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "a", "ExpressionAttributeNames": {"#x": "x"}}))
    a(("get.values_given", "GetItem with ExpressionAttributeValues", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "a", "ExpressionAttributeValues": {":x": N(1)}}))
    a(("get.ok", "GetItem existing item (ok)", "GetItem", {"TableName": H, "Key": hk()}))
    # ---- UpdateItem ----
    a(("update.missing_table", "UpdateItem missing table", "UpdateItem",
       upd("SET a = :v", table=MISSING, values={":v": N(1)})))
    a(("update.key_attr", "UpdateItem SET pk = :v (key attribute)", "UpdateItem", upd("SET pk = :v", values={":v": S("z")})))
    a(("update.range_key_attr", "UpdateItem SET sk = :v (range key)", "UpdateItem",
       upd("SET sk = :v", key=rk(), table=R, values={":v": N(9)})))
    a(("update.remove_key", "UpdateItem REMOVE pk", "UpdateItem", upd("REMOVE pk")))
    a(("update.reserved_name", "UpdateItem SET name = :v", "UpdateItem", upd("SET name = :v", values={":v": S("z")})))
    a(("update.undefined_value", "UpdateItem SET a = :nope", "UpdateItem", upd("SET a = :nope")))
    a(("update.undefined_name", "UpdateItem SET #nope = :v", "UpdateItem", upd("SET #nope = :v", values={":v": N(1)})))
    a(("update.unused_value", "UpdateItem unused :u", "UpdateItem", upd("SET a = :v", values={":v": N(1), ":u": N(2)})))
    a(("update.unused_name", "UpdateItem unused #u", "UpdateItem",
       upd("SET a = :v", names={"#u": "x"}, values={":v": N(1)})))
    a(("update.syntax", "UpdateItem 'SET a :v'", "UpdateItem", upd("SET a :v", values={":v": N(1)})))
    a(("update.bad_keyword", "UpdateItem 'PUT a = :v'", "UpdateItem", upd("PUT a = :v", values={":v": N(1)})))
    a(("update.empty_expr", "UpdateItem UpdateExpression \"\"", "UpdateItem", upd("")))
    a(("update.set_twice", "UpdateItem 'SET a = :v SET b = :v'", "UpdateItem",
       upd("SET a = :v SET b = :v", values={":v": N(1)})))
    a(("update.overlap", "UpdateItem 'SET a = :v REMOVE a'", "UpdateItem", upd("SET a = :v REMOVE a", values={":v": N(1)})))
    a(("update.overlap_nested", "UpdateItem 'SET m = :v, m.b = :v'", "UpdateItem",
       upd("SET m = :v, m.b = :v", values={":v": N(1)})))
    a(("update.add_to_string", "UpdateItem ADD s :n (s is a string)", "UpdateItem", upd("ADD s :n", values={":n": N(1)})))
    a(("update.add_string_operand", "UpdateItem ADD a :s (operand string)", "UpdateItem", upd("ADD a :s", values={":s": S("x")})))
    a(("update.add_set_type_mismatch", "UpdateItem ADD ss :ns (SS attr, NS operand)", "UpdateItem",
       upd("ADD ss :ns", values={":ns": {"NS": ["1"]}})))
    a(("update.add_nested", "UpdateItem ADD m.b :n (nested path)", "UpdateItem", upd("ADD m.b :n", values={":n": N(1)})))
    a(("update.delete_from_number", "UpdateItem DELETE a :ss (a is a number)", "UpdateItem",
       upd("DELETE a :ss", values={":ss": {"SS": ["x"]}})))
    a(("update.delete_non_set_operand", "UpdateItem DELETE ss :s (operand string)", "UpdateItem",
       upd("DELETE ss :s", values={":s": S("x")})))
    a(("update.plus_string", "UpdateItem SET a = s + :n (string + number)", "UpdateItem",
       upd("SET a = s + :n", values={":n": N(1)})))
    a(("update.plus_missing", "UpdateItem SET a = nope + :n (missing attribute)", "UpdateItem",
       upd("SET a = nope + :n", values={":n": N(1)})))
    a(("update.list_append_non_list", "UpdateItem SET l = list_append(l, :n)", "UpdateItem",
       upd("SET l = list_append(l, :n)", values={":n": N(1)})))
    a(("update.nested_missing_parent", "UpdateItem SET nope.b = :v", "UpdateItem", upd("SET nope.b = :v", values={":v": N(1)})))
    a(("update.index_on_non_list", "UpdateItem SET a[0] = :v (a is a number)", "UpdateItem",
       upd("SET a[0] = :v", values={":v": N(1)})))
    a(("update.unknown_function", "UpdateItem SET a = foo(:v)", "UpdateItem", upd("SET a = foo(:v)", values={":v": N(1)})))
    a(("update.function_in_condition_only", "UpdateItem SET a = size(s)", "UpdateItem", upd("SET a = size(s)")))
    a(("update.if_not_exists_bad_arg", "UpdateItem SET a = if_not_exists(:v, a)", "UpdateItem",
       upd("SET a = if_not_exists(:v, a)", values={":v": N(1)})))
    a(("update.returnvalues_bad", "UpdateItem ReturnValues=FOO", "UpdateItem",
       upd("SET a = :v", values={":v": N(1)}, ReturnValues="FOO")))
    a(("update.cond_fail", "UpdateItem ConditionExpression false", "UpdateItem",
       upd("SET a = :v", values={":v": N(1)}, ConditionExpression="attribute_not_exists(pk)")))
    a(("update.cond_fail_all_old", "...same with ReturnValuesOnConditionCheckFailure=ALL_OLD", "UpdateItem",
       upd("SET a = :v", key=hk("p1"), values={":v": N(1)}, ConditionExpression="attribute_not_exists(pk)",
           ReturnValuesOnConditionCheckFailure="ALL_OLD")))
    a(("update.expr_and_attributeupdates", "UpdateExpression with AttributeUpdates", "UpdateItem",
       upd("SET a = :v", values={":v": N(1)}, AttributeUpdates={"b": {"Action": "PUT", "Value": N(1)}})))
    a(("update.key_wrong_type", "UpdateItem Key hash N", "UpdateItem", upd("SET a = :v", key={"pk": N(1)}, values={":v": N(1)})))
    a(("update.set_empty_set", "UpdateItem SET x = :e (empty SS)", "UpdateItem", upd("SET x = :e", values={":e": {"SS": []}})))
    a(("update.item_too_big", "UpdateItem growing item past 400 KB", "UpdateItem",
       upd("SET d = :d", key=hk("big2"), values={":d": S(big)})))
    # ---- DeleteItem ----
    a(("delete.missing_table", "DeleteItem missing table", "DeleteItem", {"TableName": MISSING, "Key": hk()}))
    a(("delete.cond_fail", "DeleteItem ConditionExpression false", "DeleteItem",
       {"TableName": H, "Key": hk(), "ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": N(99)}}))
    a(("delete.cond_fail_missing_item", "DeleteItem attribute_exists(pk) on a missing item", "DeleteItem",
       {"TableName": H, "Key": hk("nope"), "ConditionExpression": "attribute_exists(pk)"}))
    a(("delete.returnvalues_all_new", "DeleteItem ReturnValues=ALL_NEW", "DeleteItem",
       {"TableName": H, "Key": hk("nope"), "ReturnValues": "ALL_NEW"}))
    a(("delete.key_wrong_type", "DeleteItem Key hash N", "DeleteItem", {"TableName": H, "Key": {"pk": N(1)}}))
    # ---- Query ----
    a(("query.missing_table", "Query missing table", "Query", q("pk = :p", {":p": S("p1")}, table=MISSING)))
    a(("query.no_key_condition", "Query without KeyConditionExpression", "Query", {"TableName": R}))
    a(("query.non_key_attr", "Query KeyCondition on non-key attribute v", "Query",
       q("pk = :p AND v = :v", {":p": S("p1"), ":v": S("x")})))
    a(("query.range_only", "Query KeyCondition sk = :s only", "Query", q("sk = :s", {":s": N(1)})))
    a(("query.hash_not_eq", "Query KeyCondition pk > :p", "Query", q("pk > :p", {":p": S("p1")})))
    a(("query.or", "Query KeyCondition with OR", "Query", q("pk = :p OR sk = :s", {":p": S("p1"), ":s": N(1)})))
    a(("query.begins_with_number", "Query begins_with on N sort key", "Query",
       q("pk = :p AND begins_with(sk, :s)", {":p": S("p1"), ":s": N(1)})))
    a(("query.key_wrong_type", "Query pk = :p with :p a number", "Query", q("pk = :p", {":p": N(1)})))
    a(("query.two_range_conds", "Query sk > :a AND sk < :b", "Query",
       q("pk = :p AND sk > :a AND sk < :b", {":p": S("p1"), ":a": N(1), ":b": N(3)})))
    a(("query.between_bounds", "Query sk BETWEEN :hi AND :lo (hi > lo)", "Query",
       q("pk = :p AND sk BETWEEN :hi AND :lo", {":p": S("p1"), ":hi": N(3), ":lo": N(1)})))
    a(("query.limit_0", "Query Limit=0", "Query", q("pk = :p", {":p": S("p1")}, Limit=0)))
    a(("query.filter_on_key", "Query FilterExpression on sort key", "Query",
       q("pk = :p", {":p": S("p1"), ":s": N(1)}, FilterExpression="sk = :s")))
    a(("query.select_specific_no_proj", "Query Select=SPECIFIC_ATTRIBUTES without projection", "Query",
       q("pk = :p", {":p": S("p1")}, Select="SPECIFIC_ATTRIBUTES")))
    a(("query.select_count_with_proj", "Query Select=COUNT with ProjectionExpression", "Query",
       q("pk = :p", {":p": S("p1")}, Select="COUNT", ProjectionExpression="v")))
    a(("query.select_all_with_proj", "Query Select=ALL_ATTRIBUTES with ProjectionExpression", "Query",
       q("pk = :p", {":p": S("p1")}, Select="ALL_ATTRIBUTES", ProjectionExpression="v")))
    a(("query.select_bad", "Query Select=FOO", "Query", q("pk = :p", {":p": S("p1")}, Select="FOO")))
    a(("query.esk_wrong_partition", "Query ExclusiveStartKey from another partition", "Query",
       q("pk = :p", {":p": S("p1")}, ExclusiveStartKey=rk("other", 1))))
    a(("query.esk_missing_range", "Query ExclusiveStartKey without sort key", "Query",
       q("pk = :p", {":p": S("p1")}, ExclusiveStartKey=hk("p1"))))
    a(("query.esk_extra_attr", "Query ExclusiveStartKey with extra attribute", "Query",
       q("pk = :p", {":p": S("p1")}, ExclusiveStartKey={"pk": S("p1"), "sk": N(1), "v": S("x")})))
    a(("query.reserved_in_kce", "Query KeyCondition 'pk = :p AND data = :d'", "Query",
       q("pk = :p AND data = :d", {":p": S("p1"), ":d": N(1)})))
    a(("query.unused_value", "Query unused ExpressionAttributeValues", "Query", q("pk = :p", {":p": S("p1"), ":u": N(1)})))
    a(("query.contains_in_kce", "Query KeyCondition contains(sk, :s)", "Query",
       q("pk = :p AND contains(sk, :s)", {":p": S("p1"), ":s": N(1)})))
    a(("query.ok", "Query pk = :p (ok)", "Query", q("pk = :p", {":p": S("p1")})))
    # ---- Scan ----
    a(("scan.missing_table", "Scan missing table", "Scan", {"TableName": MISSING}))
    a(("scan.segment_ge_total", "Scan Segment=2 TotalSegments=2", "Scan", {"TableName": H, "Segment": 2, "TotalSegments": 2}))
    a(("scan.segment_only", "Scan Segment=0 without TotalSegments", "Scan", {"TableName": H, "Segment": 0}))
    a(("scan.total_only", "Scan TotalSegments=2 without Segment", "Scan", {"TableName": H, "TotalSegments": 2}))
    a(("scan.total_zero", "Scan Segment=0 TotalSegments=0", "Scan", {"TableName": H, "Segment": 0, "TotalSegments": 0}))
    a(("scan.total_too_big", "Scan TotalSegments=1000001", "Scan", {"TableName": H, "Segment": 0, "TotalSegments": 1000001}))
    a(("scan.segment_negative", "Scan Segment=-1", "Scan", {"TableName": H, "Segment": -1, "TotalSegments": 2}))
    a(("scan.limit_0", "Scan Limit=0", "Scan", {"TableName": H, "Limit": 0}))
    a(("scan.filter_syntax", "Scan FilterExpression 'a >'", "Scan", {"TableName": H, "FilterExpression": "a >"}))
    a(("scan.filter_reserved", "Scan FilterExpression 'status = :v'", "Scan",
       {"TableName": H, "FilterExpression": "status = :v", "ExpressionAttributeValues": {":v": S("ok")}}))
    a(("scan.esk_wrong_type", "Scan ExclusiveStartKey pk N", "Scan", {"TableName": H, "ExclusiveStartKey": {"pk": N(1)}}))
    a(("scan.ok", "Scan (ok)", "Scan", {"TableName": H, "Select": "COUNT"}))
    # ---- BatchGetItem ----
    a(("bget.101_keys", "BatchGetItem 101 keys", "BatchGetItem",
       {"RequestItems": {H: {"Keys": [hk(f"k{i}") for i in range(101)]}}}))
    a(("bget.100_keys", "BatchGetItem 100 keys (ok)", "BatchGetItem",
       {"RequestItems": {H: {"Keys": [hk(f"k{i}") for i in range(100)]}}}))
    a(("bget.dup_keys", "BatchGetItem duplicate keys", "BatchGetItem", {"RequestItems": {H: {"Keys": [hk(), hk()]}}}))
    a(("bget.missing_table", "BatchGetItem missing table", "BatchGetItem", {"RequestItems": {MISSING: {"Keys": [hk()]}}}))
    a(("bget.empty", "BatchGetItem RequestItems {}", "BatchGetItem", {"RequestItems": {}}))
    a(("bget.empty_keys", "BatchGetItem Keys []", "BatchGetItem", {"RequestItems": {H: {"Keys": []}}}))
    a(("bget.key_wrong_type", "BatchGetItem key hash N", "BatchGetItem", {"RequestItems": {H: {"Keys": [{"pk": N(1)}]}}}))
    a(("bget.key_missing_attr", "BatchGetItem key without hash", "BatchGetItem", {"RequestItems": {H: {"Keys": [{"a": N(1)}]}}}))
    a(("bget.projection_reserved", "BatchGetItem ProjectionExpression 'name'", "BatchGetItem",
       {"RequestItems": {H: {"Keys": [hk()], "ProjectionExpression": "name"}}}))
    # ---- BatchWriteItem ----
    a(("bwrite.26", "BatchWriteItem 26 puts", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": hk(f"w{i}")}} for i in range(26)]}}))
    a(("bwrite.25", "BatchWriteItem 25 puts (ok)", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": hk(f"w{i}")}} for i in range(25)]}}))
    a(("bwrite.dup_keys", "BatchWriteItem two puts same key", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": hk("w1")}}, {"PutRequest": {"Item": hk("w1")}}]}}))
    a(("bwrite.put_delete_same", "BatchWriteItem put+delete same key", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": hk("w1")}}, {"DeleteRequest": {"Key": hk("w1")}}]}}))
    a(("bwrite.missing_table", "BatchWriteItem missing table", "BatchWriteItem",
       {"RequestItems": {MISSING: [{"PutRequest": {"Item": hk()}}]}}))
    a(("bwrite.empty", "BatchWriteItem RequestItems {}", "BatchWriteItem", {"RequestItems": {}}))
    a(("bwrite.empty_list", "BatchWriteItem table -> []", "BatchWriteItem", {"RequestItems": {H: []}}))
    a(("bwrite.empty_request", "BatchWriteItem [{}]", "BatchWriteItem", {"RequestItems": {H: [{}]}}))
    a(("bwrite.both_in_one", "BatchWriteItem request with PutRequest and DeleteRequest", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": hk("w1")}, "DeleteRequest": {"Key": hk("w2")}}]}}))
    a(("bwrite.missing_key", "BatchWriteItem put without hash key", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": {"a": N(1)}}}]}}))
    a(("bwrite.empty_set", "BatchWriteItem put with SS []", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": {"pk": S("w1"), "x": {"SS": []}}}}]}}))
    a(("bwrite.item_too_big", "BatchWriteItem put over 400 KB", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": {"pk": S("w1"), "d": S(big)}}}]}}))
    a(("bwrite.delete_extra_attr", "BatchWriteItem delete key with non-key attribute", "BatchWriteItem",
       {"RequestItems": {H: [{"DeleteRequest": {"Key": {"pk": S("w1"), "a": N(1)}}}]}}))
    # ---- more protocol / parameter validation ----
    a(("proto.get_root", "GET / (no body)", None, "", {"method": "GET"}))
    a(("proto.bad_path", "POST /foo ListTables", "ListTables", {}, {"path": "/foo"}))
    a(("param.rvoccf_bad", "PutItem ReturnValuesOnConditionCheckFailure=FOO", "PutItem",
       put(hk("p3"), ReturnValuesOnConditionCheckFailure="FOO")))
    a(("param.rcc_bad", "GetItem ReturnConsumedCapacity=FOO", "GetItem",
       {"TableName": H, "Key": hk(), "ReturnConsumedCapacity": "FOO"}))
    a(("param.consistent_read_string", "GetItem ConsistentRead=\"yes\"", "GetItem",
       {"TableName": H, "Key": hk(), "ConsistentRead": "yes"}))
    a(("put.number_nan", "PutItem N \"NaN\"", "PutItem", put({"pk": S("p2"), "x": N("NaN")})))
    a(("put.number_infinity", "PutItem N \"Infinity\"", "PutItem", put({"pk": S("p2"), "x": N("Infinity")})))
    a(("put.number_empty", "PutItem N \"\"", "PutItem", put({"pk": S("p2"), "x": N("")})))
    a(("put.number_key_bad", "PutItem (range) sort key N \"x1\"", "PutItem", put({"pk": S("p2"), "sk": N("x1")}, table=R)))
    deep = S("leaf")
    for _ in range(33):
        deep = {"M": {"d": deep}}
    a(("put.too_deep", "PutItem map nested 33 levels (31 is accepted)", "PutItem", put({"pk": S("p2"), "x": deep})))
    deep = S("leaf")
    for _ in range(32):
        deep = {"M": {"d": deep}}
    a(("put.deep_32", "PutItem map nested 32 levels (x = 32 nested M around a leaf)", "PutItem", put({"pk": S("p2"), "x": deep})))
    a(("put.no_item", "PutItem without Item", "PutItem", {"TableName": H}))
    a(("put.no_table_name", "PutItem without TableName", "PutItem", {"Item": hk()}))
    a(("delete.unused_value", "DeleteItem unused ExpressionAttributeValues", "DeleteItem",
       {"TableName": H, "Key": hk("nope"), "ExpressionAttributeValues": {":u": N(1)},
        "ConditionExpression": "attribute_not_exists(pk)"}))
    a(("update.no_update_expr_ok", "UpdateItem with only Key (creates item)", "UpdateItem",
       {"TableName": H, "Key": hk("upsert_only_key")}))
    a(("update.list_index_too_deep_path", "UpdateItem SET l[5] = :v (past end: appends)", "UpdateItem",
       upd("SET l[5] = :v", values={":v": N(9)}, ReturnValues="UPDATED_NEW")))
    a(("update.remove_missing_ok", "UpdateItem REMOVE nope (missing attribute, ok)", "UpdateItem", upd("REMOVE nope")))
    a(("update.delete_missing_set_ok", "UpdateItem DELETE nope :ss (missing attribute, ok)", "UpdateItem",
       upd("DELETE nope :ss", values={":ss": {"SS": ["x"]}})))
    a(("update.if_not_exists_in_cond", "ConditionExpression if_not_exists(a, :v) = :v", "UpdateItem",
       upd("SET a = :v", values={":v": N(1)}, ConditionExpression="if_not_exists(a, :v) = :v")))
    a(("update.cond_undefined_value", "UpdateItem ConditionExpression with undefined :x", "UpdateItem",
       upd("SET a = :v", values={":v": N(1)}, ConditionExpression="a = :x")))
    a(("query.missing_hash_value_name", "Query KeyCondition #k = :p with #k undefined", "Query",
       q("#k = :p", {":p": S("p1")})))
    a(("query.begins_with_ok", "Query begins_with on S hash? (pk begins_with)", "Query",
       q("begins_with(pk, :p)", {":p": S("p")})))
    a(("query.sk_ne", "Query KeyCondition sk <> :s", "Query", q("pk = :p AND sk <> :s", {":p": S("p1"), ":s": N(1)})))
    a(("query.sk_in", "Query KeyCondition sk IN (:s)", "Query", q("pk = :p AND sk IN (:s)", {":p": S("p1"), ":s": N(1)})))
    a(("query.not", "Query KeyCondition NOT pk = :p", "Query", q("NOT pk = :p", {":p": S("p1")})))
    a(("query.scan_index_forward_string", "Query ScanIndexForward=\"no\"", "Query",
       q("pk = :p", {":p": S("p1")}, ScanIndexForward="no")))
    a(("scan.select_count_with_proj", "Scan Select=COUNT with ProjectionExpression", "Scan",
       {"TableName": H, "Select": "COUNT", "ProjectionExpression": "a"}))
    a(("scan.esk_extra_attr", "Scan ExclusiveStartKey with non-key attribute", "Scan",
       {"TableName": H, "ExclusiveStartKey": {"pk": S("p1"), "a": N(1)}}))
    a(("bget.101_keys_two_tables", "BatchGetItem 51 + 50 keys over two tables", "BatchGetItem",
       {"RequestItems": {H: {"Keys": [hk(f"k{i}") for i in range(51)]},
                         R: {"Keys": [rk(f"k{i}", 1) for i in range(50)]}}}))
    a(("bwrite.26_two_tables", "BatchWriteItem 13 + 13 puts over two tables", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": hk(f"w{i}")}} for i in range(13)],
                         R: [{"PutRequest": {"Item": rk(f"w{i}", 1)}} for i in range(13)]}}))
    a(("bwrite.key_wrong_type", "BatchWriteItem delete key hash N", "BatchWriteItem",
       {"RequestItems": {H: [{"DeleteRequest": {"Key": {"pk": N(1)}}}]}}))
    # ---- more cases found while writing the suite ----
    a(("cond.reserved_nested", "ConditionExpression m.inner = :v (reserved word in a nested path)", "PutItem",
       put(hk("p3"), ConditionExpression="m.inner = :v", ExpressionAttributeValues={":v": N(1)})))
    a(("get.projection_undefined_name", "GetItem ProjectionExpression '#x' undefined", "GetItem",
       {"TableName": H, "Key": hk(), "ProjectionExpression": "#x"}))
    a(("delete.missing_key_attr", "DeleteItem Key without hash key", "DeleteItem", {"TableName": H, "Key": {"a": N(1)}}))
    a(("delete.no_key", "DeleteItem without Key", "DeleteItem", {"TableName": H}))
    a(("update.no_key", "UpdateItem without Key", "UpdateItem", {"TableName": H, "UpdateExpression": "REMOVE a"}))
    a(("update.add_to_list", "UpdateItem ADD l :l (list)", "UpdateItem", upd("ADD l :l", values={":l": {"L": [N(1)]}})))
    a(("update.delete_from_list", "UpdateItem DELETE l :l (list operand)", "UpdateItem",
       upd("DELETE l :l", values={":l": {"L": [N(1)]}})))
    a(("update.index_on_map", "UpdateItem SET m[0] = :v (m is a map)", "UpdateItem", upd("SET m[0] = :v", values={":v": N(1)})))
    a(("update.dot_on_list", "UpdateItem SET l.x = :v (l is a list)", "UpdateItem", upd("SET l.x = :v", values={":v": N(1)})))
    a(("update.remove_twice", "UpdateItem REMOVE a, a", "UpdateItem", upd("REMOVE a, a")))
    a(("update.minus_string", "UpdateItem SET a = :s - :n", "UpdateItem",
       upd("SET a = :s - :n", values={":s": S("x"), ":n": N(1)})))
    a(("update.plus_overflow", "UpdateItem SET a = :big + :big (overflow)", "UpdateItem",
       upd("SET a = :big + :big", values={":big": N("9.9999999999999999999999999999999999999E+125")})))
    a(("update.plus_precision", "UpdateItem SET a = :x + :y (result needs > 38 digits)", "UpdateItem",
       upd("SET a = :x + :y", values={":x": N("1E+30"), ":y": N("1E-10")})))
    a(("update.add_duplicate_to_set_ok", "UpdateItem ADD ss :ss (already present, ok)", "UpdateItem",
       upd("ADD ss :ss", values={":ss": {"SS": ["x"]}})))
    a(("update.unused_name_in_cond_only", "UpdateItem #n only in ExpressionAttributeNames, used nowhere", "UpdateItem",
       upd("SET a = :v", names={"#n": "x"}, values={":v": N(1)}, ConditionExpression="attribute_exists(pk)")))
    a(("query.both_key_conditions", "Query KeyConditions + KeyConditionExpression", "Query",
       q("pk = :p", {":p": S("p1")}, KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p1")]}})))
    a(("query.range_on_hash_table", "Query (hash-only table) pk = :p AND sk = :s", "Query",
       q("pk = :p AND sk = :s", {":p": S("p1"), ":s": N(1)}, table=H)))
    a(("query.filter_undefined_value", "Query FilterExpression v = :nope", "Query",
       q("pk = :p", {":p": S("p1")}, FilterExpression="v = :nope")))
    a(("query.unused_name", "Query unused ExpressionAttributeNames", "Query",
       q("pk = :p", {":p": S("p1")}, names={"#u": "x"})))
    a(("query.projection_reserved", "Query ProjectionExpression 'size'", "Query",
       q("pk = :p", {":p": S("p1")}, ProjectionExpression="size")))
    a(("scan.select_specific_no_proj", "Scan Select=SPECIFIC_ATTRIBUTES without projection", "Scan",
       {"TableName": H, "Select": "SPECIFIC_ATTRIBUTES"}))
    a(("scan.unused_value", "Scan unused ExpressionAttributeValues", "Scan",
       {"TableName": H, "FilterExpression": "a = :a", "ExpressionAttributeValues": {":a": N(1), ":u": N(2)}}))
    a(("scan.values_without_filter", "Scan ExpressionAttributeValues without FilterExpression", "Scan",
       {"TableName": H, "ExpressionAttributeValues": {":a": N(1)}}))
    a(("table.update_provisioned_no_throughput", "UpdateTable PAY_PER_REQUEST -> PROVISIONED without throughput",
       "UpdateTable", {"TableName": H, "BillingMode": "PROVISIONED"}))
    a(("table.create_no_name", "CreateTable without TableName", "CreateTable",
       {"KeySchema": KS_H, "AttributeDefinitions": AD_H, "BillingMode": "PAY_PER_REQUEST"}))
    a(("table.describe_long_name", "DescribeTable name of 256 chars", "DescribeTable", {"TableName": "t" * 256}))
    a(("bget.both_proj_and_attrs", "BatchGetItem ProjectionExpression + AttributesToGet", "BatchGetItem",
       {"RequestItems": {H: {"Keys": [hk()], "ProjectionExpression": "a", "AttributesToGet": ["a"]}}}))
    a(("bget.unused_name", "BatchGetItem unused ExpressionAttributeNames", "BatchGetItem",
       {"RequestItems": {H: {"Keys": [hk()], "ProjectionExpression": "a", "ExpressionAttributeNames": {"#u": "x"}}}}))
    a(("bwrite.delete_missing_key", "BatchWriteItem delete without hash key", "BatchWriteItem",
       {"RequestItems": {H: [{"DeleteRequest": {"Key": {"a": N(1)}}}]}}))
    a(("bwrite.dup_ss", "BatchWriteItem put with duplicate SS members", "BatchWriteItem",
       {"RequestItems": {H: [{"PutRequest": {"Item": {"pk": S("w1"), "x": {"SS": ["a", "a"]}}}}]}}))
    # ---- which check wins when a request has two problems ----
    a(("order.missing_table_unused_value", "PutItem missing table + unused :u", "PutItem",
       put(hk(), table=MISSING, ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":u": N(1)})))
    a(("order.missing_table_syntax", "PutItem missing table + condition syntax error", "PutItem",
       put(hk(), table=MISSING, ConditionExpression="a = = b")))
    a(("order.missing_table_reserved", "PutItem missing table + reserved word", "PutItem",
       put(hk(), table=MISSING, ConditionExpression="attribute_exists(name)")))
    a(("order.missing_table_empty_set", "PutItem missing table + empty SS", "PutItem",
       put({"pk": S("a"), "x": {"SS": []}}, table=MISSING)))
    a(("order.missing_table_bad_number", "PutItem missing table + N \"abc\"", "PutItem",
       put({"pk": S("a"), "x": N("abc")}, table=MISSING)))
    a(("order.missing_table_missing_key", "PutItem missing table + no key attribute", "PutItem",
       put({"x": S("a")}, table=MISSING)))
    a(("order.missing_table_too_big", "PutItem missing table + item over 400 KB", "PutItem",
       put({"pk": S("a"), "d": S(big)}, table=MISSING)))
    a(("order.missing_table_bwrite_26", "BatchWriteItem 26 on a missing table", "BatchWriteItem",
       {"RequestItems": {MISSING: [{"PutRequest": {"Item": hk(f"w{i}")}} for i in range(26)]}}))
    a(("order.missing_table_query_limit0", "Query missing table + Limit 0", "Query",
       q("pk = :p", {":p": S("p1")}, table=MISSING, Limit=0)))
    a(("order.missing_table_query_bad_key_attr", "Query missing table + condition on non-key attribute", "Query",
       q("v = :p", {":p": S("p1")}, table=MISSING)))
    a(("order.key_type_and_too_big", "PutItem wrong key type + item over 400 KB", "PutItem",
       put({"pk": N(1), "d": S(big)})))
    a(("order.pk_too_long_and_too_big", "PutItem 2049-byte key + item over 400 KB", "PutItem",
       put({"pk": S("k" * 2049), "d": S(big)})))
    a(("order.too_big_and_cond_fail", "PutItem over 400 KB whose condition is false", "PutItem",
       put({"pk": S("p1"), "d": S(big)}, ConditionExpression="attribute_not_exists(pk)")))
    a(("order.key_type_and_cond_fail", "PutItem wrong key type + false condition", "PutItem",
       put({"pk": N(1)}, ConditionExpression="attribute_exists(pk)")))
    a(("order.update_key_attr_and_cond_fail", "UpdateItem SET pk + false condition", "UpdateItem",
       upd("SET pk = :v", values={":v": S("z")}, ConditionExpression="attribute_not_exists(pk)")))
    a(("order.update_type_error_and_cond_fail", "UpdateItem ADD s :n (s string) + false condition", "UpdateItem",
       upd("ADD s :n", values={":n": N(1)}, ConditionExpression="attribute_not_exists(pk)")))
    a(("order.unused_and_undefined", "PutItem unused :u + undefined :x", "PutItem",
       put(hk(), ConditionExpression="a = :x", ExpressionAttributeValues={":u": N(1)})))
    a(("order.syntax_and_unused", "PutItem syntax error + unused :u", "PutItem",
       put(hk(), ConditionExpression="a = = :x", ExpressionAttributeValues={":u": N(1)})))
    return c


CASES = _cases()


def run_endpoint(url, only=None):
    setup(url)
    # sort key length needs a range table with a string sort key
    raw(url, "DeleteTable", {"TableName": "rotor_diff_srange"})
    time.sleep(0.2)
    raw(url, "CreateTable", {"TableName": "rotor_diff_srange",
                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}],
                             "BillingMode": "PAY_PER_REQUEST"})
    results = {}
    try:
        for case in CASES:
            cid, desc, target, body = case[:4]
            if only and only not in cid:
                continue
            opts = case[4] if len(case) > 4 else {}
            if body == "__SK_TOO_LONG__":
                body = {"TableName": "rotor_diff_srange", "Item": {"pk": S("p"), "sk": S("s" * 1025)}}
            try:
                st, doc, text = raw(url, target, body, headers=opts.get("headers"), sign=opts.get("sign", True),
                                    method=opts.get("method", "POST"), path=opts.get("path"))
                results[cid] = summarize(st, doc, text)
            except Exception as e:  # connection errors etc.
                results[cid] = {"status": None, "type": "CLIENT-ERROR", "message": repr(e),
                                "message_key": None, "extra": None}
    finally:
        teardown(url)
        raw(url, "DeleteTable", {"TableName": "rotor_diff_srange"})
    return results


# Answers of the real DynamoDB service where DynamoDB Local is known to differ
# (see ERRORS.md, "known departures"): (status, short __type, message or None
# for "any"). A difference from DynamoDB Local that matches these is labelled.
_RNF = (400, "ResourceNotFoundException", "Requested resource not found")
_SER = (400, "SerializationException", None)
_UNK = (400, "UnknownOperationException", None)
REAL_DYNAMODB = {
    "table.create_exists": (400, "ResourceInUseException", "Table already exists: rotor_diff_hash"),
    "table.describe_missing": (400, "ResourceNotFoundException",
                               "Requested resource not found: Table: rotor_diff_no_such_table not found"),
    "put.pk_too_long": (400, "ValidationException", "One or more parameter values were invalid: Size of hashkey has "
                                                    "exceeded the maximum size limit of2048 bytes"),
    "put.sk_too_long": (400, "ValidationException", "One or more parameter values were invalid: Aggregated size of "
                                                    "all range keys has exceeded the size limit of 1024 bytes"),
    "proto.malformed_json": _SER, "proto.empty_body": _SER, "proto.empty_body_describe": _SER,
    "proto.json_array": _SER, "proto.wrong_field_type_limit": _SER, "param.consistent_read_string": _SER,
    "query.scan_index_forward_string": _SER, "put.bad_base64": _SER,
    "proto.no_target": _UNK, "proto.target_no_prefix": _UNK, "proto.get_root": _UNK, "proto.wrong_version": _UNK,
    "table.ppr_with_throughput": (400, "ValidationException", "One or more parameter values were invalid: Neither "
                                  "ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is "
                                  "PAY_PER_REQUEST"),
    "table.bad_billing": (400, "ValidationException", "1 validation error detected: Value 'FOO' at 'billingMode' "
                          "failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, "
                          "PAY_PER_REQUEST]"),
    "table.list_limit_0": (400, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to "
                           "satisfy constraint: Member must have value greater than or equal to 1"),
    "query.limit_0": (400, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to "
                      "satisfy constraint: Member must have value greater than or equal to 1"),
    "scan.limit_0": (400, "ValidationException", "1 validation error detected: Value '0' at 'limit' failed to "
                     "satisfy constraint: Member must have value greater than or equal to 1"),
    "scan.total_zero": (400, "ValidationException", "1 validation error detected: Value '0' at 'totalSegments' "
                        "failed to satisfy constraint: Member must have value greater than or equal to 1"),
    "param.rcc_bad": (400, "ValidationException", "1 validation error detected: Value 'FOO' at "
                      "'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: "
                      "[INDEXES, TOTAL, NONE]"),
}


def _real_match(cid, r):
    exp = REAL_DYNAMODB.get(cid)
    if exp is None and cid.endswith("missing_table") and r["status"] == 400:
        exp = _RNF
    if exp is None:
        return False
    st, ty, msg = exp
    return r["status"] == st and short_type(r["type"]) == ty and (msg is None or r["message"] == msg)


def short_type(t):
    return t.rsplit("#", 1)[-1] if t else t


def md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("endpoints", nargs="+", help="NAME=URL")
    ap.add_argument("--json", help="write all results as JSON to this file")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table of the first endpoint's answers")
    ap.add_argument("--only", help="run only cases whose id contains this")
    ap.add_argument("--update-errors-md", metavar="FILE",
                    help="rewrite the generated table section of FILE (ERRORS.md) with the first endpoint's answers")
    args = ap.parse_args()
    eps = []
    for e in args.endpoints:
        name, _, url = e.partition("=")
        if not url:
            name, url = urllib.parse.urlparse(e).netloc, e
        eps.append((name, url.rstrip("/")))
    all_res = {name: run_endpoint(url, args.only) for name, url in eps}
    desc = {c[0]: (c[1], c[2]) for c in CASES}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_res, f, indent=1, sort_keys=True)
    ref_name = eps[0][0]
    ref = all_res[ref_name]
    if args.update_errors_md:
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            print_markdown(ref, desc)
        text = open(args.update_errors_md).read()
        begin, end = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
        a, b = text.index(begin) + len(begin), text.index(end)
        with open(args.update_errors_md, "w") as f:
            f.write(text[:a] + "\n" + buf.getvalue() + "\n" + text[b:])
        print(f"updated {args.update_errors_md} ({len(ref)} cases)")
        return 0
    if args.markdown:
        print_markdown(ref, desc)
        return 0
    return print_diff(eps, all_res, ref_name, ref)


def print_markdown(ref, desc):
    """Markdown tables (one per area) of status / __type / message."""
    sections = {"order": "Which check wins (two problems in one request)", "proto": "Protocol / envelope", "param": "Parameter validation", "table": "Table operations",
                "put": "PutItem and item validation", "cond": "ConditionExpression", "get": "GetItem",
                "update": "UpdateItem", "delete": "DeleteItem", "query": "Query", "scan": "Scan",
                "bget": "BatchGetItem", "bwrite": "BatchWriteItem"}
    order = list(sections)[1:] + ["order"]
    ids = sorted(ref, key=lambda i: (order.index(i.split(".")[0]) if i.split(".")[0] in order else 99))
    cur = None
    for cid in ids:
        r = ref[cid]
        sec = cid.split(".")[0]
        if sec != cur:
            cur = sec
            print(f"\n### {sections.get(sec, sec)}\n")
            print("| id | request | HTTP | __type | message |")
            print("|---|---|---|---|---|")
        d, target = desc[cid]
        op = (target or "(no target)").replace("DynamoDB_20120810.", "")
        msg = r["message"]
        msg = "-" if msg is None else f"`{msg}`" if "`" not in str(msg) else str(msg)
        if r["message_key"] not in (None, "Message"):
            msg += f" (key `{r['message_key']}`)"
        if r["extra"]:
            msg += f" + `{json.dumps(r['extra'], sort_keys=True)}`"
        print(f"| {cid} | {md_escape(op + ': ' + d)} | {r['status']} | {md_escape(r['type'] or '-')} "
              f"| {md_escape(msg)} |")


def print_diff(eps, all_res, ref_name, ref):
    differ = 0
    for cid, r in ref.items():
        line = f"{cid:38} {ref_name}: {r['status']} {short_type(r['type']) or '-'}"
        diffs = []
        for name, _ in eps[1:]:
            o = all_res[name].get(cid)
            if o is None:
                continue
            real = _real_match(cid, o)
            note = "  (matches real DynamoDB; known DynamoDB Local departure)" if real else ""
            if (o["status"], short_type(o["type"])) != (r["status"], short_type(r["type"])):
                diffs.append(f"    {name}: {o['status']} {short_type(o['type']) or '-'}  (STATUS/TYPE DIFFER){note}")
                if not real:
                    differ += 1
            if o["message"] != r["message"]:
                diffs.append(f"    message {ref_name}: {r['message']!r}\n    message {name}: {o['message']!r}{note}")
            if o["type"] != r["type"] and short_type(o["type"]) == short_type(r["type"]):
                diffs.append(f"    __type prefix differs: {r['type']!r} vs {o['type']!r}")
        print(line)
        if len(eps) == 1 and r["message"]:
            print(f"    message: {r['message']!r}")
        for d in diffs:
            print(d)
    n = len(ref)
    if len(eps) > 1:
        print(f"\n{n - differ} agree, {differ} differ (status/__type) out of {n} cases x {len(eps) - 1} endpoint(s)")
    else:
        print(f"\n{n} cases run against {ref_name}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
