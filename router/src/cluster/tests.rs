//! The backend against fake nodes: leader hints, dead replicas, metadata changes that
//! wait for the map, and seeds that never answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;

use rotor_model::cluster::{NodeInfo, NodeState, PartitionInfo, TableEntry};
use rotor_model::write::WriteCommand;
use rotor_model::AttributeValue;
use rotor_proto::v1::cluster_server::{Cluster, ClusterServer};
use rotor_proto::v1::partition_server::{Partition, PartitionServer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rotor_model::cluster::{ClusterMap, MetaCommand, MetaOutcome, MetaReply, NodeId};
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{TableDef, TableStats};
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::Item;
use rotor_proto::v1 as pb;
use rotor_proto::v1::Refusal;
use tokio::sync::watch;
use tonic::Status;

use super::{ClusterBackend, ClusterOptions};
use crate::backend::{Backend, BackendError};

/// One fake node's partition service: leads every partition or redirects to `leader`.
struct FakePartition {
    id: NodeId,
    leader: NodeId,
    item: Item,
    calls: Arc<AtomicU32>,
}

impl FakePartition {
    fn refused(&self) -> pb::Refused {
        pb::Refused {
            reason: Refusal::NotLeader as i32,
            leader_hint: self.leader,
            epoch: 0,
            throttling_reason: String::new(),
        }
    }
}

#[tonic::async_trait]
impl Partition for FakePartition {
    async fn write(
        &self,
        req: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::WriteReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        use pb::write_reply::Result as R;
        if self.id != self.leader {
            let result = Some(R::Refused(self.refused()));
            return Ok(Response::new(pb::WriteReply {
                result,
                log_index: 1,
            }));
        }
        let command = req.into_inner().command.unwrap_or_default();
        let write =
            WriteRequest::try_from(command).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let WriteCommand::Put { item, .. } = write.command else {
            let result = Some(R::Validation("only puts here".into()));
            return Ok(Response::new(pb::WriteReply {
                result,
                log_index: 1,
            }));
        };
        let outcome = WriteOutcome::Applied {
            old: None,
            new: Some(item),
        };
        let result = Some(R::Outcome(pb::WriteOutcome::from(&outcome)));
        Ok(Response::new(pb::WriteReply {
            result,
            log_index: 1,
        }))
    }

    async fn get(&self, req: Request<pb::GetRequest>) -> Result<Response<pb::GetReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        use pb::get_reply::Result as R;
        let req = req.into_inner();
        let result = if req.consistent && self.id != self.leader {
            R::Refused(self.refused())
        } else if req.item_key == b"k" {
            R::Item(rotor_proto::item_to_wire(&self.item))
        } else {
            R::NotFound(true)
        };
        Ok(Response::new(pb::GetReply {
            result: Some(result),
            applied_index: 0,
        }))
    }

    async fn read_range(
        &self,
        _req: Request<pb::ReadRangeRequest>,
    ) -> Result<Response<pb::ReadRangeReply>, Status> {
        let page = pb::RangePage::from(&RangePage::default());
        Ok(Response::new(pb::ReadRangeReply {
            result: Some(pb::read_range_reply::Result::Page(page)),
            applied_index: 0,
        }))
    }

    async fn index_write(
        &self,
        req: Request<pb::IndexWriteRequest>,
    ) -> Result<Response<pb::IndexWriteReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        use pb::index_write_reply::Result as R;
        let result = if self.id != self.leader {
            R::Refused(self.refused())
        } else if req.into_inner().write.is_some_and(|w| w.gated) {
            R::Refused(pb::Refused {
                reason: pb::Refusal::NotReleased.into(),
                ..Default::default()
            })
        } else {
            R::AppliedAt(1)
        };
        Ok(Response::new(pb::IndexWriteReply {
            result: Some(result),
        }))
    }

    async fn stats(
        &self,
        _req: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsReply>, Status> {
        let stats = TableStats {
            item_count: 1,
            size_bytes: 10,
        };
        let index = TableStats {
            item_count: 1,
            size_bytes: 4,
        };
        Ok(Response::new(pb::StatsReply {
            result: Some(pb::stats_reply::Result::Stats(pb::TableStats::from(&stats))),
            local_indexes: vec![pb::TableStats::from(&index)],
        }))
    }
}

