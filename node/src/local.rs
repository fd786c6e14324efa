//! The router's backend over this node's own store: every partition is local.

use std::sync::Arc;

use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{TableDef, TableStats};
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::Item;
use rotor_router::{Backend, BackendError};
use rotor_storage::{StorageError, Store};

pub struct LocalBackend {
    store: Arc<Store>,
    /// Partitions a new table starts with.
    partitions_per_table: u32,
}

impl LocalBackend {
    pub fn new(store: Arc<Store>, partitions_per_table: u32) -> LocalBackend {
        LocalBackend {
            store,
            partitions_per_table: partitions_per_table.max(1),
        }
    }
}

fn backend_error(e: StorageError) -> BackendError {
    match e {
        StorageError::Model(m) => BackendError::Model(m),
        StorageError::TableExists(t) => BackendError::TableExists(t),
        StorageError::TableNotFound(t) => BackendError::TableNotFound(t),
        StorageError::Engine(e) => BackendError::Internal(format!("storage engine: {e}")),
        StorageError::Corrupt(m) => BackendError::Internal(format!("corrupt record: {m}")),
        StorageError::Sync(m) => BackendError::Internal(format!("write-ahead log sync: {m}")),
    }
}

impl Backend for LocalBackend {
    async fn create_table(&self, mut def: TableDef) -> Result<TableDef, BackendError> {
        if def.partition_count == 0 {
            def.partition_count = self.partitions_per_table;
        }
        let def = self.store.create_table(def).map_err(backend_error)?;
        tracing::info!(table = %def.name, id = def.id, partitions = def.partition_count, "table created");
        Ok(def)
    }

    async fn update_table(&self, def: &TableDef) -> Result<(), BackendError> {
        self.store.update_table(def).map_err(backend_error)
    }

    async fn delete_table(&self, name: &str) -> Result<TableDef, BackendError> {
        let def = self.store.delete_table(name).map_err(backend_error)?;
        tracing::info!(table = %def.name, id = def.id, "table deleted");
        Ok(def)
    }

    fn table(&self, name: &str) -> Option<TableDef> {
        self.store.table(name)
    }

    fn table_names(&self) -> Vec<String> {
        self.store.table_names()
    }

    async fn table_stats(&self, def: &TableDef) -> Result<TableStats, BackendError> {
        Ok(self.store.table_stats(def))
    }

    async fn write(
        &self,
        _def: &TableDef,
        partition: u32,
        req: WriteRequest,
    ) -> Result<WriteOutcome, BackendError> {
        self.store
            .write(partition, &req)
            .await
            .map_err(backend_error)
    }

    async fn get(
        &self,
        _def: &TableDef,
        _partition: u32,
        item_key: Vec<u8>,
        _consistent: bool,
    ) -> Result<Option<Item>, BackendError> {
        self.store.get(&item_key).map_err(backend_error)
    }

    async fn read_range(
        &self,
        _def: &TableDef,
        _partition: u32,
        range: ReadRange,
        _consistent: bool,
    ) -> Result<RangePage, BackendError> {
        self.store.read_range(&range).map_err(backend_error)
    }
}
