//! The [`Backend`] operations over the cluster: table changes as metadata proposals,
//! table stats from every partition, and item writes, gets and range reads sent to their
//! partition and routed again when a split moved their keys.

use rotor_model::cluster::{MetaCommand, MetaReply};
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{StatsWithIndexes, TableDef, TableStats};
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::{Item, ModelError};
use rotor_proto::item_from_wire;
use rotor_proto::v1 as pb;
use rotor_proto::v1::partition_client::PartitionClient;

use super::route::{Answer, Route};
use super::rpc::{from_wire, request, timed, wire_error};
use super::ClusterBackend;
use crate::backend::{Backend, BackendError, MAX_REROUTES};

fn unexpected(reply: MetaReply) -> BackendError {
    BackendError::Internal(format!("unexpected metadata reply {reply:?}"))
}

impl Backend for ClusterBackend {
    async fn create_table(
        &self,
        mut def: TableDef,
        mut global_indexes: Vec<TableDef>,
    ) -> Result<TableDef, BackendError> {
        for def in std::iter::once(&mut def).chain(&mut global_indexes) {
            if def.partition_count == 0 {
                def.partition_count = self.options.partitions_per_table.max(1);
            }
        }
        let command = MetaCommand::CreateTable {
            def,
            global_indexes,
        };
        match self.apply_meta(command).await? {
            MetaReply::Table(def) => {
                tracing::info!(table = %def.name, id = def.id, partitions = def.partition_count, "table created");
                Ok(def)
            }
            MetaReply::TableExists(n) => Err(BackendError::TableExists(n)),
            MetaReply::TableNotFound(n) => Err(BackendError::TableNotFound(n)),
            MetaReply::Refused(why) => Err(BackendError::Invalid(why)),
            other => Err(unexpected(other)),
        }
    }

