//! The store: the catalog of tables, their partitions, and reads over the items.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rocksdb::WriteBatch;
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{TableDef, TableStats};
use rotor_model::write::WriteOutcome;
use rotor_model::Item;

use crate::codec::{decode, encode};
use crate::engine::{Engine, CF_META};
use crate::error::{Result, StorageError};
use crate::items;
use crate::partition::Partition;
use rotor_model::write::WriteRequest;

const TABLE_PREFIX: &[u8] = b"table/";
const NEXT_TABLE_ID: &[u8] = b"next_table_id";

pub struct Store {
    engine: Arc<Engine>,
    tables: RwLock<HashMap<String, TableDef>>,
    partitions: RwLock<HashMap<(u32, u32), Arc<Partition>>>,
    /// Serialises catalog changes.
    catalog_lock: Mutex<()>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let engine = Arc::new(Engine::open(path)?);
        let mut tables = HashMap::new();
        let mut partitions = HashMap::new();
        let meta = engine.cf(CF_META)?;
        for entry in engine.db().prefix_iterator_cf(meta, TABLE_PREFIX) {
            let (key, value) = entry?;
            if !key.starts_with(TABLE_PREFIX) {
                break;
            }
            let def: TableDef = decode(&value)?;
            for p in 0..def.partition_count {
                partitions.insert((def.id, p), Arc::new(open_partition(&engine, &def, p)?));
            }
            tables.insert(def.name.clone(), def);
        }
        tracing::info!(tables = tables.len(), path = %path.display(), "storage opened");
        Ok(Store {
            engine,
            tables: RwLock::new(tables),
            partitions: RwLock::new(partitions),
            catalog_lock: Mutex::new(()),
        })
    }

    pub fn table(&self, name: &str) -> Option<TableDef> {
        self.tables.read().get(name).cloned()
    }

    /// Table names in ascending order.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// Records a new table; `def.id` is assigned here and never reused.
    pub fn create_table(&self, mut def: TableDef) -> Result<TableDef> {
        let _guard = self.catalog_lock.lock();
        if self.tables.read().contains_key(&def.name) {
            return Err(StorageError::TableExists(def.name));
        }
        let meta = self.engine.cf(CF_META)?;
        let next_id = match self.engine.db().get_cf(meta, NEXT_TABLE_ID)? {
            Some(bytes) => decode::<u32>(&bytes)?,
            None => 1,
        };
        def.id = next_id;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, NEXT_TABLE_ID, encode(&(next_id + 1))?);
        batch.put_cf(meta, table_key(&def.name), encode(&def)?);
        self.engine.write(batch)?;
        self.engine.sync_blocking()?;
        let mut parts = self.partitions.write();
        for p in 0..def.partition_count {
            parts.insert(
                (def.id, p),
                Arc::new(open_partition(&self.engine, &def, p)?),
            );
        }
        self.tables.write().insert(def.name.clone(), def.clone());
        Ok(def)
    }

    /// Replaces a table's definition (capacity settings and the like).
    pub fn update_table(&self, def: &TableDef) -> Result<()> {
        let _guard = self.catalog_lock.lock();
        if !self.tables.read().contains_key(&def.name) {
            return Err(StorageError::TableNotFound(def.name.clone()));
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.engine.cf(CF_META)?, table_key(&def.name), encode(def)?);
        self.engine.write(batch)?;
        self.engine.sync_blocking()?;
        self.tables.write().insert(def.name.clone(), def.clone());
        Ok(())
    }

    /// Removes a table and all its items.
    pub fn delete_table(&self, name: &str) -> Result<TableDef> {
        let _guard = self.catalog_lock.lock();
        let def = self
            .table(name)
            .ok_or_else(|| StorageError::TableNotFound(name.to_owned()))?;
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.engine.cf(CF_META)?, table_key(name));
        items::delete_table_in(&self.engine, &mut batch, def.id)?;
        self.engine.write(batch)?;
        self.engine.owners().remove_table(def.id);
        self.engine.sync_blocking()?;
        self.partitions.write().retain(|(t, _), _| *t != def.id);
        self.tables.write().remove(name);
        Ok(def)
    }

    pub fn table_stats(&self, def: &TableDef) -> TableStats {
        let parts = self.partitions.read();
        let mut total = TableStats::default();
        for p in 0..def.partition_count {
            if let Some(part) = parts.get(&(def.id, p)) {
                let s = part.stats();
                total.item_count += s.item_count;
                total.size_bytes += s.size_bytes;
            }
        }
        total
    }

    fn partition(&self, table_id: u32, index: u32) -> Result<Arc<Partition>> {
        self.partitions
            .read()
            .get(&(table_id, index))
            .cloned()
            .ok_or_else(|| {
                StorageError::TableNotFound(format!("table id {table_id} partition {index}"))
            })
    }

    /// Applies a write on partition `index` and waits until it is durable.
    pub async fn write(&self, index: u32, req: &WriteRequest) -> Result<WriteOutcome> {
        let partition = self.partition(req.table_id, index)?;
        let outcome = partition.apply(&self.engine, req)?;
        // Only a write that changed something (see Partition::apply) waits for the WAL.
        if let WriteOutcome::Applied { old, new } = &outcome {
            if old.is_some() || new.is_some() {
                self.engine.sync().await?;
            }
        }
        Ok(outcome)
    }

    /// Reads one item by its storage key.
    pub fn get(&self, item_key: &[u8]) -> Result<Option<Item>> {
        items::get(&self.engine, item_key)
    }

    /// Reads items in a key range, stopping at the item or byte limit.
    pub fn read_range(&self, range: &ReadRange) -> Result<RangePage> {
        items::read_range(&self.engine, range)
    }
}

fn open_partition(engine: &Engine, def: &TableDef, p: u32) -> Result<Partition> {
    let range = def
        .partition_tokens(p)
        .unwrap_or(rotor_model::table::TokenRange::ALL);
    Partition::open(engine, def.id, p, range, false)
}

fn table_key(name: &str) -> Vec<u8> {
    let mut k = TABLE_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}
