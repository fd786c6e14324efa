"""Raw HTTP: the JSON 1.0 envelope, error bodies, and protocol errors that a
well-behaved SDK never sends (wrong X-Amz-Target, malformed JSON, ...)."""
import json
import zlib

import pytest

from differential import raw


def _code(doc):
    return (doc or {}).get("__type", "").rsplit("#", 1)[-1]


def _msg(doc):
    doc = doc or {}
    return doc.get("message", doc.get("Message"))


def test_list_tables_raw(endpoint):
    status, doc, text = raw(endpoint, "ListTables", {})
    assert status == 200
    assert isinstance(doc["TableNames"], list)


def test_success_headers(endpoint):
    import http.client
    import urllib.parse
    from differential import _sign
    u = urllib.parse.urlparse(endpoint)
    body = b"{}"
    h = _sign(endpoint, {"Content-Type": "application/x-amz-json-1.0",
                         "X-Amz-Target": "DynamoDB_20120810.ListTables"}, body)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", "/", body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/x-amz-json-1.0"
    assert resp.getheader("x-amzn-RequestId")
    crc = resp.getheader("x-amz-crc32")
    if crc is not None:  # botocore verifies it when present
        assert int(crc) == zlib.crc32(data) & 0xFFFFFFFF


def test_error_body_shape(endpoint):
    status, doc, _ = raw(endpoint, "DescribeTable", {"TableName": "no_such_table_proto"})
    assert status == 400
    assert doc["__type"] == "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    # DDB-LOCAL DEPARTURE: DynamoDB Local uses "Message"; real DynamoDB "message".
    assert _msg(doc) in ("Cannot do operations on a non-existent table", "Requested resource not found",
                         "Requested resource not found: Table: no_such_table_proto not found")


def test_validation_error_type(endpoint):
    status, doc, _ = raw(endpoint, "ListTables", {"Limit": 101})
    assert status == 400
    assert doc["__type"] == "com.amazon.coral.validate#ValidationException"


def test_unknown_operation(endpoint):
    status, doc, _ = raw(endpoint, "DynamoDB_20120810.NoSuchOp", {})
    assert status == 400
    assert _code(doc) == "UnknownOperationException"


@pytest.mark.parametrize("target", [None, "Foo.ListTables", "DynamoDB_20111205.ListTables", "ListTables"])
def test_bad_target(endpoint, target):
    # "ListTables" here means literally that header value, without the service prefix
    hdr_target = target
    if target == "ListTables":
        hdr_target = "ListTables"
        status, doc, _ = raw(endpoint, None, {}, headers={"X-Amz-Target": hdr_target})
    else:
        status, doc, _ = raw(endpoint, hdr_target, {})
    if status == 500:
        # DDB-LOCAL DEPARTURE: DynamoDB Local answers a missing X-Amz-Target,
        # or one without the "Service." prefix, with 500 InternalFailure; real
        # DynamoDB answers 400 UnknownOperationException.
        assert _code(doc) == "InternalFailure" and (target is None or "." not in target)
        return
    assert status == 400
    assert _code(doc) in ("UnknownOperationException", "InvalidAction"), doc


@pytest.mark.parametrize("body", ['{"TableName":', "", "[]", "not json", '{"Limit": "x"}'])
def test_malformed_json(endpoint, body):
    status, doc, _ = raw(endpoint, "ListTables", body)
    if status == 500:
        # DDB-LOCAL DEPARTURE: DynamoDB Local answers unparseable or mistyped
        # JSON with 500 InternalFailure; real DynamoDB answers 400
        # com.amazon.coral.service#SerializationException.
        assert _code(doc) == "InternalFailure"
        return
    assert status == 400
    assert _code(doc) == "SerializationException", doc


def test_empty_body_object_ok(endpoint):
    status, doc, _ = raw(endpoint, "ListTables", "{}")
    assert status == 200


def test_unknown_fields_ignored(endpoint):
    status, doc, _ = raw(endpoint, "ListTables", {"Foo": 1, "Bar": {"x": [1]}})
    assert status == 200


def test_missing_authorization(endpoint):
    status, doc, _ = raw(endpoint, "ListTables", {}, sign=False)
    # DynamoDB (and DynamoDB Local) require a SigV4 Authorization header.
    assert status == 400
    # DDB-LOCAL DEPARTURE: real DynamoDB's code is MissingAuthenticationTokenException.
    assert _code(doc) in ("MissingAuthenticationToken", "MissingAuthenticationTokenException")
    assert _msg(doc) == "Request must contain either a valid (registered) AWS access key ID or X.509 certificate."


def test_wrong_json_type_for_table_name(endpoint):
    status, doc, _ = raw(endpoint, "DescribeTable", {"TableName": 5})
    assert status in (400, 500)
    if status == 400:
        assert _code(doc) in ("ValidationException", "SerializationException")


