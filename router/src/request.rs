//! Reading request fields out of a DynamoDB JSON body, with DynamoDB's checks.

use std::collections::BTreeMap;

use rotor_model::expr::check_placeholder;
use rotor_model::expr::limits::MAX_SUBSTITUTION_BYTES;
use rotor_model::value::{check_name, item_from_json};
use rotor_model::{AttributeValue, Item};
use serde_json::{Map, Value as Json};

use crate::error::{ApiError, ApiResult};

/// ExpressionAttributeNames: `#placeholder` -> attribute name.
pub type Names = BTreeMap<String, String>;
/// ExpressionAttributeValues: `:placeholder` -> value.
pub type Values = BTreeMap<String, AttributeValue>;

/// A request body: a JSON object.
pub struct Request<'a> {
    pub body: &'a Map<String, Json>,
}

fn type_error(field: &str, expected: &str) -> ApiError {
    ApiError::Serialization(format!(
        "Unexpected value type in payload for field {field}: expected {expected}"
    ))
}

impl<'a> Request<'a> {
    pub fn new(body: &'a Json) -> ApiResult<Request<'a>> {
        let body = body.as_object().ok_or_else(|| {
            ApiError::Serialization("Start of structure or map found where not expected".into())
        })?;
        Ok(Request { body })
    }

    pub fn field(&self, name: &str) -> Option<&'a Json> {
        self.body.get(name).filter(|v| !v.is_null())
    }

