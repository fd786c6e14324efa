//! A data directory written by the previous release opens and serves in this one: the
//! fixture (`tests/fixtures/data-<commit>.tar.gz`, made by `make-data-dir.sh` with that
//! release's binary from `upgrade_items.py`'s writes, then `kill -9`) is unpacked and
//! started with `rotor dev`; every item reads back as written, new writes work, and
//! the directory opens again after another `kill -9`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue as AV;
use rotor_tests::{free_port, Rotor};

/// The release before snapshot files became `rotor.v1.SnapshotFrame`s.
const FIXTURE: &str = "data-83e73e3.tar.gz";
/// The nodes' ports the fixture's cluster map records.
const NODE_PORT: u16 = 17301;

/// What `upgrade_items.py` left: song i exists unless i % 10 == 0; plays is i, plus 1000
/// when i % 3 == 0.
fn expected() -> BTreeMap<(String, String), (i64, Vec<u8>)> {
    (0..60i64)
        .filter(|i| i % 10 != 0)
        .map(|i| {
            let plays = i + if i % 3 == 0 { 1000 } else { 0 };
            (
                (format!("artist{}", i % 6), format!("song{i:02}")),
                (plays, vec![i as u8; 100]),
            )
        })
        .collect()
}

async fn read_all(client: &aws_sdk_dynamodb::Client) -> BTreeMap<(String, String), (i64, Vec<u8>)> {
    let mut found = BTreeMap::new();
    for a in 0..6 {
        let page = client
            .query()
            .table_name("upgrade_songs")
            .key_condition_expression("artist = :a")
            .expression_attribute_values(":a", AV::S(format!("artist{a}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("query artist{a}: {e:?}"));
        for item in page.items() {
            let s = |k: &str| item[k].as_s().unwrap().clone();
            let plays: i64 = item["plays"].as_n().unwrap().parse().unwrap();
            let cover = item["cover"].as_b().unwrap().as_ref().to_vec();
            let tags = item["tags"].as_ss().unwrap();
            assert!(tags.contains(&"a".to_owned()), "{item:?}");
            found.insert((s("artist"), s("song")), (plays, cover));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_releases_data_directory_opens_and_serves() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(FIXTURE);
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&fixture)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("run tar");
    assert!(status.success(), "cannot unpack {}", fixture.display());
    let data = dir.path().join("data");

    let rotor = tokio::task::block_in_place(|| Rotor::start_on(&data, free_port(), NODE_PORT));
    let client = rotor_tests::sdk_client_with_attempts(&rotor.endpoint(), 12);
    let tables = client.list_tables().send().await.expect("list tables");
    assert_eq!(tables.table_names(), ["upgrade_songs"]);
    assert_eq!(read_all(&client).await, expected(), "{}", rotor.output());
    // Its kept snapshots were in the older format: each group replaced its own.
    assert!(
        rotor.output().contains("the kept snapshot cannot be read"),
        "{}",
        rotor.output()
    );

    // The upgraded directory takes writes, and opens again after a crash.
    client
        .update_item()
        .table_name("upgrade_songs")
        .key("artist", AV::S("artist1".into()))
        .key("song", AV::S("song01".into()))
        .update_expression("ADD plays :k")
        .expression_attribute_values(":k", AV::N("5".into()))
        .send()
        .await
        .expect("update after the upgrade");
    let rotor = tokio::task::block_in_place(|| rotor.restart_after_kill9());
    let client = rotor_tests::sdk_client_with_attempts(&rotor.endpoint(), 12);
    let mut want = expected();
    if let Some(v) = want.get_mut(&("artist1".to_owned(), "song01".to_owned())) {
        v.0 += 5;
    }
    assert_eq!(read_all(&client).await, want, "{}", rotor.output());
}
