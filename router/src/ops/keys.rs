//! Routing: from a primary key to its storage key and the partition that owns it.

use rotor_model::keys::{item_key_at, token};
use rotor_model::table::{PrimaryKey, TableDef};

/// Where an item lives: its partition and its storage key.
pub struct Placement {
    pub partition: u32,
    pub item_key: Vec<u8>,
}

pub fn place(def: &TableDef, key: &PrimaryKey) -> Placement {
    let token = token(&key.partition);
    Placement {
        partition: def.partition_of_token(token),
        item_key: item_key_at(def.id, token, &key.partition, key.sort.as_ref()),
    }
}
