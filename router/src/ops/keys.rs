//! Routing: from a primary key to its storage key and the partition that owns it.

use rotor_model::keys::{item_key, token};
use rotor_model::table::{PrimaryKey, TableDef};

/// Where an item lives: its partition and its storage key.
pub struct Placement {
    pub partition: u32,
    pub item_key: Vec<u8>,
}

pub fn place(def: &TableDef, key: &PrimaryKey) -> Placement {
    let partition = def.partition_of_token(token(&key.partition));
    Placement {
        partition,
        item_key: item_key(def.id, &key.partition, key.sort.as_ref()),
    }
}
