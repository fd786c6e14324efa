"""Local secondary indexes through boto3: CreateTable and DescribeTable, Query and Scan
with IndexName (key conditions, order, paging, Select, projections fetched from the
table, filters, parallel scan), sparse entries and entries that move when their item
changes, type checks on write, and the errors DynamoDB gives.

The user's own notes query songs by album; the Songs table here has the seed's key
(Artist, Song) and an index on Album.
"""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, error_message, unique_name

ARTIST = {"S": "Acme Band"}


def songs_table(client, make_table, projection, extra_indexes=()):
    name = make_table.adopt(unique_name("Songs"))
    indexes = [{
        "IndexName": "AlbumIndex",
        "KeySchema": [{"AttributeName": "Artist", "KeyType": "HASH"},
                      {"AttributeName": "Album", "KeyType": "RANGE"}],
        "Projection": projection,
    }]
    indexes.extend(extra_indexes)
    attrs = [{"AttributeName": "Artist", "AttributeType": "S"},
             {"AttributeName": "Song", "AttributeType": "S"},
             {"AttributeName": "Album", "AttributeType": "S"}]
    if extra_indexes:
        attrs.append({"AttributeName": "Year", "AttributeType": "N"})
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "Artist", "KeyType": "HASH"},
                   {"AttributeName": "Song", "KeyType": "RANGE"}],
        AttributeDefinitions=attrs,
        LocalSecondaryIndexes=indexes,
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def song(title, album=None, year=None, genre="Rock", artist=ARTIST):
    item = {"Artist": artist, "Song": {"S": title}, "Genre": {"S": genre}}
    if album is not None:
        item["Album"] = {"S": album}
    if year is not None:
        item["Year"] = {"N": str(year)}
    return item


SONGS = [
    song("Happy Day", "Songs About Life", 2019),
    song("Sad Night", "Songs About Life", 2019),
    song("Anthem", "Best Of", 2021, genre="Pop"),
    song("Zebra", "A First Album", 2015),
    song("Demo Tape", None, 2014),  # no Album: not in the index
    song("Other Artist Song", "Best Of", 2020, artist={"S": "Someone Else"}),
]


def put_all(client, name, items=SONGS):
    for item in items:
        client.put_item(TableName=name, Item=item)


def album_query(client, name, **kw):
    args = dict(TableName=name, IndexName="AlbumIndex",
                KeyConditionExpression="Artist = :a",
                ExpressionAttributeValues={":a": ARTIST})
    extra_values = kw.pop("values", {})
    args["ExpressionAttributeValues"] = dict(args["ExpressionAttributeValues"], **extra_values)
    args.update(kw)
    return client.query(**args)


def titles(items):
    return [i["Song"]["S"] for i in items]


def test_describe_lists_the_index_with_its_counts(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]})
    table = client.describe_table(TableName=name)["Table"]
    [lsi] = table["LocalSecondaryIndexes"]
    assert lsi["IndexName"] == "AlbumIndex"
    assert lsi["KeySchema"] == [{"AttributeName": "Artist", "KeyType": "HASH"},
                                {"AttributeName": "Album", "KeyType": "RANGE"}]
    assert lsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]}
    assert lsi["IndexArn"] == table["TableArn"] + "/index/AlbumIndex"
    assert lsi["ItemCount"] == 0
    put_all(client, name)
    table = client.describe_table(TableName=name)["Table"]
    assert table["ItemCount"] == 6
    # Real DynamoDB refreshes these about every six hours; Rotor counts them again
    # once the partition changed, at most every hundred times a count's own duration
    # (so a loaded machine may show the count before the last put for a moment).
    deadline = time.monotonic() + 10
    while True:
        table = client.describe_table(TableName=name)["Table"]
        [lsi] = table["LocalSecondaryIndexes"]
        if lsi["ItemCount"] == 5 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert lsi["ItemCount"] == 5, "the song without an Album is not in the index"
    assert 0 < lsi["IndexSizeBytes"] < table["TableSizeBytes"]


