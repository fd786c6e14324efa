//! A data directory written by an earlier release opens and serves in this one: each
//! fixture (`tests/fixtures/data-<commit>.tar.gz`, made by `make-data-dir.sh` with that
//! release's binary from `upgrade_items.py`'s writes, then `kill -9`) is unpacked and
//! started with `rotor dev`; its raft logs and records are rewritten from bincode to
//! protobuf, every item reads back as written, new writes work, and the directory opens
//! again after another `kill -9`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue as AV;
use rotor_tests::{free_port, Rotor};

/// The release before snapshot files became `rotor.v1.SnapshotFrame`s (data format 1).
const FORMAT_1: &str = "data-83e73e3.tar.gz";
/// The release before raft's records became protobuf (data format 2).
const FORMAT_2: &str = "data-8d0d6c6.tar.gz";
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
async fn a_format_1_data_directory_opens_and_serves() {
    opens_and_serves(FORMAT_1, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_releases_data_directory_opens_and_serves() {
    opens_and_serves(FORMAT_2, false).await;
}

/// Both fixtures' clusters listen on the node ports their maps record: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `old_snapshots`: the fixture's kept snapshot files predate SnapshotFrame files.
async fn opens_and_serves(fixture: &str, old_snapshots: bool) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
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
    assert!(
        rotor
            .output()
            .contains("raft log and records rewritten as protobuf"),
        "{}",
        rotor.output()
    );
    // Kept snapshots in the older file format: each group replaced its own.
    assert_eq!(
        rotor.output().contains("the kept snapshot cannot be read"),
        old_snapshots,
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
