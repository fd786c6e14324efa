//! Index writes: a base partition's changes delivered to one partition of a global
//! secondary index's table, at its leader. Used by storage nodes feeding their
//! indexes, not by the API: an index write is idempotent (the index partition applies
//! each base position once), so it is retried wherever its fate is unknown.

use rotor_model::global_index::IndexWrite;
use rotor_model::table::TableDef;
use rotor_proto::v1 as pb;
use rotor_proto::v1::partition_client::PartitionClient;

use super::route::{Answer, Route};
use super::rpc::{request, timed};
use super::ClusterBackend;
use crate::backend::BackendError;

/// Why an index write was not applied.
#[derive(Debug, thiserror::Error)]
pub enum IndexWriteError {
    /// The base partition was split off another that has not yet delivered all its
    /// changes before the split: try again later.
    #[error("the index partition waits for the parent of base partition {0:?}")]
    NotReleased((u32, u32)),
    /// A backfill page that does not follow the pages the index partition has: the
    /// backfill must start again.
    #[error("the index partition asks base partition {0:?} to start its backfill again")]
    BackfillRestart((u32, u32)),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl ClusterBackend {
    /// Applies `write` at partition `partition` of index table `index`.
    pub async fn index_write(
        &self,
        index: &TableDef,
        partition: u32,
        write: &IndexWrite,
    ) -> Result<(), IndexWriteError> {
        let encoded = pb::IndexWrite::from(write);
        let source = write.source;
        let route = Route::Leader { idempotent: true };
        let outcome = self
            .call_partition(
                index,
                partition,
                route,
                "index_write",
                |channel, partition, t| {
                    let req = pb::IndexWriteRequest {
                        partition: Some(partition),
                        write: Some(encoded.clone()),
                    };
                    async move {
                        let mut client = PartitionClient::new(channel);
                        let reply = timed(t, client.index_write(request(req, t))).await?;
                        Ok(match reply.result {
                            Some(pb::index_write_reply::Result::AppliedAt(_)) => {
                                Answer::Value(None)
                            }
                            Some(pb::index_write_reply::Result::Refused(r))
                                if r.reason() == pb::Refusal::NotReleased =>
                            {
                                Answer::Value(Some(IndexWriteError::NotReleased(source)))
                            }
                            Some(pb::index_write_reply::Result::Refused(r))
                                if r.reason() == pb::Refusal::BackfillRestart =>
                            {
                                Answer::Value(Some(IndexWriteError::BackfillRestart(source)))
                            }
                            Some(pb::index_write_reply::Result::Refused(r)) => Answer::Refused(r),
                            None => Answer::Fail(BackendError::Internal(
                                "empty index write reply from a node".into(),
                            )),
                        })
                    }
                },
            )
            .await?;
        match outcome {
            None => Ok(()),
            Some(refusal) => Err(refusal),
        }
    }
}

impl ClusterBackend {
    /// Tells the metadata group that base partition `partition` has copied its items
    /// into the index held by table `index_table_id`.
    pub async fn report_backfilled(
        &self,
        index_table_id: u32,
        partition: u32,
    ) -> Result<(), BackendError> {
        self.apply_meta(rotor_model::cluster::MetaCommand::GlobalIndexBackfilled {
            index_table_id,
            partition,
        })
        .await
        .map(|_| ())
    }
}