def test_query_orders_by_the_index_sort_key_in_both_directions(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "ALL"})
    put_all(client, name)
    out = album_query(client, name)
    assert [i["Album"]["S"] for i in out["Items"]] == [
        "A First Album", "Best Of", "Songs About Life", "Songs About Life"]
    # Items of one album come in table sort key order.
    assert titles(out["Items"]) == ["Zebra", "Anthem", "Happy Day", "Sad Night"]
    assert out["Items"][0] == SONGS[3], "ALL projects every attribute"
    back = album_query(client, name, ScanIndexForward=False)
    assert titles(back["Items"]) == list(reversed(titles(out["Items"])))
    begins = album_query(client, name, KeyConditionExpression="Artist = :a AND begins_with(Album, :p)",
                         values={":p": {"S": "Songs"}})
    assert titles(begins["Items"]) == ["Happy Day", "Sad Night"]
    between = album_query(client, name, KeyConditionExpression="Artist = :a AND Album BETWEEN :x AND :y",
                          values={":x": {"S": "B"}, ":y": {"S": "C"}})
    assert titles(between["Items"]) == ["Anthem"]
    # Strongly consistent reads are served on a local index.
    strong = album_query(client, name, ConsistentRead=True)
    assert strong["Items"] == out["Items"]


def test_query_pages_with_a_cursor_holding_index_and_table_keys(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "KEYS_ONLY"})
    put_all(client, name)
    first = album_query(client, name, Limit=2)
    assert titles(first["Items"]) == ["Zebra", "Anthem"]
    assert first["LastEvaluatedKey"] == {"Artist": ARTIST, "Song": {"S": "Anthem"}, "Album": {"S": "Best Of"}}
    second = album_query(client, name, Limit=2, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert titles(second["Items"]) == ["Happy Day", "Sad Night"]
    third = album_query(client, name, Limit=2, ExclusiveStartKey=second["LastEvaluatedKey"])
    assert third["Items"] == [] and "LastEvaluatedKey" not in third
    # Backwards, from the same kind of cursor.
    back = album_query(client, name, Limit=3, ScanIndexForward=False)
    rest = album_query(client, name, ScanIndexForward=False, ExclusiveStartKey=back["LastEvaluatedKey"])
    assert titles(back["Items"]) + titles(rest["Items"]) == ["Sad Night", "Happy Day", "Anthem", "Zebra"]
    # A table key alone is not a cursor of the index.
    with pytest.raises(ClientError) as e:
        album_query(client, name, ExclusiveStartKey={"Artist": ARTIST, "Song": {"S": "Anthem"}})
    assert error_code(e) == "ValidationException"
    assert "starting key is invalid" in error_message(e)


def test_keys_only_projection_and_fetching_the_rest_from_the_table(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "KEYS_ONLY"})
    put_all(client, name)
    projected = album_query(client, name)["Items"]
    assert all(set(i) == {"Artist", "Song", "Album"} for i in projected), projected
    same = album_query(client, name, Select="ALL_PROJECTED_ATTRIBUTES")["Items"]
    assert same == projected
    # ALL_ATTRIBUTES on a local index fetches each item from the table.
    full = album_query(client, name, Select="ALL_ATTRIBUTES")["Items"]
    assert full == [SONGS[3], SONGS[2], SONGS[0], SONGS[1]]
    # So does a projection or a filter naming an attribute the index does not hold.
    years = album_query(client, name, ProjectionExpression="Song, #y",
                        ExpressionAttributeNames={"#y": "Year"})["Items"]
    assert years == [{"Song": {"S": t}, "Year": {"N": y}}
                     for t, y in [("Zebra", "2015"), ("Anthem", "2021"), ("Happy Day", "2019"),
                                  ("Sad Night", "2019")]]
    pop = album_query(client, name, FilterExpression="Genre = :g", values={":g": {"S": "Pop"}})
    assert pop["Count"] == 1 and pop["ScannedCount"] == 4
    assert pop["Items"] == [{"Artist": ARTIST, "Song": {"S": "Anthem"}, "Album": {"S": "Best Of"}}], \
        "the filter reads Genre from the table; the answer is still the projection"
    counted = album_query(client, name, Select="COUNT")
    assert counted["Count"] == 4 and "Items" not in counted


def test_include_projection(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]})
    put_all(client, name)
    items = album_query(client, name)["Items"]
    assert all(set(i) == {"Artist", "Song", "Album", "Genre"} for i in items), items