def test_attribute_value_shape_errors(endpoint, hash_table):
    cases = [
        ({"pk": {"S": "a"}, "x": {"S": "a", "N": "1"}},
         "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"),
        ({"pk": {"S": "a"}, "x": {}},
         "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
        ({"pk": {"S": "a"}, "x": {"NULL": False}},
         "One or more parameter values were invalid: Null attribute value types must have the value of true"),
        ({"pk": {"S": "a"}, "": {"S": "v"}}, "Empty attribute name"),
    ]
    for item, msg in cases:
        status, doc, _ = raw(endpoint, "PutItem", {"TableName": hash_table, "Item": item})
        assert status == 400, item
        assert _code(doc) == "ValidationException", item
        assert _msg(doc) == msg, item


def test_raw_list_tables_limit_zero(endpoint):
    # botocore validates Limit >= 1 client-side, so this needs raw HTTP
    status, doc, _ = raw(endpoint, "ListTables", {"Limit": 0})
    assert status == 400
    assert _code(doc) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB says "1 validation error
    # detected: Value '0' at 'limit' failed to satisfy constraint: Member must
    # have value greater than or equal to 1".
    assert _msg(doc) in ("Limit must be greater than or equal to 1",
                         "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                         "Member must have value greater than or equal to 1")


def test_raw_query_limit_zero(endpoint, range_table):
    status, doc, _ = raw(endpoint, "Query", {"TableName": range_table, "KeyConditionExpression": "pk = :p",
                                             "ExpressionAttributeValues": {":p": {"S": "p"}}, "Limit": 0})
    assert status == 400
    assert _code(doc) == "ValidationException"


def test_raw_put_then_get(endpoint, hash_table):
    item = {"pk": {"S": "raw"}, "n": {"N": "1.50"}, "b": {"B": "AAE="}}
    status, doc, _ = raw(endpoint, "PutItem", {"TableName": hash_table, "Item": item})
    assert status == 200 and doc == {}
    status, doc, _ = raw(endpoint, "GetItem", {"TableName": hash_table, "Key": {"pk": {"S": "raw"}}})
    assert status == 200
    assert doc == {"Item": {"pk": {"S": "raw"}, "n": {"N": "1.5"}, "b": {"B": "AAE="}}}
    status, doc, _ = raw(endpoint, "GetItem", {"TableName": hash_table, "Key": {"pk": {"S": "none"}}})
    assert status == 200 and doc == {}


def test_healthz_or_root(endpoint):
    # Not part of the DynamoDB API; only make sure GET does not hang or crash the server.
    status, doc, text = raw(endpoint, None, "", method="GET")
    assert status in (200, 400, 404, 405, 500)
    status, doc, _ = raw(endpoint, "ListTables", {})
    assert status == 200


def _signed_headers(endpoint, op, body):
    from differential import _sign
    return _sign(endpoint, {"Content-Type": "application/x-amz-json-1.0",
                            "X-Amz-Target": "DynamoDB_20120810." + op}, body)


def test_body_over_16_mb_is_refused_and_server_stays_up(endpoint, hash_table):
    import http.client
    import urllib.parse
    u = urllib.parse.urlparse(endpoint)
    item = {"pk": {"S": "big"}, "blob": {"S": "x" * (16 * 1024 * 1024 + 10)}}
    body = json.dumps({"TableName": hash_table, "Item": item}).encode()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("POST", "/", body=body, headers=_signed_headers(endpoint, "PutItem", body))
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    except (ConnectionError, http.client.HTTPException):
        status = None  # a server may also cut the connection; it must not apply anything
    finally:
        conn.close()
    assert status is None or 400 <= status < 500
    status, doc, _ = raw(endpoint, "GetItem", {"TableName": hash_table, "Key": {"pk": {"S": "big"}}})
    assert status == 200 and "Item" not in doc, "an oversized request must not be applied"


def test_connection_cut_mid_request_applies_nothing(endpoint, hash_table):
    import socket
    import urllib.parse
    u = urllib.parse.urlparse(endpoint)
    body = json.dumps({"TableName": hash_table, "Item": {"pk": {"S": "cut"}, "v": {"S": "y" * 2000}}}).encode()
    headers = _signed_headers(endpoint, "PutItem", body)
    head = "POST / HTTP/1.1\r\nHost: %s:%d\r\n" % (u.hostname, u.port)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers.items() if k.lower() != "content-length")
    head += "Content-Length: %d\r\n\r\n" % len(body)
    for _ in range(20):  # bounded: twenty cut requests
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        s.sendall(head.encode() + body[: len(body) // 2])
        s.close()
    status, doc, _ = raw(endpoint, "GetItem", {"TableName": hash_table, "Key": {"pk": {"S": "cut"}}})
    assert status == 200, "the server must keep answering after cut connections"
    assert "Item" not in doc, "a request cut mid-body must not be applied"