    pub fn str(&self, name: &str) -> ApiResult<Option<&'a str>> {
        match self.field(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(_) => Err(type_error(name, "string")),
        }
    }

    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.field(name) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(type_error(name, "boolean")),
        }
    }

    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.field(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| type_error(name, "integer")),
        }
    }

    pub fn object(&self, name: &str) -> ApiResult<Option<&'a Map<String, Json>>> {
        match self.field(name) {
            None => Ok(None),
            Some(Json::Object(m)) => Ok(Some(m)),
            Some(_) => Err(type_error(name, "structure")),
        }
    }

    pub fn array(&self, name: &str) -> ApiResult<Option<&'a Vec<Json>>> {
        match self.field(name) {
            None => Ok(None),
            Some(Json::Array(a)) => Ok(Some(a)),
            Some(_) => Err(type_error(name, "list")),
        }
    }

    /// `TableName`, required and well-formed.
    pub fn table_name(&self) -> ApiResult<&'a str> {
        let name = self.str("TableName")?.ok_or_else(|| {
            ApiError::validation(
                "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
            )
        })?;
        validate_table_name(name, "tableName")?;
        Ok(name)
    }

    /// An item-shaped field (`Item`, `Key`, `ExclusiveStartKey`).
    pub fn item(&self, name: &str) -> ApiResult<Option<Item>> {
        match self.field(name) {
            None => Ok(None),
            Some(v @ Json::Object(_)) => Ok(Some(item_from_json(v)?)),
            Some(_) => Err(type_error(name, "map")),
        }
    }

    /// `ExpressionAttributeNames` and `ExpressionAttributeValues`, with DynamoDB's checks
    /// of each key and name and of their total size.
    pub fn substitutions(&self) -> ApiResult<(Option<Names>, Option<Values>)> {
        let mut total = 0;
        let names = self.names(&mut total)?;
        let values = self.values(&mut total)?;
        if total > MAX_SUBSTITUTION_BYTES {
            // DynamoDB Local's words; the service's are not known.
            return Err(ApiError::validation(
                "ExpressionAttributeValues exceeds max size",
            ));
        }
        Ok((names, values))
    }

    /// `ExpressionAttributeNames`; adds the bytes of its keys and names to `total`.
    fn names(&self, total: &mut usize) -> ApiResult<Option<Names>> {
        let what = "ExpressionAttributeNames";
        let Some(m) = self.object(what)? else {
            return Ok(None);
        };
        if m.is_empty() {
            return Err(ApiError::validation(format!("{what} must not be empty")));
        }
        let mut out = BTreeMap::new();
        for (k, v) in m {
            check_placeholder(what, '#', k)?;
            let name = v.as_str().ok_or_else(|| type_error(what, "string"))?;
            check_name(name).map_err(|e| {
                ApiError::validation(format!("{what} contains invalid value: {e} for key {k}"))
            })?;
            *total += k.len() + name.len();
            out.insert(k.clone(), name.to_owned());
        }
        Ok(Some(out))
    }

    /// `ExpressionAttributeValues`; adds the bytes of its keys and values to `total`.
    fn values(&self, total: &mut usize) -> ApiResult<Option<Values>> {
        let what = "ExpressionAttributeValues";
        let Some(m) = self.object(what)? else {
            return Ok(None);
        };
        if m.is_empty() {
            return Err(ApiError::validation(format!("{what} must not be empty")));
        }
        let mut out = BTreeMap::new();
        for (k, v) in m {
            check_placeholder(what, ':', k)?;
            let value = AttributeValue::from_json(v).map_err(|e| {
                ApiError::validation(format!("{what} contains invalid value: {e} for key {k}"))
            })?;
            *total += k.len() + value.size();
            out.insert(k.clone(), value);
        }
        Ok(Some(out))
    }

    /// DynamoDB refuses `ExpressionAttributeNames` / `Values` in a request that has no
    /// expression using them; `expressions` lists the expression fields the operation takes
    /// (`values_in` those that can hold values).
    pub fn check_expression_maps(&self, expressions: &[&str], values_in: &[&str]) -> ApiResult<()> {
        let given = |f: &&str| self.field(f).is_some();
        if self.field("ExpressionAttributeNames").is_some() && !expressions.iter().any(given) {
            return Err(ApiError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        if self.field("ExpressionAttributeValues").is_some() && !values_in.iter().any(given) {
            let nulls: Vec<String> = values_in.iter().map(|f| format!("{f} is null")).collect();
            return Err(ApiError::validation(format!(
                "ExpressionAttributeValues can only be specified when using expressions: {}",
                nulls.join(" and ")
            )));
        }
        Ok(())
    }

    /// Fails when the request uses a DynamoDB feature Rotor does not serve yet, so that
    /// nothing is silently ignored.
    pub fn reject_unsupported(&self, field: &str, why: &str) -> ApiResult<()> {
        if self.field(field).is_some() {
            return Err(ApiError::validation(format!(
                "{field} is not supported by Rotor yet ({why})"
            )));
        }
        Ok(())
    }

    /// An enumeration field with its allowed values; `None` when absent.
    pub fn one_of(
        &self,
        name: &str,
        wire: &str,
        allowed: &[&'static str],
    ) -> ApiResult<Option<&'static str>> {
        let Some(v) = self.str(name)? else {
            return Ok(None);
        };
        allowed.iter().copied().find(|a| *a == v).map(Some).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at '{wire}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ))
        })
    }
}

/// DynamoDB's table (and index) name rules: 3 to 255 of `[a-zA-Z0-9_.-]`.
pub fn validate_table_name(name: &str, wire: &str) -> ApiResult<()> {
    let mut problems = Vec::new();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        problems.push(format!(
            "Value '{name}' at '{wire}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ));
    }
    if name.len() < 3 {
        problems.push(format!(
            "Value '{name}' at '{wire}' failed to satisfy constraint: Member must have length greater than or equal to 3"
        ));
    }
    if name.len() > 255 {
        problems.push(format!(
            "Value '{name}' at '{wire}' failed to satisfy constraint: Member must have length less than or equal to 255"
        ));
    }
    validation_errors(problems)
}

/// DynamoDB's "N validation errors detected: a; b" form.
pub fn validation_errors(problems: Vec<String>) -> ApiResult<()> {
    match problems.len() {
        0 => Ok(()),
        1 => Err(ApiError::validation(format!(
            "1 validation error detected: {}",
            problems[0]
        ))),
        n => Err(ApiError::validation(format!(
            "{n} validation errors detected: {}",
            problems.join("; ")
        ))),
    }
}
