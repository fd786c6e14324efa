"""The user's own calls (shared seed 000): a "Songs" table with Artist (hash)
and Song (range), written with the client and the resource APIs.

The seed wrote `ConditionalExpression='attribute_not_exists("Artist") AND
attribute_not_exists("Song")'`; the real parameter is ConditionExpression and
double-quoted names are not valid expression syntax, so the correct form is
tested, plus what the literal forms do. The seed also passed low-level typed
values ({'S': ...}) to the resource API, which expects plain Python values.
"""
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from conftest import error_code, error_message, unique_name

SONG = {
    "Artist": {"S": "Brother Ali"},
    "Song": {"S": "Uncle Sam Goddamn"},
    "Album": {"S": "The Undisputed Truth"},
    "PublishedDate": {"S": "2007-05-04"},
}
COND = "attribute_not_exists(Artist) AND attribute_not_exists(Song)"


@pytest.fixture
def songs(make_table):
    return make_table(hash_key="Artist", hash_type="S", range_key="Song", range_type="S", name=unique_name("Songs"))


def test_client_put_if_not_exists(client, songs):
    client.put_item(TableName=songs, Item=SONG, ConditionExpression=COND)
    got = client.get_item(TableName=songs, Key={"Artist": SONG["Artist"], "Song": SONG["Song"]})["Item"]
    assert got == SONG
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=songs, Item=dict(SONG, Album={"S": "Other"}), ConditionExpression=COND)
    assert error_code(e) == "ConditionalCheckFailedException"
    assert error_message(e) == "The conditional request failed"
    # the original item is unchanged
    got = client.get_item(TableName=songs, Key={"Artist": SONG["Artist"], "Song": SONG["Song"]})["Item"]
    assert got["Album"] == {"S": "The Undisputed Truth"}
    # same artist, different song: the condition holds (it is per item)
    client.put_item(TableName=songs, Item=dict(SONG, Song={"S": "Truth Is"}), ConditionExpression=COND)
    assert client.scan(TableName=songs, Select="COUNT")["Count"] == 2


def test_seed_literal_parameter_name_is_rejected_by_the_client(client, songs):
    with pytest.raises(ParamValidationError):
        client.put_item(TableName=songs, Item=SONG, ConditionalExpression=COND)


def test_seed_quoted_names_are_a_syntax_error(client, songs):
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=songs, Item=SONG,
                        ConditionExpression='attribute_not_exists("Artist") AND attribute_not_exists("Song")')
    assert error_code(e) == "ValidationException"
    assert error_message(e) == 'Invalid ConditionExpression: Syntax error; token: """, near: "("Artist"'
    assert client.scan(TableName=songs, Select="COUNT")["Count"] == 0


def test_resource_table_put_and_item_count(resource, songs):
    table = resource.Table(songs)
    assert table.item_count == 0
    table.put_item(Item={"Artist": "Brother Ali", "Song": "Uncle Sam Goddamn", "Album": "The Undisputed Truth",
                         "PublishedDate": "2007-05-04"}, ConditionExpression=COND)
    table.reload()
    # Real DynamoDB updates ItemCount about every six hours; DynamoDB Local
    # (and Rotor) report it live.
    assert table.item_count == 1
    table.put_item(Item={"Artist": "Brother Ali", "Song": "Forest Whitaker"})
    table.reload()
    assert table.item_count == 2
    with pytest.raises(ClientError) as e:
        table.put_item(Item={"Artist": "Brother Ali", "Song": "Forest Whitaker"}, ConditionExpression=COND)
    assert error_code(e) == "ConditionalCheckFailedException"
    table.reload()
    assert table.item_count == 2


def test_resource_put_with_typed_values_is_a_key_type_mismatch(resource, songs):
    # As in the seed: low-level {'S': ...} values given to the resource API
    # are serialised as maps, so the key attributes have the wrong type.
    table = resource.Table(songs)
    with pytest.raises(ClientError) as e:
        table.put_item(Item=SONG)
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB reports the key's type mismatch.
    assert error_message(e) == "Invalid attribute value type" \
        or error_message(e).startswith("One or more parameter values were invalid: Type mismatch for key")


def test_resource_batch_get_item(resource, client, songs):
    client.put_item(TableName=songs, Item=SONG)
    client.put_item(TableName=songs, Item=dict(SONG, Song={"S": "Truth Is"}))
    resp = resource.batch_get_item(RequestItems={songs: {"Keys": [
        {"Artist": "Brother Ali", "Song": "Uncle Sam Goddamn"},
        {"Artist": "Brother Ali", "Song": "Truth Is"},
        {"Artist": "Brother Ali", "Song": "Not Released"},
    ]}})
    got = sorted(resp["Responses"][songs], key=lambda i: i["Song"])
    assert [i["Song"] for i in got] == ["Truth Is", "Uncle Sam Goddamn"]
    assert got[1] == {"Artist": "Brother Ali", "Song": "Uncle Sam Goddamn", "Album": "The Undisputed Truth",
                      "PublishedDate": "2007-05-04"}
    assert resp["UnprocessedKeys"] == {}


def test_resource_batch_get_item_with_only_the_hash_key(resource, songs):
    # The seed's batch_get_item gives only Artist; on a hash+range table the
    # full primary key is required.
    with pytest.raises(ClientError) as e:
        resource.batch_get_item(RequestItems={songs: {"Keys": [{"Artist": "Brother Ali"}]}})
    assert error_code(e) == "ValidationException"
    # DDB-LOCAL DEPARTURE (text): real DynamoDB says "The provided key element
    # does not match the schema".
    assert error_message(e) in ("The number of conditions on the keys is invalid",
                                "The provided key element does not match the schema")


def test_resource_batch_get_item_hash_only_table(resource, make_table):
    # The seed's call shape works as-is on a hash-only table.
    name = make_table(hash_key="Artist", hash_type="S", name=unique_name("Songs"))
    resource.Table(name).put_item(Item={"Artist": "Brother Ali", "Album": "Satisfied Soul"})
    resp = resource.batch_get_item(RequestItems={name: {"Keys": [{"Artist": "Brother Ali"}]}})
    assert resp["Responses"][name] == [{"Artist": "Brother Ali", "Album": "Satisfied Soul"}]
