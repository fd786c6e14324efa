//! Fault injection at the API edge, off unless a router runs with `--fault-injection`:
//! fail a fraction of API calls with a chosen DynamoDB error and add latency, so users
//! can test their applications' retries. Controlled over HTTP at `/_rotor/faults`
//! (GET shows the rule, PUT replaces it, DELETE clears it).

use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The errors a rule may inject, as DynamoDB names them.
pub const INJECTABLE_ERRORS: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailableException",
];

/// What to do to API calls. Every field is optional; an empty rule injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFaultRule {
    /// The error to answer with (one of [`INJECTABLE_ERRORS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fraction of the affected calls that fail with `error`, 0.0 to 1.0.
    #[serde(default)]
    pub error_fraction: f64,
    /// Milliseconds added before every affected call.
    #[serde(default)]
    pub latency_ms: u64,
    /// Operations affected (e.g. `["PutItem", "Query"]`); every operation when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

impl ApiFaultRule {
    /// Checks the rule; the message says what is wrong and what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_fraction) {
            return Err(format!(
                "error_fraction must be between 0.0 and 1.0, not {}",
                self.error_fraction
            ));
        }
        match &self.error {
            Some(e) if !INJECTABLE_ERRORS.contains(&e.as_str()) => Err(format!(
                "error {e:?} cannot be injected; choose one of {}",
                INJECTABLE_ERRORS.join(", ")
            )),
            None if self.error_fraction > 0.0 => {
                Err("error_fraction is set but error is not".to_owned())
            }
            _ => Ok(()),
        }
    }

    fn affects(&self, op: &str) -> bool {
        self.operations.is_empty() || self.operations.iter().any(|o| o == op)
    }
}

/// The router's current rule and the dice it rolls.
pub struct ApiFaults {
    state: Mutex<(ApiFaultRule, fastrand::Rng)>,
}

impl Default for ApiFaults {
    fn default() -> Self {
        ApiFaults {
            state: Mutex::new((ApiFaultRule::default(), fastrand::Rng::new())),
        }
    }
}

impl ApiFaults {
    pub fn rule(&self) -> ApiFaultRule {
        self.state.lock().0.clone()
    }

    /// Replaces the rule after checking it.
    pub fn set(&self, rule: ApiFaultRule) -> Result<(), String> {
        rule.validate()?;
        tracing::warn!(?rule, "API fault injection rule set");
        self.state.lock().0 = rule;
        Ok(())
    }

    pub fn clear(&self) {
        tracing::warn!("API fault injection cleared");
        self.state.lock().0 = ApiFaultRule::default();
    }

    /// Applies the rule to one call of `op`: waits the added latency, then fails the
    /// call (before any work is done) if the dice say so.
    pub async fn before_call(&self, op: &str) -> Result<(), ApiError> {
        let (latency, failure) = {
            let mut state = self.state.lock();
            let (rule, rng) = &mut *state;
            if !rule.affects(op) {
                return Ok(());
            }
            let fail = rule.error_fraction > 0.0 && rng.f64() < rule.error_fraction;
            (rule.latency_ms, fail.then(|| rule.error.clone()).flatten())
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        match failure {
            None => Ok(()),
            Some(error) => {
                metrics::counter!("rotor_injected_faults_total", "error" => error.clone())
                    .increment(1);
                Err(injected_error(&error))
            }
        }
    }
}

fn injected_error(name: &str) -> ApiError {
    let message = "injected by rotor fault injection".to_owned();
    match name {
        "ProvisionedThroughputExceededException" => ApiError::ProvisionedThroughputExceeded(
            format!("The level of configured provisioned throughput for the table was exceeded ({message})"),
        ),
        "ThrottlingException" => ApiError::Throttling(format!("Rate of requests exceeds the allowed throughput ({message})")),
        "RequestLimitExceeded" => ApiError::RequestLimitExceeded(format!(
            "Throughput exceeds the current throughput limit for your account ({message})"
        )),
        "ServiceUnavailableException" => ApiError::ServiceUnavailable(message),
        _ => ApiError::InjectedInternal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked() {
        let faults = ApiFaults::default();
        let bad_error = ApiFaultRule {
            error: Some("NoSuchError".into()),
            error_fraction: 0.5,
            ..Default::default()
        };
        assert!(faults
            .set(bad_error)
            .unwrap_err()
            .contains("ThrottlingException"));
        let bad_fraction = ApiFaultRule {
            error: Some("ThrottlingException".into()),
            error_fraction: 1.5,
            ..Default::default()
        };
        assert!(faults.set(bad_fraction).is_err());
        let no_error = ApiFaultRule {
            error_fraction: 0.5,
            ..Default::default()
        };
        assert!(faults.set(no_error).is_err());
        assert_eq!(faults.rule(), ApiFaultRule::default());
    }

    #[tokio::test]
    async fn fails_the_chosen_fraction_of_the_chosen_operations() {
        let faults = ApiFaults::default();
        faults
            .set(ApiFaultRule {
                error: Some("ProvisionedThroughputExceededException".into()),
                error_fraction: 0.25,
                operations: vec!["PutItem".into()],
                ..Default::default()
            })
            .unwrap();
        let mut failed = 0;
        for _ in 0..4000 {
            match faults.before_call("PutItem").await {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e.code(), "ProvisionedThroughputExceededException");
                    failed += 1;
                }
            }
            assert!(faults.before_call("GetItem").await.is_ok());
        }
        assert!((800..1200).contains(&failed), "{failed} of 4000 failed");
        faults.clear();
        for _ in 0..100 {
            assert!(faults.before_call("PutItem").await.is_ok());
        }
    }

    #[tokio::test]
    async fn every_injectable_error_maps_to_its_dynamodb_type() {
        for name in INJECTABLE_ERRORS {
            let err = injected_error(name);
            assert_eq!(err.code(), *name);
        }
    }
}
