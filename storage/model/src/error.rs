//! The model's one error type: every variant is a client mistake that the API edge
//! maps to DynamoDB's `ValidationException` (or, for conditions, a conditional failure).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    /// The request is invalid; the message is what DynamoDB would say.
    #[error("{0}")]
    Validation(String),
}

impl ModelError {
    pub fn validation(msg: impl Into<String>) -> Self {
        ModelError::Validation(msg.into())
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
