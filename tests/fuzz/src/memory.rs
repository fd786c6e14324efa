//! An in-memory cluster behind the router's `Backend`: tables in a map, each table's
//! items in one ordered map by storage key, writes applied as a partition applies
//! them. Enough for whole requests to run, with no node or network.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rotor_model::keys::item_key;
use rotor_model::number::Number;
use rotor_model::read::{RangePage, ReadRange};
use rotor_model::table::{
    KeyAttribute, KeySchema, ScalarType, StatsWithIndexes, TableDef, TableStats,
};
use rotor_model::value::item_size;
use rotor_model::write::{WriteOutcome, WriteRequest};
use rotor_model::{AttributeValue, Item};
use rotor_router::backend::{Backend, BackendError};

#[derive(Default)]
pub struct MemoryBackend {
    tables: Mutex<BTreeMap<String, TableDef>>,
    items: Mutex<BTreeMap<Vec<u8>, Item>>,
}

impl MemoryBackend {
    /// With two tables: `t` keyed by `pk` (S), and `ts` by `pk` (S) and `sk` (N), each
    /// with a few items (`pk` "a" and "b"; in `ts`, `sk` 1 and 2 each).
    pub fn with_tables() -> MemoryBackend {
        let backend = MemoryBackend::default();
        let pk = KeyAttribute {
            name: "pk".into(),
            ty: ScalarType::S,
        };
        let sk = KeyAttribute {
            name: "sk".into(),
            ty: ScalarType::N,
        };
        let mut t = TableDef::keyed_by_pk("t");
        t.id = 1;
        let schema = KeySchema {
            partition: pk.clone(),
            sort: Some(sk.clone()),
        };
        let mut ts = TableDef::new("ts", schema, vec![pk, sk]);
        ts.id = 2;
        if let Ok(mut items) = backend.items.lock() {
            for pk in ["a", "b"] {
                let pk = AttributeValue::S(pk.into());
                let mut item = Item::new();
                item.insert("pk".into(), pk.clone());
                item.insert("v".into(), AttributeValue::N(Number::from_i64(1)));
                items.insert(item_key(t.id, &pk, None), item.clone());
                for sk in [1, 2] {
                    let sk = AttributeValue::N(Number::from_i64(sk));
                    item.insert("sk".into(), sk.clone());
                    items.insert(item_key(ts.id, &pk, Some(&sk)), item.clone());
                }
            }
        }
        if let Ok(mut tables) = backend.tables.lock() {
            tables.insert(t.name.clone(), t);
            tables.insert(ts.name.clone(), ts);
        }
        backend
    }

    fn poisoned() -> BackendError {
        BackendError::Internal("a lock was poisoned".into())
    }
}

impl Backend for MemoryBackend {
    async fn create_table(
        &self,
        mut def: TableDef,
        global_indexes: Vec<TableDef>,
    ) -> Result<TableDef, BackendError> {
        if !global_indexes.is_empty() {
            return Err(BackendError::Invalid(
                "the in-memory backend keeps no global secondary indexes".into(),
            ));
        }
        let mut tables = self.tables.lock().map_err(|_| Self::poisoned())?;
        if tables.contains_key(&def.name) {
            return Err(BackendError::TableExists(def.name));
        }
        def.id = tables.len() as u32 + 1;
        tables.insert(def.name.clone(), def.clone());
        Ok(def)
    }

    async fn update_table(&self, before: &TableDef, after: &TableDef) -> Result<(), BackendError> {
        let mut tables = self.tables.lock().map_err(|_| Self::poisoned())?;
        match tables.get(&before.name) {
            Some(current) if current == before => {
                tables.insert(after.name.clone(), after.clone());
                Ok(())
            }
            Some(_) => Err(BackendError::Changed("the table changed".into())),
            None => Err(BackendError::TableNotFound(before.name.clone())),
        }
    }

    async fn create_global_index(&self, _index: TableDef) -> Result<TableDef, BackendError> {
        Err(BackendError::Invalid(
            "the in-memory backend keeps no global secondary indexes".into(),
        ))
    }

    async fn delete_table(&self, name: &str) -> Result<TableDef, BackendError> {
        let mut tables = self.tables.lock().map_err(|_| Self::poisoned())?;
        tables
            .remove(name)
            .ok_or_else(|| BackendError::TableNotFound(name.to_owned()))
    }

    fn table(&self, name: &str) -> Option<TableDef> {
        self.tables.lock().ok()?.get(name).cloned()
    }

    fn table_names(&self) -> Vec<String> {
        self.tables
            .lock()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn global_indexes(&self, _def: &TableDef) -> Vec<TableDef> {
        Vec::new()
    }

    fn table_moving(&self, _name: &str) -> bool {
        false
    }

    fn scaling_activities(&self, _name: &str) -> Vec<rotor_model::table::ScalingActivity> {
        Vec::new()
    }

    async fn table_stats(&self, def: &TableDef) -> Result<StatsWithIndexes, BackendError> {
        let items = self.items.lock().map_err(|_| Self::poisoned())?;
        let prefix = def.id.to_be_bytes();
        let mut stats = TableStats::default();
        for (_, item) in items
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            stats.item_count += 1;
            stats.size_bytes += item_size(item) as u64;
        }
        // Its tables have no local indexes.
        Ok(StatsWithIndexes {
            table: stats,
            local_indexes: Vec::new(),
        })
    }

    async fn write(
        &self,
        _def: &TableDef,
        _partition: u32,
        req: WriteRequest,
    ) -> Result<WriteOutcome, BackendError> {
        let mut items = self.items.lock().map_err(|_| Self::poisoned())?;
        let current = items.get(&req.item_key).cloned();
        let outcome = req.command.apply(current)?;
        if let WriteOutcome::Applied { new, .. } = &outcome {
            match new {
                Some(item) => items.insert(req.item_key, item.clone()),
                None => items.remove(&req.item_key),
            };
        }
        Ok(outcome)
    }

    async fn get(
        &self,
        _def: &TableDef,
        _partition: u32,
        item_key: Vec<u8>,
        _consistent: bool,
    ) -> Result<Option<Item>, BackendError> {
        let items = self.items.lock().map_err(|_| Self::poisoned())?;
        Ok(items.get(&item_key).cloned())
    }

    async fn read_range(
        &self,
        _def: &TableDef,
        _partition: u32,
        range: ReadRange,
        _consistent: bool,
    ) -> Result<RangePage, BackendError> {
        if range.local_index.is_some() {
            return Err(BackendError::Invalid(
                "the in-memory backend's tables have no local indexes".into(),
            ));
        }
        let items = self.items.lock().map_err(|_| Self::poisoned())?;
        let mut page = RangePage::default();
        if range.start >= range.end {
            return Ok(page);
        }
        let selected = items.range(range.start.clone()..range.end.clone());
        let ordered: Box<dyn Iterator<Item = (&Vec<u8>, &Item)>> = match range.reverse {
            true => Box::new(selected.rev()),
            false => Box::new(selected),
        };
        for (key, item) in ordered {
            if range.max_items.is_some_and(|m| page.items.len() >= m)
                || page.bytes >= range.max_bytes
            {
                page.truncated = true;
                break;
            }
            page.bytes += item_size(item);
            page.items.push((key.clone(), item.clone()));
        }
        Ok(page)
    }
}
