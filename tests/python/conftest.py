"""Shared fixtures for the real-client (boto3) test suite.

Endpoint selection:
  * DYNAMODB_ENDPOINT set (e.g. DynamoDB Local, see tests/oracle/dynamodb-local.sh):
    the tests talk to it.
  * otherwise the Rotor binary (ROTOR_BIN, default <repo>/target/debug/rotor)
    is started as `rotor dev --port <free port> --data-dir <tmpdir>` for the
    session, waited for on /healthz (bounded), and killed at the end.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STARTUP_TIMEOUT = float(os.environ.get("ROTOR_STARTUP_TIMEOUT", "30"))

# Known departures of DynamoDB Local from real DynamoDB are accepted by the
# tests where they occur (comments marked "DDB-LOCAL DEPARTURE"); nothing is
# skipped.


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_ports(n):
    """The first of n consecutive free loopback ports (rotor dev's node ports)."""
    for _ in range(200):
        base = _free_port()
        socks = []
        try:
            for i in range(1, n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} consecutive free loopback ports")


def _healthy(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def endpoint():
    env = os.environ.get("DYNAMODB_ENDPOINT")
    if env:
        yield env.rstrip("/")
        return
    binary = os.environ.get("ROTOR_BIN", os.path.join(REPO, "target", "debug", "rotor"))
    if not os.path.exists(binary):
        pytest.fail(f"rotor binary not found at {binary}: build it (cargo build -p rotor-node), "
                    f"set ROTOR_BIN, or set DYNAMODB_ENDPOINT")
    data_dir = tempfile.mkdtemp(prefix="rotor-pytest-")
    port = _free_port()
    os.makedirs(os.path.join(data_dir, "db"))
    log_out = open(os.path.join(data_dir, "stdout.log"), "wb")
    log_err = open(os.path.join(data_dir, "stderr.log"), "wb")
    proc = subprocess.Popen([binary, "dev", "--port", str(port), "--node-port", str(_free_ports(3)),
                             "--data-dir", os.path.join(data_dir, "db")],
                            stdout=log_out, stderr=log_err, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                break
            if _healthy(url):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if proc.poll() is not None or not _healthy(url):
            rc = proc.poll()
            proc.kill()
            proc.wait(timeout=10)
            log_out.close()
            log_err.close()
            err = open(os.path.join(data_dir, "stderr.log"), "rb").read().decode("utf-8", "replace")
            out = open(os.path.join(data_dir, "stdout.log"), "rb").read().decode("utf-8", "replace")
            shutil.rmtree(data_dir, ignore_errors=True)
            pytest.fail(f"rotor did not become healthy on {url}/healthz within {STARTUP_TIMEOUT}s "
                        f"(exit code {rc})\n--- stderr ---\n{err[-8000:]}\n--- stdout ---\n{out[-4000:]}")
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log_out.close()
        log_err.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _boto_kwargs(endpoint):
    return dict(endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="AKID", aws_secret_access_key="SECRET",
                # No retries: a test must see the first answer (and not hang).
                config=Config(retries={"max_attempts": 1, "mode": "standard"},
                              connect_timeout=10, read_timeout=60))


@pytest.fixture(scope="session")
def client(endpoint):
    return boto3.client("dynamodb", **_boto_kwargs(endpoint))


@pytest.fixture(scope="session")
def patient_client(endpoint):
    """A client with the SDK's retries, for loading data fast: one partition key takes
    at most 1,000 write units a second (DynamoDB's partition limit, Rotor's too), and
    past it the SDK backs off and retries, as an application's would."""
    kwargs = _boto_kwargs(endpoint)
    kwargs["config"] = Config(retries={"max_attempts": 10, "mode": "standard"},
                              connect_timeout=10, read_timeout=60)
    return boto3.client("dynamodb", **kwargs)


@pytest.fixture(scope="session")
def resource(endpoint):
    return boto3.resource("dynamodb", **_boto_kwargs(endpoint))


def unique_name(prefix="t"):
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def wait_active(client, name, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        t = client.describe_table(TableName=name)["Table"]
        if t["TableStatus"] == "ACTIVE":
            return t
        if time.monotonic() > deadline:
            raise AssertionError(f"table {name} not ACTIVE after {timeout}s: {t['TableStatus']}")
        time.sleep(0.1)


def delete_table_quietly(client, name):
    try:
        client.delete_table(TableName=name)
    except client.exceptions.ResourceNotFoundException:
        pass


class TableFactory:
    """Creates uniquely named tables and deletes them at the end of the test."""

    def __init__(self, client):
        self.client = client
        self.names = []

    def __call__(self, hash_key="pk", hash_type="S", range_key=None, range_type="S", prefix="t",
                 billing="PAY_PER_REQUEST", throughput=None, name=None):
        name = name or unique_name(prefix)
        ks = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        ad = [{"AttributeName": hash_key, "AttributeType": hash_type}]
        if range_key:
            ks.append({"AttributeName": range_key, "KeyType": "RANGE"})
            ad.append({"AttributeName": range_key, "AttributeType": range_type})
        kw = dict(TableName=name, KeySchema=ks, AttributeDefinitions=ad, BillingMode=billing)
        if billing == "PROVISIONED":
            kw["ProvisionedThroughput"] = throughput or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        self.client.create_table(**kw)
        self.names.append(name)
        wait_active(self.client, name)
        return name

    def adopt(self, name):
        """Register a table created by the test itself for deletion."""
        self.names.append(name)
        return name

    def cleanup(self):
        for n in self.names:
            delete_table_quietly(self.client, n)


@pytest.fixture
def make_table(client):
    f = TableFactory(client)
    yield f
    f.cleanup()


@pytest.fixture
def hash_table(make_table):
    """A fresh table with a string hash key `pk`."""
    return make_table()


@pytest.fixture
def range_table(make_table):
    """A fresh table with string hash key `pk` and number range key `sk`."""
    return make_table(range_key="sk", range_type="N")


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def error_message(excinfo):
    return excinfo.value.response["Error"].get("Message", "")
