//! Encoding of stored values (items, table definitions, statistics).

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Result, StorageError};

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serialize(value).map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bincode::deserialize(bytes).map_err(|e| StorageError::Corrupt(format!("decode: {e}")))
}