def test_entries_follow_their_items(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "ALL"})
    put_all(client, name)
    key = {"Artist": ARTIST, "Song": {"S": "Zebra"}}
    # A new album moves the entry within the index.
    client.update_item(TableName=name, Key=key, UpdateExpression="SET Album = :b",
                       ExpressionAttributeValues={":b": {"S": "Z Last Album"}})
    assert titles(album_query(client, name)["Items"]) == ["Anthem", "Happy Day", "Sad Night", "Zebra"]
    # Removing the index key takes the item out of the index; setting it brings it in.
    client.update_item(TableName=name, Key=key, UpdateExpression="REMOVE Album")
    assert titles(album_query(client, name)["Items"]) == ["Anthem", "Happy Day", "Sad Night"]
    client.update_item(TableName=name, Key={"Artist": ARTIST, "Song": {"S": "Demo Tape"}},
                       UpdateExpression="SET Album = :d", ExpressionAttributeValues={":d": {"S": "Demos"}})
    assert titles(album_query(client, name)["Items"]) == ["Anthem", "Demo Tape", "Happy Day", "Sad Night"]
    # A put replaces the entry; a delete removes it; batch writes too.
    client.put_item(TableName=name, Item=song("Anthem", "Best Of", 2022, genre="Jazz"))
    anthem = album_query(client, name, KeyConditionExpression="Artist = :a AND Album = :b",
                         values={":b": {"S": "Best Of"}})["Items"]
    assert anthem == [song("Anthem", "Best Of", 2022, genre="Jazz")]
    client.delete_item(TableName=name, Key={"Artist": ARTIST, "Song": {"S": "Happy Day"}})
    client.batch_write_item(RequestItems={name: [
        {"DeleteRequest": {"Key": {"Artist": ARTIST, "Song": {"S": "Sad Night"}}}},
        {"PutRequest": {"Item": song("New One", "Another", 2023)}},
    ]})
    assert titles(album_query(client, name)["Items"]) == ["New One", "Anthem", "Demo Tape"]
    # A failed condition changes nothing in the index either.
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=name, Key={"Artist": ARTIST, "Song": {"S": "New One"}},
                           UpdateExpression="SET Album = :z", ConditionExpression="attribute_not_exists(Song)",
                           ExpressionAttributeValues={":z": {"S": "Zzz"}})
    assert error_code(e) == "ConditionalCheckFailedException"
    assert titles(album_query(client, name)["Items"]) == ["New One", "Anthem", "Demo Tape"]
    table = client.describe_table(TableName=name)["Table"]
    assert table["LocalSecondaryIndexes"][0]["ItemCount"] == 4, "three of this artist's, one of another"