/// The metadata service every fake node shares: applies CreateTable to its map and
/// publishes the new map to watchers only after `publish_delay`.
struct FakeCluster {
    map: watch::Sender<ClusterMap>,
    /// The map as proposals leave it (published later).
    pending: Mutex<ClusterMap>,
    publish_delay: Duration,
}

#[tonic::async_trait]
impl Cluster for FakeCluster {
    async fn join(
        &self,
        _req: Request<pb::JoinRequest>,
    ) -> Result<Response<pb::JoinReply>, Status> {
        Err(Status::unimplemented("join"))
    }

    async fn propose(
        &self,
        req: Request<pb::ProposeRequest>,
    ) -> Result<Response<pb::ProposeReply>, Status> {
        let command = req.into_inner().command.unwrap_or_default();
        let command =
            MetaCommand::try_from(command).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (epoch, reply, next) = {
            let mut map = self.pending.lock();
            let reply = match command {
                MetaCommand::CreateTable { mut def, .. } => {
                    if map.tables.contains_key(&def.name) {
                        MetaReply::TableExists(def.name)
                    } else {
                        map.epoch += 1;
                        map.next_table_id += 1;
                        def.id = map.next_table_id;
                        let nodes: Vec<NodeId> = map.nodes.keys().copied().collect();
                        let partitions = (0..def.partition_count)
                            .map(|p| PartitionInfo {
                                replicas: nodes.clone(),
                                epoch: map.epoch,
                                initial: def
                                    .partition_tokens(p)
                                    .unwrap_or(rotor_model::table::TokenRange::ALL),
                                split_from: None,
                                pinned: None,
                            })
                            .collect();
                        map.tables.insert(
                            def.name.clone(),
                            TableEntry {
                                def: def.clone(),
                                partitions,
                                scaling_activities: Vec::new(),
                            },
                        );
                        MetaReply::Table(def)
                    }
                }
                _ => MetaReply::Done,
            };
            (map.epoch, reply, map.clone())
        };
        let publish = self.map.clone();
        let delay = self.publish_delay;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            publish.send_replace(next);
        });
        let outcome = pb::MetaOutcome::from(&MetaOutcome { epoch, reply });
        Ok(Response::new(pb::ProposeReply {
            outcome: Some(outcome),
        }))
    }

    type WatchMapStream = ReceiverStream<Result<pb::MapUpdate, Status>>;

    async fn watch_map(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchMapStream>, Status> {
        let mut after = req.into_inner().after_epoch;
        let mut maps = self.map.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let map = maps.borrow_and_update().clone();
                if map.epoch > after || after == 0 {
                    after = map.epoch;
                    let update = pb::MapUpdate {
                        epoch: map.epoch,
                        map: Some(pb::ClusterMap::from(&map)),
                    };
                    if tx.send(Ok(update)).await.is_err() {
                        return;
                    }
                }
                if maps.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn status(
        &self,
        _req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        Err(Status::unimplemented("status"))
    }

    async fn drain(
        &self,
        _req: Request<pb::DrainRequest>,
    ) -> Result<Response<pb::DrainReply>, Status> {
        Err(Status::unimplemented("not needed by these tests"))
    }

    async fn change_replicas(
        &self,
        _req: Request<pb::ChangeReplicasRequest>,
    ) -> Result<Response<pb::ChangeReplicasReply>, Status> {
        Err(Status::unimplemented("not needed by these tests"))
    }
    async fn load(
        &self,
        _req: Request<pb::LoadRequest>,
    ) -> Result<Response<pb::LoadReply>, Status> {
        Err(Status::unimplemented("not needed by these tests"))
    }
    async fn split_point(
        &self,
        _req: Request<pb::SplitPointRequest>,
    ) -> Result<Response<pb::SplitPointReply>, Status> {
        Err(Status::unimplemented("not needed by these tests"))
    }
}

fn item() -> Item {
    BTreeMap::from([("pk".to_owned(), AttributeValue::S("k".into()))])
}

fn table_def(name: &str, id: u32, partitions: u32) -> TableDef {
    TableDef {
        id,
        partition_count: partitions,
        ..TableDef::keyed_by_pk(name)
    }
}

/// An address nothing listens on (a port the OS just handed out and took back).
async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A fake cluster: nodes 1..=`live.len()` (node i is dead unless `live[i-1]`), every
/// live one serving the partition service (with `leader` leading) and the shared
/// metadata service. The map holds table "t" (id 1, one partition on every node).
struct Fake {
    backend: Arc<ClusterBackend>,
    calls: Vec<Arc<AtomicU32>>,
    cluster: Arc<FakeCluster>,
}

async fn fake_cluster(live: &[bool], leader: NodeId, publish_delay: Duration) -> Fake {
    let mut listeners = Vec::new();
    let mut nodes = BTreeMap::new();
    for (i, up) in live.iter().enumerate() {
        let id = i as NodeId + 1;
        let addr = if *up {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            listeners.push((id, l));
            addr
        } else {
            dead_addr().await
        };
        let info = NodeInfo {
            addr: addr.to_string(),
            state: NodeState::Active,
        };
        nodes.insert(id, info);
    }
    let def = table_def("t", 1, 1);
    let partitions = vec![PartitionInfo {
        replicas: nodes.keys().copied().collect(),
        epoch: 1,
        initial: rotor_model::table::TokenRange::ALL,
        split_from: None,
        pinned: None,
    }];
    let map = ClusterMap {
        epoch: 1,
        nodes: nodes.clone(),
        tables: BTreeMap::from([(
            "t".to_owned(),
            TableEntry {
                def,
                partitions,
                scaling_activities: Vec::new(),
            },
        )]),
        next_table_id: 1,
        partition_capacity: None,
    };
    let cluster = Arc::new(FakeCluster {
        map: watch::Sender::new(map.clone()),
        pending: Mutex::new(map),
        publish_delay,
    });
    let calls: Vec<Arc<AtomicU32>> = live.iter().map(|_| Arc::default()).collect();
    let mut seeds = Vec::new();
    for (id, listener) in listeners {
        seeds.push(nodes[&id].addr.clone());
        let partition = FakePartition {
            id,
            leader,
            item: item(),
            calls: Arc::clone(&calls[id as usize - 1]),
        };
        let router = tonic::transport::Server::builder()
            .add_service(PartitionServer::new(partition))
            .add_service(ClusterServer::from_arc(Arc::clone(&cluster)));
        tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    }
    let options = ClusterOptions {
        partitions_per_table: 2,
        request_deadline: Duration::from_secs(5),
    };
    let backend = ClusterBackend::connect(seeds, options);
    backend.wait_ready(Duration::from_secs(5)).await.unwrap();
    Fake {
        backend,
        calls,
        cluster,
    }
}

#[tokio::test]
async fn write_follows_the_leader_hint() {
    let fake = fake_cluster(&[true, true], 2, Duration::ZERO).await;
    let def = fake.backend.table("t").unwrap();
    let req = WriteRequest {
        table_id: def.id,
        item_key: b"k".to_vec(),
        command: WriteCommand::Put {
            item: item(),
            condition: None,
        },
    };
    let outcome = fake.backend.write(&def, 0, req.clone()).await.unwrap();
    assert_eq!(
        outcome,
        WriteOutcome::Applied {
            old: None,
            new: Some(item())
        }
    );
    // Node 1 (the first replica) redirected, node 2 applied it.
    assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
    assert_eq!(fake.calls[1].load(Ordering::SeqCst), 1);
    // The leader is remembered: the next write goes straight to it.
    fake.backend.write(&def, 0, req).await.unwrap();
    assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
    assert_eq!(fake.calls[1].load(Ordering::SeqCst), 2);
    // A consistent read also ends at the leader.
    let got = fake
        .backend
        .get(&def, 0, b"k".to_vec(), true)
        .await
        .unwrap();
    assert_eq!(got, Some(item()));
    assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn index_writes_go_to_the_leader_and_say_when_they_wait_for_a_release() {
    let fake = fake_cluster(&[true, true], 2, Duration::ZERO).await;
    let def = fake.backend.table("t").unwrap();
    let write = rotor_model::global_index::IndexWrite {
        source: (7, 0),
        up_to: 3,
        ..Default::default()
    };
    fake.backend.index_write(&def, 0, &write).await.unwrap();
    // Node 1 redirected to the leader, node 2 applied it.
    assert_eq!(fake.calls[0].load(Ordering::SeqCst), 1);
    assert_eq!(fake.calls[1].load(Ordering::SeqCst), 1);
    let gated = rotor_model::global_index::IndexWrite {
        gated: true,
        ..write
    };
    let refused = fake.backend.index_write(&def, 0, &gated).await;
    assert!(
        matches!(refused, Err(crate::IndexWriteError::NotReleased((7, 0)))),
        "{refused:?}"
    );
    // Refused at once, not retried until the deadline.
    assert_eq!(fake.calls[1].load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn eventual_get_skips_a_dead_replica() {
    // Node 1, the first replica (where the round robin starts), is down.
    let fake = fake_cluster(&[false, true], 2, Duration::ZERO).await;
    let def = fake.backend.table("t").unwrap();
    for _ in 0..3 {
        let got = fake.backend.get(&def, 0, b"k".to_vec(), false).await;
        assert_eq!(got.unwrap(), Some(item()));
    }
    let missing = fake.backend.get(&def, 0, b"other".to_vec(), false).await;
    assert_eq!(missing.unwrap(), None);
    assert_eq!(fake.calls[1].load(Ordering::SeqCst), 4);
    let page = fake.backend.read_range(
        &def,
        0,
        ReadRange {
            start: vec![],
            end: vec![0xff],
            reverse: false,
            max_items: None,
            max_bytes: 1 << 20,
            local_index: None,
        },
        false,
    );
    assert_eq!(page.await.unwrap(), RangePage::default());
}

#[tokio::test]
async fn write_skips_a_dead_first_replica() {
    // A refused connection is "not reached" (gRPC Unavailable): safe to try elsewhere.
    let fake = fake_cluster(&[false, true], 2, Duration::ZERO).await;
    let def = fake.backend.table("t").unwrap();
    let req = WriteRequest {
        table_id: def.id,
        item_key: b"k".to_vec(),
        command: WriteCommand::Put {
            item: item(),
            condition: None,
        },
    };
    fake.backend.write(&def, 0, req).await.unwrap();
    assert_eq!(fake.calls[1].load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn create_table_waits_for_the_map() {
    let fake = fake_cluster(&[true, true], 1, Duration::from_millis(300)).await;
    let created = fake
        .backend
        .create_table(table_def("fresh", 0, 0), Vec::new())
        .await
        .unwrap();
    assert_eq!(created.partition_count, 2);
    assert_eq!(created.id, 2);
    // The new map was published 300 ms after the proposal was answered.
    assert_eq!(fake.backend.table("fresh"), Some(created.clone()));
    assert_eq!(fake.backend.table_names(), vec!["fresh", "t"]);
    assert_eq!(fake.backend.map().epoch, 2);
    let stats = fake.backend.table_stats(&created).await.unwrap();
    assert_eq!(stats.table.item_count, 2);
    assert_eq!(stats.table.size_bytes, 20);
    assert_eq!(
        stats.local_indexes,
        [TableStats {
            item_count: 2,
            size_bytes: 8
        }],
        "each partition's index counts are added up"
    );

    let again = fake
        .backend
        .create_table(table_def("fresh", 0, 0), Vec::new())
        .await;
    assert!(matches!(again, Err(BackendError::TableExists(n)) if n == "fresh"));
    assert_eq!(fake.cluster.map.borrow().epoch, 2);
}

#[tokio::test]
async fn wait_ready_names_the_seeds() {
    let dead = dead_addr().await.to_string();
    let backend = ClusterBackend::connect(vec![dead.clone()], ClusterOptions::default());
    let err = backend
        .wait_ready(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::Unavailable(m) if m.contains(&dead)),
        "{err}"
    );
}
