//! Global secondary indexes in the cluster map: one added to an existing table (and
//! when it is ACTIVE), and what deleting one leaves of the table's definitions.

use rotor_model::cluster::{ClusterMap, MetaReply};
use rotor_model::global_index::{index_table_name, IndexStatus, MAX_GLOBAL_INDEXES};
use rotor_model::table::TableDef;

use super::place_table;

/// Adds a global secondary index to an existing table: CREATING and backfilling
/// until every partition of the table has copied its items in.
pub(super) fn create_global_index(map: &mut ClusterMap, mut index: TableDef) -> MetaReply {
    let Some(of) = index.global_index_of.as_mut() else {
        return MetaReply::Refused(format!("{} is not a global secondary index", index.name));
    };
    let Some(base) = map.tables.get(&of.base_table).map(|t| t.def.clone()) else {
        return MetaReply::TableNotFound(of.base_table.clone());
    };
    let existing = map.global_indexes_of(base.id);
    if existing.iter().any(|t| {
        t.def
            .global_index_of
            .as_ref()
            .is_some_and(|g| g.index_name == of.index_name)
    }) {
        return MetaReply::Refused(format!("Index with name: {} already exists", of.index_name));
    }
    if existing.len() >= MAX_GLOBAL_INDEXES {
        return MetaReply::LimitExceeded(format!(
            "Subscriber limit exceeded: The number of global secondary indexes of table {} cannot exceed {}",
            base.name,
            MAX_GLOBAL_INDEXES
        ));
    }
    if existing.iter().any(|t| {
        t.def
            .global_index_of
            .as_ref()
            .is_some_and(|g| g.status != IndexStatus::Active)
    }) {
        return MetaReply::LimitExceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
                .into(),
        );
    }
    of.base_table_id = base.id;
    of.status = IndexStatus::Creating;
    of.backfilling = true;
    of.online = true;
    of.backfilled.clear();
    index.name = index_table_name(&base.name, &of.index_name);
    index.partition_capacity = map.partition_capacity();
    // The table's attribute definitions gain the index's key attributes.
    let keys = std::iter::once(&index.key_schema.partition).chain(index.key_schema.sort.iter());
    if let Some(entry) = map.tables.get_mut(&base.name) {
        for key in keys {
            if !entry
                .def
                .attribute_definitions
                .iter()
                .any(|a| a.name == key.name)
            {
                entry.def.attribute_definitions.push(key.clone());
            }
        }
    }
    MetaReply::Table(place_table(map, index))
}

/// After index table `removed` of a table is deleted: the table's attribute
/// definitions no key of it or of its other indexes uses any more go too.
pub(super) fn drop_unused_definitions(map: &mut ClusterMap, removed: &TableDef) {
    let Some(base_id) = removed.global_index_of.as_ref().map(|g| g.base_table_id) else {
        return;
    };
    let mut used: Vec<String> = map
        .global_indexes_of(base_id)
        .iter()
        .flat_map(|t| {
            std::iter::once(t.def.key_schema.partition.name.clone())
                .chain(t.def.key_schema.sort.iter().map(|s| s.name.clone()))
        })
        .collect();
    let Some(entry) = map.tables.values_mut().find(|t| t.def.id == base_id) else {
        return;
    };
    let def = &mut entry.def;
    used.push(def.key_schema.partition.name.clone());
    used.extend(def.key_schema.sort.iter().map(|s| s.name.clone()));
    used.extend(def.local_indexes.iter().map(|l| l.sort.name.clone()));
    def.attribute_definitions.retain(|a| used.contains(&a.name));
}

/// Records that partition `partition` of a table has backfilled the index held by
/// table `index_table_id`; the index is ACTIVE once every partition has.
pub(super) fn global_index_backfilled(
    map: &mut ClusterMap,
    index_table_id: u32,
    partition: u32,
) -> MetaReply {
    let Some(base_id) = map
        .table_by_id(index_table_id)
        .and_then(|t| t.def.global_index_of.as_ref())
        .map(|g| g.base_table_id)
    else {
        return MetaReply::TableNotFound(format!("table id {index_table_id}"));
    };
    let Some(partitions) = map.table_by_id(base_id).map(|t| t.partitions.len() as u32) else {
        return MetaReply::TableNotFound(format!("table id {base_id}"));
    };
    let Some(of) = map
        .tables
        .values_mut()
        .find(|t| t.def.id == index_table_id)
        .and_then(|t| t.def.global_index_of.as_mut())
    else {
        return MetaReply::TableNotFound(format!("table id {index_table_id}"));
    };
    if !of.backfilling || !of.backfilled.insert(partition) {
        return MetaReply::Done;
    }
    if (0..partitions).all(|p| of.backfilled.contains(&p)) {
        of.backfilling = false;
        of.status = IndexStatus::Active;
        of.backfilled.clear();
    }
    map.epoch += 1;
    MetaReply::Done
}