    async fn update_table(&self, before: &TableDef, after: &TableDef) -> Result<(), BackendError> {
        let command = MetaCommand::UpdateTable {
            def: after.clone(),
            expected: Box::new(before.clone()),
        };
        match self.apply_meta(command).await? {
            MetaReply::Changed(why) => Err(BackendError::Changed(why)),
            MetaReply::Table(_) | MetaReply::Done => Ok(()),
            MetaReply::TableExists(n) => Err(BackendError::TableExists(n)),
            MetaReply::TableNotFound(n) => Err(BackendError::TableNotFound(n)),
            MetaReply::Refused(why) => Err(BackendError::Invalid(why)),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_table(&self, name: &str) -> Result<TableDef, BackendError> {
        let known = self.table(name);
        let command = MetaCommand::DeleteTable {
            name: name.to_owned(),
        };
        let def = match self.apply_meta(command).await? {
            MetaReply::Table(def) => def,
            MetaReply::Done => known.ok_or_else(|| {
                BackendError::Internal(format!(
                    "table {name} was deleted but its definition was not in the cached map"
                ))
            })?,
            MetaReply::TableNotFound(n) => return Err(BackendError::TableNotFound(n)),
            MetaReply::TableExists(n) => return Err(BackendError::TableExists(n)),
            other => return Err(unexpected(other)),
        };
        tracing::info!(table = %def.name, id = def.id, "table deleted");
        Ok(def)
    }

    async fn create_global_index(&self, mut index: TableDef) -> Result<TableDef, BackendError> {
        if index.partition_count == 0 {
            index.partition_count = self.options.partitions_per_table.max(1);
        }
        match self
            .apply_meta(MetaCommand::CreateGlobalIndex { index })
            .await?
        {
            MetaReply::Table(def) => {
                tracing::info!(index = %def.name, id = def.id, partitions = def.partition_count, "global secondary index added; backfilling");
                Ok(def)
            }
            MetaReply::TableNotFound(n) => Err(BackendError::TableNotFound(n)),
            MetaReply::Refused(why) => Err(BackendError::Invalid(why)),
            MetaReply::LimitExceeded(why) => Err(BackendError::LimitExceeded(why)),
            other => Err(unexpected(other)),
        }
    }

    fn table(&self, name: &str) -> Option<TableDef> {
        self.map().table(name).map(|t| t.def.clone())
    }

    fn table_names(&self) -> Vec<String> {
        self.map()
            .tables
            .values()
            .filter(|t| t.def.global_index_of.is_none())
            .map(|t| t.def.name.clone())
            .collect()
    }

    fn global_indexes(&self, def: &TableDef) -> Vec<TableDef> {
        self.map()
            .global_indexes_of(def.id)
            .into_iter()
            .map(|t| t.def.clone())
            .collect()
    }

    fn table_moving(&self, name: &str) -> bool {
        self.map().table_moving(name)
    }

    fn scaling_activities(&self, name: &str) -> Vec<rotor_model::table::ScalingActivity> {
        self.map()
            .table(name)
            .map(|t| t.scaling_activities.clone())
            .unwrap_or_default()
    }

    async fn table_stats(&self, def: &TableDef) -> Result<StatsWithIndexes, BackendError> {
        let partitions = match self.map().table_by_id(def.id) {
            Some(entry) => entry.partitions.len() as u32,
            None => return Err(BackendError::TableNotFound(def.name.clone())),
        };
        // Like an eventually consistent read of each partition (any replica that has
        // applied this router's writes), all partitions at once.
        let replies = futures::future::join_all((0..partitions).map(|p| {
            let min_applied = self.written_at((def.id, p));
            self.call_partition(
                def,
                p,
                Route::Spread,
                "stats",
                move |channel, partition, t| {
                    let req = pb::StatsRequest {
                        partition: Some(partition),
                        min_applied,
                    };
                    async move {
                        let mut client = PartitionClient::new(channel);
                        let reply = timed(t, client.stats(request(req, t))).await?;
                        Ok(match reply.result {
                            Some(pb::stats_reply::Result::Stats(s)) => {
                                let table = match from_wire::<_, TableStats>(s, "table stats") {
                                    Ok(table) => table,
                                    Err(e) => return Ok(Answer::Fail(e)),
                                };
                                let mut local_indexes = Vec::new();
                                for s in reply.local_indexes {
                                    match from_wire::<_, TableStats>(s, "index stats") {
                                        Ok(stats) => local_indexes.push(stats),
                                        Err(e) => return Ok(Answer::Fail(e)),
                                    }
                                }
                                Answer::Value(StatsWithIndexes {
                                    table,
                                    local_indexes,
                                })
                            }
                            Some(pb::stats_reply::Result::Refused(r)) => Answer::Refused(r),
                            None => Answer::Fail(BackendError::Internal(
                                "empty stats reply from a node".into(),
                            )),
                        })
                    }
                },
            )
        }))
        .await;
        let mut total = StatsWithIndexes::default();
        for stats in replies {
            total.add(&stats?);
        }
        Ok(total)
    }

    async fn write(
        &self,
        def: &TableDef,
        partition: u32,
        req: WriteRequest,
    ) -> Result<WriteOutcome, BackendError> {
        let command = pb::WriteCommand::from(&req);
        let mut partition = partition;
        for _ in 0..MAX_REROUTES {
            match self.write_once(def, partition, &command).await {
                Err(BackendError::StaleRoute(_)) => {
                    partition = self.reroute(def, &req.item_key)?;
                }
                other => return other,
            }
        }
        Err(self.too_many_reroutes(def))
    }

    async fn get(
        &self,
        def: &TableDef,
        partition: u32,
        item_key: Vec<u8>,
        consistent: bool,
    ) -> Result<Option<Item>, BackendError> {
        let mut partition = partition;
        for _ in 0..MAX_REROUTES {
            match self.get_once(def, partition, &item_key, consistent).await {
                Err(BackendError::StaleRoute(_)) => {
                    partition = self.reroute(def, &item_key)?;
                }
                other => return other,
            }
        }
        Err(self.too_many_reroutes(def))
    }

    async fn read_range(
        &self,
        def: &TableDef,
        partition: u32,
        range: ReadRange,
        consistent: bool,
    ) -> Result<RangePage, BackendError> {
        let mut partition = partition;
        for _ in 0..MAX_REROUTES {
            match self
                .read_range_once(def, partition, &range, consistent)
                .await
            {
                Err(BackendError::StaleRoute(epoch)) => {
                    // Transparent when the whole range now lies in one partition (a
                    // Query); a Scan's range across partitions is the caller's to cut.
                    let token = range.start_token().ok_or_else(|| {
                        BackendError::Internal("a range read without a token".into())
                    })?;
                    partition = self.reroute_token(def, token)?;
                    let map = self.map();
                    let fits = map.table_by_id(def.id).is_some_and(|t| {
                        t.def
                            .partition_tokens(partition)
                            .is_some_and(|r| range.within(def.id, &r))
                    });
                    if !fits {
                        return Err(BackendError::StaleRoute(epoch));
                    }
                }
                other => return other,
            }
        }
        Err(self.too_many_reroutes(def))
    }
}

impl ClusterBackend {
    /// The partition that owns a storage key in the current map.
    fn reroute(&self, def: &TableDef, item_key: &[u8]) -> Result<u32, BackendError> {
        let token = rotor_model::keys::token_of_item_key(item_key)
            .ok_or_else(|| BackendError::Internal("a storage key without a token".into()))?;
        self.reroute_token(def, token)
    }

    /// The partition that owns a token in the current map.
    fn reroute_token(&self, def: &TableDef, token: u64) -> Result<u32, BackendError> {
        let map = self.map();
        let entry = map
            .table_by_id(def.id)
            .ok_or_else(|| BackendError::TableNotFound(def.name.clone()))?;
        Ok(entry.def.partition_of_token(token))
    }

    fn too_many_reroutes(&self, def: &TableDef) -> BackendError {
        BackendError::Unavailable(format!(
            "the partitions of table {} kept changing while the request was routed; retry",
            def.name
        ))
    }

    async fn write_once(
        &self,
        def: &TableDef,
        partition: u32,
        command: &pb::WriteCommand,
    ) -> Result<WriteOutcome, BackendError> {
        let route = Route::Leader { idempotent: false };
        let (outcome, index) = self
            .call_partition(def, partition, route, "write", |channel, partition, t| {
                let req = pb::WriteRequest {
                    partition: Some(partition),
                    command: Some(command.clone()),
                };
                async move {
                    let mut client = PartitionClient::new(channel);
                    let reply = timed(t, client.write(request(req, t))).await?;
                    let index = reply.log_index;
                    Ok(match reply.result {
                        Some(pb::write_reply::Result::Outcome(o)) => {
                            from_wire::<_, WriteOutcome>(o, "write outcome")
                                .map(|o| (o, index))
                                .into()
                        }
                        Some(pb::write_reply::Result::Validation(msg)) => {
                            Answer::Fail(BackendError::Model(ModelError::Validation(msg)))
                        }
                        Some(pb::write_reply::Result::Refused(r)) => Answer::Refused(r),
                        None => Answer::Fail(BackendError::Internal(
                            "empty write reply from a node".into(),
                        )),
                    })
                }
            })
            .await?;
        self.note_written((def.id, partition), index);
        Ok(outcome)
    }

    async fn get_once(
        &self,
        def: &TableDef,
        partition: u32,
        item_key: &[u8],
        consistent: bool,
    ) -> Result<Option<Item>, BackendError> {
        let route = if consistent {
            Route::Leader { idempotent: true }
        } else {
            Route::Spread
        };
        let min_applied = self.written_at((def.id, partition));
        let (item, applied) = self
            .call_partition(def, partition, route, "get", |channel, partition, t| {
                let req = pb::GetRequest {
                    partition: Some(partition),
                    item_key: item_key.to_vec(),
                    consistent,
                    min_applied,
                };
                async move {
                    let mut client = PartitionClient::new(channel);
                    let reply = timed(t, client.get(request(req, t))).await?;
                    let applied = reply.applied_index;
                    Ok(match reply.result {
                        Some(pb::get_reply::Result::Item(item)) => item_from_wire(item)
                            .map(|item| (Some(item), applied))
                            .map_err(|e| wire_error("item", e))
                            .into(),
                        Some(pb::get_reply::Result::NotFound(_)) => Answer::Value((None, applied)),
                        Some(pb::get_reply::Result::Refused(r)) => Answer::Refused(r),
                        None => Answer::Fail(BackendError::Internal(
                            "empty get reply from a node".into(),
                        )),
                    })
                }
            })
            .await?;
        // Later reads through this router see at least what this one saw.
        self.note_written((def.id, partition), applied);
        Ok(item)
    }

    async fn read_range_once(
        &self,
        def: &TableDef,
        partition: u32,
        range: &ReadRange,
        consistent: bool,
    ) -> Result<RangePage, BackendError> {
        let encoded = pb::ReadRange::from(range);
        let route = if consistent {
            Route::Leader { idempotent: true }
        } else {
            Route::Spread
        };
        let min_applied = self.written_at((def.id, partition));
        let (page, applied) = self
            .call_partition(
                def,
                partition,
                route,
                "read_range",
                |channel, partition, t| {
                    let req = pb::ReadRangeRequest {
                        partition: Some(partition),
                        range: Some(encoded.clone()),
                        consistent,
                        min_applied,
                    };
                    async move {
                        let mut client = PartitionClient::new(channel);
                        let reply = timed(t, client.read_range(request(req, t))).await?;
                        let applied = reply.applied_index;
                        Ok(match reply.result {
                            Some(pb::read_range_reply::Result::Page(page)) => {
                                from_wire::<_, RangePage>(page, "range page")
                                    .map(|page| (page, applied))
                                    .into()
                            }
                            Some(pb::read_range_reply::Result::Refused(r)) => Answer::Refused(r),
                            None => Answer::Fail(BackendError::Internal(
                                "empty read range reply from a node".into(),
                            )),
                        })
                    }
                },
            )
            .await?;
        self.note_written((def.id, partition), applied);
        Ok(page)
    }
}
