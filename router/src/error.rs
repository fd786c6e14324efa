//! API errors: every failure a client can see, mapped once to DynamoDB's error type,
//! HTTP status and body. No catch-all: a new variant forces a decision here.

use rotor_model::value::item_to_json;
use rotor_model::{Item, ModelError};
use serde_json::{json, Value as Json};

const DYNAMO: &str = "com.amazonaws.dynamodb.v20120810#";
const CORAL: &str = "com.amazon.coral.service#";
const CORAL_VALIDATION: &str = "com.amazon.coral.validate#";
const AUTO_SCALING: &str = "com.amazonaws.applicationautoscaling#";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    /// Application Auto Scaling: no such scalable target or policy.
    #[error("{0}")]
    ObjectNotFound(String),
    /// The condition was false; `item` is returned with ReturnValuesOnConditionCheckFailure.
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<Item> },
    /// The body is not JSON of the expected shape.
    #[error("{0}")]
    Serialization(String),
    #[error("An unknown operation was requested.")]
    UnknownOperation,
    #[error(
        "Request must contain either a valid (registered) AWS access key ID or X.509 certificate."
    )]
    MissingAuthenticationToken,
    #[error("{0}")]
    RequestTooLarge(String),
    /// The body did not arrive within the read timeout (a slow or stalled client).
    #[error("The request body did not arrive within {} s; send it at once, or in less time", .0.as_secs())]
    RequestTimeout(std::time::Duration),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    /// A table's or a partition's capacity limit was reached (`reason`: DynamoDB's
    /// ThrottlingReason, e.g. `TableWriteProvisionedThroughputExceeded`; `resource`: the
    /// table's ARN). On an on-demand table it is a ThrottlingException, on a
    /// provisioned one a ProvisionedThroughputExceededException, as DynamoDB answers.
    #[error("{}", capacity_message(reason))]
    CapacityExceeded {
        reason: String,
        resource: String,
        on_demand: bool,
    },
    #[error("{0}")]
    Throttling(String),
    #[error("{0}")]
    RequestLimitExceeded(String),
    /// Too many table or index changes at once (LimitExceededException).
    #[error("{0}")]
    LimitExceeded(String),
    /// The cluster could not serve the request in time; the client should retry.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A bug or an engine fault; details are logged, not sent.
    #[error("{0}")]
    Internal(String),
    /// An InternalServerError made by fault injection (`--fault-injection`), not a bug.
    #[error("{0}")]
    InjectedInternal(String),
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Validation(m) => ApiError::Validation(m),
        }
    }
}

impl ApiError {
    /// The table named in the request does not exist.
    pub fn table_not_found() -> Self {
        ApiError::ResourceNotFound("Requested resource not found".into())
    }

    pub fn validation(msg: impl Into<String>) -> Self {
        ApiError::Validation(msg.into())
    }

    /// DynamoDB's short error name, as in `__type` after the `#` (also the metric label).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "ValidationException",
            ApiError::ResourceNotFound(_) => "ResourceNotFoundException",
            ApiError::ResourceInUse(_) => "ResourceInUseException",
            ApiError::ObjectNotFound(_) => "ObjectNotFoundException",
            ApiError::ConditionalCheckFailed { .. } => "ConditionalCheckFailedException",
            ApiError::Serialization(_) => "SerializationException",
            ApiError::UnknownOperation => "UnknownOperationException",
            ApiError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ApiError::RequestTooLarge(_) => "RequestEntityTooLargeException",
            ApiError::RequestTimeout(_) => "RequestTimeoutException",
            ApiError::ProvisionedThroughputExceeded(_) => "ProvisionedThroughputExceededException",
            ApiError::CapacityExceeded {
                on_demand: true, ..
            } => "ThrottlingException",
            ApiError::CapacityExceeded { .. } => "ProvisionedThroughputExceededException",
            ApiError::Throttling(_) => "ThrottlingException",
            ApiError::RequestLimitExceeded(_) => "RequestLimitExceeded",
            ApiError::LimitExceeded(_) => "LimitExceededException",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailableException",
            ApiError::Internal(_) | ApiError::InjectedInternal(_) => "InternalServerError",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Internal(_) | ApiError::InjectedInternal(_) => 500,
            ApiError::ServiceUnavailable(_) => 503,
            ApiError::RequestTooLarge(_) => 413,
            ApiError::RequestTimeout(_) => 408,
            _ => 400,
        }
    }

    fn namespace(&self) -> &'static str {
        match self {
            ApiError::Serialization(_)
            | ApiError::UnknownOperation
            | ApiError::RequestTimeout(_) => CORAL,
            ApiError::Validation(_) | ApiError::RequestTooLarge(_) => CORAL_VALIDATION,
            ApiError::Throttling(_) => CORAL,
            ApiError::ObjectNotFound(_) => AUTO_SCALING,
            ApiError::CapacityExceeded {
                on_demand: true, ..
            } => CORAL,
            _ => DYNAMO,
        }
    }

    /// The JSON body DynamoDB sends for this error.
    pub fn body(&self) -> Json {
        let mut body = json!({
            "__type": format!("{}{}", self.namespace(), self.code()),
            "message": self.to_string(),
        });
        if let ApiError::ConditionalCheckFailed { item: Some(item) } = self {
            body["Item"] = item_to_json(item);
        }
        if let ApiError::CapacityExceeded {
            reason, resource, ..
        } = self
        {
            // The two exceptions spell the member differently in DynamoDB's model.
            let member = if self.code() == "ThrottlingException" {
                "throttlingReasons"
            } else {
                "ThrottlingReasons"
            };
            body[member] = json!([{ "reason": reason, "resource": resource }]);
        }
        body
    }
}

fn capacity_message(reason: &str) -> &'static str {
    if reason.ends_with("MaxOnDemandThroughputExceeded") {
        "Throughput exceeds the maximum OnDemandThroughput configured for the table. Consider increasing MaxReadRequestUnits or MaxWriteRequestUnits with the UpdateTable API."
    } else if reason.ends_with("KeyRangeThroughputExceeded") {
        "Throughput exceeds the current throughput limit of one of the table's partitions (a hot key range). Spread requests over more partition keys; a key range that stays hot is split."
    } else {
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
