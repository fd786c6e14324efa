//! Rounds of writes for the index tests: every song of a table keyed (pk: artist, sk:
//! song number) is written again with a new `album` (its index key: the entry moves) or
//! none (it leaves the index), `v` recording the round and `other` an attribute the
//! indexes do not project; `Truth` keeps what the table then holds.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue as AV;

/// Artists (partition keys) and songs of the rounds.
pub const ARTISTS: u64 = 12;
pub const SONGS: u64 = 120;

/// What the table holds: (artist, song) -> (album, v); an item without an album is
/// in no index.
pub type Truth = BTreeMap<(String, u64), (Option<String>, u64)>;

/// Writes round `round` into `table` and records it in `truth`.
pub async fn write_round(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    round: u64,
    truth: &mut Truth,
) {
    for song in 0..SONGS {
        let artist = format!("artist{}", song % ARTISTS);
        let album = (!(song + round).is_multiple_of(5))
            .then(|| format!("album{}", (song * 7 + round) % 11));
        let mut put = client
            .put_item()
            .table_name(table)
            .item("pk", AV::S(artist.clone()))
            .item("sk", AV::N(song.to_string()))
            .item("v", AV::N(round.to_string()))
            .item("other", AV::S("not projected".into()));
        if let Some(album) = &album {
            put = put.item("album", AV::S(album.clone()));
        }
        put.send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: put {artist}/{song}: {e:?}"));
        truth.insert((artist, song), (album, round));
    }
}