def test_a_wrong_index_key_type_is_refused_and_nothing_is_written(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "ALL"})
    bad = dict(song("Typed"), Album={"N": "7"})
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=name, Item=bad)
    assert error_code(e) == "ValidationException"
    assert error_message(e) == ("One or more parameter values were invalid: Type mismatch for Index Key "
                                "Album Expected: S Actual: N IndexName: AlbumIndex")
    assert "Item" not in client.get_item(TableName=name, Key={"Artist": ARTIST, "Song": {"S": "Typed"}})
    client.put_item(TableName=name, Item=song("Typed", "Fine"))
    with pytest.raises(ClientError) as e:
        client.update_item(TableName=name, Key={"Artist": ARTIST, "Song": {"S": "Typed"}},
                           UpdateExpression="SET Album = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    assert error_code(e) == "ValidationException"
    assert "IndexName: AlbumIndex" in error_message(e)
    got = client.get_item(TableName=name, Key={"Artist": ARTIST, "Song": {"S": "Typed"}})["Item"]
    assert got["Album"] == {"S": "Fine"}


def test_scan_of_an_index_in_segments(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "KEYS_ONLY"})
    put_all(client, name)
    many = [song(f"Track {i:03}", f"Album {i % 7}", artist={"S": f"Artist {i % 13}"}) for i in range(60)]
    put_all(client, name, many)
    whole = client.scan(TableName=name, IndexName="AlbumIndex")
    assert whole["Count"] == 65, "every song with an Album, none without"
    assert all(set(i) == {"Artist", "Song", "Album"} for i in whole["Items"])
    seen = []
    for segment in range(3):
        start = None
        for _ in range(100):
            kw = dict(TableName=name, IndexName="AlbumIndex", Segment=segment, TotalSegments=3, Limit=7)
            if start:
                kw["ExclusiveStartKey"] = start
            page = client.scan(**kw)
            seen.extend((i["Artist"]["S"], i["Song"]["S"]) for i in page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    assert sorted(seen) == sorted((i["Artist"]["S"], i["Song"]["S"]) for i in whole["Items"])
    assert len(set(seen)) == 65, "no entry twice across segments and pages"
    filtered = client.scan(TableName=name, IndexName="AlbumIndex", Select="ALL_ATTRIBUTES",
                           FilterExpression="Genre = :g", ExpressionAttributeValues={":g": {"S": "Pop"}})
    assert filtered["Items"] == [SONGS[2]]


def test_consumed_capacity_names_the_index(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "ALL"})
    put_all(client, name)
    out = album_query(client, name, ReturnConsumedCapacity="INDEXES")
    consumed = out["ConsumedCapacity"]
    assert consumed["TableName"] == name
    assert consumed["LocalSecondaryIndexes"]["AlbumIndex"]["CapacityUnits"] == consumed["CapacityUnits"] > 0
    total = album_query(client, name, ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert total == {"TableName": name, "CapacityUnits": consumed["CapacityUnits"]}


def test_writes_cost_what_they_change_in_the_index(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]})

    def cost(call, **kw):
        out = call(TableName=name, ReturnConsumedCapacity="INDEXES", **kw)["ConsumedCapacity"]
        return out["CapacityUnits"], out["Table"]["CapacityUnits"], \
            out.get("LocalSecondaryIndexes", {}).get("AlbumIndex", {}).get("CapacityUnits", 0)

    key = {"Artist": ARTIST, "Song": {"S": "Costly"}}
    assert cost(client.put_item, Item=song("Costly", "First")) == (2, 1, 1), "a new entry: one write"
    assert cost(client.update_item, Key=key, UpdateExpression="SET #y = :y",
                ExpressionAttributeNames={"#y": "Year"},
                ExpressionAttributeValues={":y": {"N": "1"}}) == (1, 1, 0), "Year is not projected"
    assert cost(client.update_item, Key=key, UpdateExpression="SET Genre = :g",
                ExpressionAttributeValues={":g": {"S": "Jazz"}}) == (2, 1, 1), "the entry changes"
    assert cost(client.update_item, Key=key, UpdateExpression="SET Album = :b",
                ExpressionAttributeValues={":b": {"S": "Second"}}) == (3, 1, 2), "a delete and a put"
    assert cost(client.delete_item, Key=key) == (2, 1, 1)
    total = client.put_item(TableName=name, Item=song("Costly", "First"),
                            ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert total == {"TableName": name, "CapacityUnits": 2.0}
    out = client.batch_write_item(RequestItems={name: [
        {"PutRequest": {"Item": song("Batch 1", "B")}},
        {"PutRequest": {"Item": song("Batch 2")}},
    ]}, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert out == [{"TableName": name, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 2.0},
                    "LocalSecondaryIndexes": {"AlbumIndex": {"CapacityUnits": 1.0}}}]


def test_index_request_errors(client, make_table):
    name = songs_table(client, make_table, {"ProjectionType": "KEYS_ONLY"})
    put_all(client, name)

    def refused(**kw):
        with pytest.raises(ClientError) as e:
            client.query(**kw)
        assert error_code(e) == "ValidationException"
        return error_message(e)

    base = dict(TableName=name, KeyConditionExpression="Artist = :a", ExpressionAttributeValues={":a": ARTIST})
    assert refused(IndexName="NoSuchIndex", **base) == "The table does not have the specified index: NoSuchIndex"
    assert "Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries" in \
        refused(Select="ALL_PROJECTED_ATTRIBUTES", **base)
    assert refused(IndexName="AlbumIndex", Select="ALL_PROJECTED_ATTRIBUTES", ProjectionExpression="Song",
                   **base) == "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES"
    # The index's sort key is Album: a condition on the table's sort key does not use it.
    assert "Query condition missed key schema element" in refused(
        IndexName="AlbumIndex", TableName=name, KeyConditionExpression="Artist = :a AND Song = :s",
        ExpressionAttributeValues={":a": ARTIST, ":s": {"S": "Zebra"}})
    assert refused(IndexName="AlbumIndex", FilterExpression="Album = :b",
                   **dict(base, ExpressionAttributeValues={":a": ARTIST, ":b": {"S": "x"}})) == \
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: Album"
    with pytest.raises(ClientError) as e:
        client.scan(TableName=name, IndexName="NoSuchIndex")
    assert error_message(e) == "The table does not have the specified index: NoSuchIndex"


def test_five_indexes_on_one_table(client, make_table):
    extra = [{
        "IndexName": f"ByYear{i}",
        "KeySchema": [{"AttributeName": "Artist", "KeyType": "HASH"},
                      {"AttributeName": "Year", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    } for i in range(4)]
    name = songs_table(client, make_table, {"ProjectionType": "ALL"}, extra_indexes=extra)
    put_all(client, name)
    for i in range(4):
        out = client.query(TableName=name, IndexName=f"ByYear{i}", KeyConditionExpression="Artist = :a AND #y > :y",
                           ExpressionAttributeNames={"#y": "Year"},
                           ExpressionAttributeValues={":a": ARTIST, ":y": {"N": "2018"}})
        assert titles(out["Items"]) == ["Happy Day", "Sad Night", "Anthem"], "by Year, then by Song"
        assert [i["Year"]["N"] for i in out["Items"]] == ["2019", "2019", "2021"]
    assert len(client.describe_table(TableName=name)["Table"]["LocalSecondaryIndexes"]) == 5
