"""Global secondary indexes through boto3: CreateTable and DescribeTable, writes that
reach the index (new entries, entries that move when their index key changes, removed
entries, sparse items), Query and Scan with IndexName (key conditions, order, paging,
projections, filters, parallel scan), ConsumedCapacity per index, and the errors
DynamoDB gives.

A GSI is eventually consistent, as in DynamoDB: tests wait (bounded) until the index
shows what the table implies, then check it exactly.

The user's notes query songs by album; the Songs table here is keyed by (Artist, Song)
and indexed by (Album, Year) in its own partitions.
"""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message, unique_name

# How long an index may take to show a write (bounded; it takes milliseconds).
CONVERGE_SECONDS = 20


def songs_table(client, make_table, projection=None, billing="PAY_PER_REQUEST",
                index_sort=True, name=None):
    name = make_table.adopt(name or unique_name("Songs"))
    key = [{"AttributeName": "Album", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "Artist", "AttributeType": "S"},
             {"AttributeName": "Song", "AttributeType": "S"},
             {"AttributeName": "Album", "AttributeType": "S"}]
    if index_sort:
        key.append({"AttributeName": "Year", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "Year", "AttributeType": "N"})
    index = {
        "IndexName": "AlbumYear",
        "KeySchema": key,
        "Projection": projection or {"ProjectionType": "ALL"},
    }
    args = dict(
        TableName=name,
        KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"},
                   {"AttributeName": "Song", "KeyType": "RANGE"}],
        AttributeDefinitions=attrs,
        GlobalSecondaryIndexes=[index],
        BillingMode=billing,
    )
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = {"ReadCapacityUnits": 50, "WriteCapacityUnits": 50}
        index["ProvisionedThroughput"] = {"ReadCapacityUnits": 20, "WriteCapacityUnits": 10}
    client.create_table(**args)
    return name


def song(title, album=None, year=None, artist="Acme Band", genre="Rock"):
    item = {"Artist": {"S": artist}, "Song": {"S": title}, "Genre": {"S": genre}}
    if album is not None:
        item["Album"] = {"S": album}
    if year is not None:
        item["Year"] = {"N": str(year)}
    return item


SONGS = [
    song("Happy Day", "Songs About Life", 2019),
    song("Sad Night", "Songs About Life", 2018, artist="Other Band"),
    song("Anthem", "Best Of", 2021, genre="Pop"),
    song("Zebra", "Songs About Life", 2020),
    song("Demo Tape", None, 2014),  # no Album: not in the index
]


def put_all(client, name, items=SONGS):
    for item in items:
        client.put_item(TableName=name, Item=item)


def album(client, name, title, **kw):
    args = dict(TableName=name, IndexName="AlbumYear",
                KeyConditionExpression="Album = :a",
                ExpressionAttributeValues={":a": {"S": title}})
    extra = kw.pop("values", {})
    args["ExpressionAttributeValues"] = dict(args["ExpressionAttributeValues"], **extra)
    args.update(kw)
    return client.query(**args)


def scan_index(client, name):
    items, start = [], None
    while True:
        args = dict(TableName=name, IndexName="AlbumYear")
        if start:
            args["ExclusiveStartKey"] = start
        page = client.scan(**args)
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def expected_index(items):
    """What the index must hold: every item with an Album (and a Year)."""
    return sorted((i for i in items if "Album" in i and "Year" in i), key=key_of)


def key_of(item):
    return (item["Artist"]["S"], item["Song"]["S"])


def converged(client, name, items):
    """Waits until a Scan of the index equals what the table's items imply."""
    want = expected_index(items)
    deadline = time.monotonic() + CONVERGE_SECONDS
    got = None
    while time.monotonic() < deadline:
        got = sorted(scan_index(client, name), key=key_of)
        if got == want:
            return got
        time.sleep(0.05)
    pytest.fail(f"the index did not converge in {CONVERGE_SECONDS} s:\n got  {got}\n want {want}")


def table_items(client, name):
    return client.scan(TableName=name, ConsistentRead=True)["Items"]


