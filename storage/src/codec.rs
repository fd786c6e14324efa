//! Encoding of stored values (items, table definitions, statistics).

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Result, StorageError};

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serialize(value).map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bincode::deserialize(bytes).map_err(|e| StorageError::Corrupt(format!("decode: {e}")))
}

#[cfg(test)]
mod tests {
    use rotor_model::{AttributeValue, Number};
    use serde::Serialize;

    /// `AttributeValue` as the releases before byte strings were encoded whole: the
    /// items those wrote must read back the same, and new ones must be the same bytes.
    #[derive(Serialize)]
    #[allow(dead_code)]
    enum Before {
        S(String),
        N(Number),
        B(Vec<u8>),
    }

    #[test]
    fn binary_values_keep_their_stored_bytes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let before = super::encode(&Before::B(bytes.clone())).unwrap();
        let now = super::encode(&AttributeValue::B(bytes.clone())).unwrap();
        assert_eq!(before, now);
        let back: AttributeValue = super::decode(&before).unwrap();
        assert_eq!(back, AttributeValue::B(bytes));
    }
}