def test_describe_lists_the_index_and_list_tables_hides_its_table(client, make_table):
    name = songs_table(client, make_table, billing="PROVISIONED")
    put_all(client, name)
    converged(client, name, SONGS)
    desc = client.describe_table(TableName=name)["Table"]
    [index] = desc["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "AlbumYear"
    assert index["KeySchema"] == [{"AttributeName": "Album", "KeyType": "HASH"},
                                  {"AttributeName": "Year", "KeyType": "RANGE"}]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert index["IndexStatus"] == "ACTIVE"
    assert index["IndexArn"] == desc["TableArn"] + "/index/AlbumYear"
    assert index["ProvisionedThroughput"]["ReadCapacityUnits"] == 20
    assert index["ProvisionedThroughput"]["WriteCapacityUnits"] == 10
    assert index["ItemCount"] == 4
    assert index["IndexSizeBytes"] > 0
    names = client.list_tables()["TableNames"]
    assert name in names
    assert not any("/" in n for n in names), names


def test_writes_reach_the_index_and_moved_entries_leave_their_old_key(client, make_table):
    name = songs_table(client, make_table)
    put_all(client, name)
    converged(client, name, SONGS)
    got = album(client, name, "Songs About Life")["Items"]
    assert [i["Song"]["S"] for i in got] == ["Sad Night", "Happy Day", "Zebra"]  # by Year
    # An update moves Zebra to another album; a delete removes Happy Day; a put gives
    # the demo an album.
    client.update_item(TableName=name, Key={"Artist": {"S": "Acme Band"}, "Song": {"S": "Zebra"}},
                       UpdateExpression="SET Album = :b", ExpressionAttributeValues={":b": {"S": "Best Of"}})
    client.delete_item(TableName=name, Key={"Artist": {"S": "Acme Band"}, "Song": {"S": "Happy Day"}})
    client.put_item(TableName=name, Item=song("Demo Tape", "Best Of", 2014))
    # An item losing its index key leaves the index (sparse).
    client.update_item(TableName=name, Key={"Artist": {"S": "Other Band"}, "Song": {"S": "Sad Night"}},
                       UpdateExpression="REMOVE Album")
    items = table_items(client, name)
    converged(client, name, items)
    assert album(client, name, "Songs About Life")["Items"] == []
    best = album(client, name, "Best Of", ScanIndexForward=False)["Items"]
    assert [i["Song"]["S"] for i in best] == ["Anthem", "Zebra", "Demo Tape"]


def test_query_conditions_paging_projection_and_filter(client, make_table):
    name = songs_table(client, make_table,
                       projection={"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]})
    items = [song(f"Track {i:02}", "Long Album", 2000 + i, genre="Pop" if i % 2 else "Rock")
             for i in range(12)]
    put_all(client, name, items)
    converged(client, name, items)
    between = album(client, name, "Long Album", KeyConditionExpression="Album = :a AND #y BETWEEN :lo AND :hi",
                    ExpressionAttributeNames={"#y": "Year"},
                    values={":lo": {"N": "2003"}, ":hi": {"N": "2005"}})
    assert [i["Year"]["N"] for i in between["Items"]] == ["2003", "2004", "2005"]
    # Pages of 5, resumed from LastEvaluatedKey (the index key and the table key).
    seen, start = [], None
    while True:
        kw = {"Limit": 5}
        if start:
            kw["ExclusiveStartKey"] = start
        page = album(client, name, "Long Album", **kw)
        seen.extend(i["Song"]["S"] for i in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        assert set(start) == {"Album", "Year", "Artist", "Song"}
    assert seen == [f"Track {i:02}" for i in range(12)]
    # Only the projection is held: keys and Genre.
    first = album(client, name, "Long Album", Limit=1)["Items"][0]
    assert set(first) == {"Album", "Year", "Artist", "Song", "Genre"}
    pop = album(client, name, "Long Album", FilterExpression="Genre = :g", values={":g": {"S": "Pop"}})
    assert pop["Count"] == 6 and pop["ScannedCount"] == 12
    only = album(client, name, "Long Album", ProjectionExpression="Song", Limit=2)
    assert only["Items"] == [{"Song": {"S": "Track 00"}}, {"Song": {"S": "Track 01"}}]


def test_parallel_scan_of_an_index_covers_each_entry_once(client, make_table):
    name = songs_table(client, make_table, index_sort=False)
    items = [song(f"S{i}", f"Album {i % 7}") for i in range(40)]
    put_all(client, name, items)
    want = sorted(key_of(i) for i in items)
    deadline = time.monotonic() + CONVERGE_SECONDS
    got = []
    while time.monotonic() < deadline:
        got = []
        for segment in range(3):
            page = client.scan(TableName=name, IndexName="AlbumYear", Segment=segment, TotalSegments=3)
            got.extend(key_of(i) for i in page["Items"])
        if sorted(got) == want:
            break
        time.sleep(0.05)
    assert sorted(got) == want


def test_index_reads_and_writes_report_their_capacity(client, make_table):
    name = songs_table(client, make_table)
    out = client.put_item(TableName=name, Item=song("Happy Day", "Songs About Life", 2019),
                          ReturnConsumedCapacity="INDEXES")
    consumed = out["ConsumedCapacity"]
    assert consumed["GlobalSecondaryIndexes"] == {"AlbumYear": {"CapacityUnits": 1.0}}
    assert consumed["CapacityUnits"] == 2.0
    # Moving the entry costs a delete and a put in the index.
    out = client.update_item(TableName=name, Key={"Artist": {"S": "Acme Band"}, "Song": {"S": "Happy Day"}},
                             UpdateExpression="SET Album = :b", ExpressionAttributeValues={":b": {"S": "Best Of"}},
                             ReturnConsumedCapacity="INDEXES")
    assert out["ConsumedCapacity"]["GlobalSecondaryIndexes"] == {"AlbumYear": {"CapacityUnits": 2.0}}
    converged(client, name, table_items(client, name))
    read = album(client, name, "Best Of", ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert read["GlobalSecondaryIndexes"] == {"AlbumYear": {"CapacityUnits": 0.5}}


def test_index_errors_are_dynamodbs(client, make_table):
    name = songs_table(client, make_table,
                       projection={"ProjectionType": "KEYS_ONLY"})
    with pytest.raises(ClientError) as e:
        album(client, name, "x", ConsistentRead=True)
    assert error_code(e) == "ValidationException"
    assert error_message(e) == "Consistent reads are not supported on global secondary indexes"
    with pytest.raises(ClientError) as e:
        album(client, name, "x", Select="ALL_ATTRIBUTES")
    assert error_message(e) == (
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported "
        "for global secondary index AlbumYear because its projection type is not ALL")
    # An index key of the wrong type: nothing is written.
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=name, Item=dict(song("Bad", "A"), Year={"S": "soon"}))
    assert error_code(e) == "ValidationException"
    assert "Type mismatch for Index Key Year Expected: N Actual: S IndexName: AlbumYear" in error_message(e)
    assert "Item" not in client.get_item(TableName=name, Key={"Artist": {"S": "Acme Band"}, "Song": {"S": "Bad"}})
    with pytest.raises(ClientError) as e:
        client.create_table(
            TableName=unique_name("Bad"),
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "ByG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"},
                                     "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}],
            BillingMode="PAY_PER_REQUEST")
    assert error_message(e) == ("One or more parameter values were invalid: ProvisionedThroughput should not be "
                                "specified for index: ByG when BillingMode is PAY_PER_REQUEST")


def test_deleting_the_table_deletes_its_index(client, make_table):
    name = songs_table(client, make_table)
    put_all(client, name)
    desc = client.delete_table(TableName=name)["TableDescription"]
    assert desc["GlobalSecondaryIndexes"][0]["IndexStatus"] == "DELETING"
    with pytest.raises(ClientError) as e:
        client.describe_table(TableName=name)
    assert error_code(e) == "ResourceNotFoundException"
    # Made again under the same name, it starts empty.
    name = songs_table(client, make_table, name=name)
    assert scan_index(client, name) == []


def test_the_seeds_album_index_finds_an_albums_songs_and_their_records(client, make_table):
    """The user's notes: Songs keyed by Artist and Title, an index keyed by Album and Title
    that includes PublishedDate; "find all songs of album Satisfied Soul", then fetch
    each whole record by its table key."""
    name = make_table.adopt(unique_name("Songs"))
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"},
                   {"AttributeName": "Title", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "Artist", "AttributeType": "S"},
                              {"AttributeName": "Title", "AttributeType": "S"},
                              {"AttributeName": "Album", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "AlbumTitle",
            "KeySchema": [{"AttributeName": "Album", "KeyType": "HASH"},
                          {"AttributeName": "Title", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["PublishedDate"]},
        }],
        BillingMode="PAY_PER_REQUEST",
    )
    songs = [
        ("Brother Ali", "Better But Us", "Satisfied Soul", "2025-02-14"),
        ("Brother Ali", "Pen To Paper", "Satisfied Soul", "2025-02-14"),
        ("Brother Ali", "Uncle Sam Goddamn", "The Undisputed Truth", "2007-04-10"),
    ]
    for artist, title, album, date in songs:
        client.put_item(TableName=name, Item={
            "Artist": {"S": artist}, "Title": {"S": title}, "Album": {"S": album},
            "PublishedDate": {"S": date}, "Lyrics": {"S": "not in the index"}})
    deadline = time.monotonic() + CONVERGE_SECONDS
    found = []
    while time.monotonic() < deadline:
        found = client.query(TableName=name, IndexName="AlbumTitle",
                             KeyConditionExpression="Album = :a",
                             ExpressionAttributeValues={":a": {"S": "Satisfied Soul"}})["Items"]
        if len(found) == 2:
            break
        time.sleep(0.05)
    assert [i["Title"]["S"] for i in found] == ["Better But Us", "Pen To Paper"]
    assert all(set(i) == {"Album", "Title", "Artist", "PublishedDate"} for i in found)
    for entry in found:
        record = client.get_item(TableName=name, Key={"Artist": entry["Artist"], "Title": entry["Title"]})["Item"]
        assert record["Lyrics"] == {"S": "not in the index"}
        assert record["PublishedDate"] == entry["PublishedDate"]
