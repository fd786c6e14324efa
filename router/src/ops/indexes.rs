//! Secondary index definitions in table requests: CreateTable's LocalSecondaryIndexes
//! and GlobalSecondaryIndexes, parsed and checked in DynamoDB's order with DynamoDB's
//! messages.

use rotor_model::global_index::MAX_GLOBAL_INDEXES;
use rotor_model::index::{LocalIndex, Projection, MAX_LOCAL_INDEXES};
use rotor_model::table::{KeyAttribute, KeySchema};
use serde_json::Value as Json;

use crate::error::{ApiError, ApiResult};
use crate::request::{validate_table_name, Request};

pub(super) fn invalid(what: impl AsRef<str>) -> ApiError {
    ApiError::validation(format!(
        "One or more parameter values were invalid: {}",
        what.as_ref()
    ))
}

/// The `LocalSecondaryIndexes` of a CreateTable request (empty when absent), checked
/// against the table's key schema and attribute definitions.
pub(super) fn parse_local_indexes(
    req: &Request,
    table_key: &KeySchema,
    attrs: &[KeyAttribute],
) -> ApiResult<Vec<LocalIndex>> {
    let Some(list) = req.field("LocalSecondaryIndexes").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| {
        ApiError::Serialization("LocalSecondaryIndexes must be a list of index definitions".into())
    })?;
    if list.is_empty() {
        return Err(invalid("List of LocalSecondaryIndexes is empty"));
    }
    if table_key.sort.is_none() {
        return Err(invalid(
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ));
    }
    let defined: Vec<&str> = attrs.iter().map(|a| a.name.as_str()).collect();
    let mut out: Vec<LocalIndex> = Vec::with_capacity(list.len());
    for (i, index) in list.iter().enumerate() {
        let wire = format!("localSecondaryIndexes.{}.member", i + 1);
        let name = parse_index_name(index, &wire)?;
        let keys = parse_index_keys(index, &wire, &defined)?;
        let Some((sort_name, _)) = keys.get(1) else {
            return Err(invalid(format!(
                "Index KeySchema does not have a range key for index: {name}"
            )));
        };
        if keys[0].0 != table_key.partition.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                keys[0].0, table_key.partition.name
            )));
        }
        let projection = parse_projection(index.get("Projection"), &wire)?;
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(format!("Duplicate index name: {name}")));
        }
        let sort = attrs
            .iter()
            .find(|a| &a.name == sort_name)
            .cloned()
            .ok_or_else(|| invalid("Index sort key is not defined"))?;
        out.push(LocalIndex {
            name: name.to_owned(),
            sort,
            projection,
        });
    }
    if out.len() > MAX_LOCAL_INDEXES {
        return Err(invalid(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LOCAL_INDEXES}"
        )));
    }
    Ok(out)
}

/// A global secondary index as CreateTable defines it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GlobalIndexRequest {
    pub name: String,
    pub key_schema: KeySchema,
    pub projection: Projection,
    /// Its `ProvisionedThroughput` (provisioned tables), `OnDemandThroughput` and
    /// `WarmThroughput`, as CreateTable's own parameters of those names.
    pub settings: Json,
}

/// The `GlobalSecondaryIndexes` of a CreateTable request (empty when absent), checked
/// against the attribute definitions; `taken` are the names of the table's LSIs.
pub(super) fn parse_global_indexes(
    req: &Request,
    attrs: &[KeyAttribute],
    provisioned: bool,
    taken: &[&str],
) -> ApiResult<Vec<GlobalIndexRequest>> {
    let Some(list) = req.field("GlobalSecondaryIndexes").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| {
        ApiError::Serialization("GlobalSecondaryIndexes must be a list of index definitions".into())
    })?;
    if list.is_empty() {
        return Err(invalid("List of GlobalSecondaryIndexes is empty"));
    }
    let mut out: Vec<GlobalIndexRequest> = Vec::with_capacity(list.len());
    for (i, index) in list.iter().enumerate() {
        let wire = format!("globalSecondaryIndexes.{}.member", i + 1);
        let parsed = parse_global_index(index, &wire, attrs, provisioned)?;
        let name = parsed.name.as_str();
        if taken.contains(&name) || out.iter().any(|o| o.name == name) {
            return Err(invalid(format!("Duplicate index name: {name}")));
        }
        out.push(parsed);
    }
    if out.len() > MAX_GLOBAL_INDEXES {
        return Err(invalid(format!(
            "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GLOBAL_INDEXES}"
        )));
    }
    Ok(out)
}

/// One global secondary index definition (CreateTable's, or UpdateTable's Create),
/// checked against the attribute definitions `attrs` (`provisioned`: the table's
/// billing mode, which decides whether it must have its own ProvisionedThroughput).
pub(super) fn parse_global_index(
    index: &Json,
    wire: &str,
    attrs: &[KeyAttribute],
    provisioned: bool,
) -> ApiResult<GlobalIndexRequest> {
    let defined: Vec<&str> = attrs.iter().map(|a| a.name.as_str()).collect();
    let name = parse_index_name(index, wire)?;
    let keys = parse_index_keys(index, wire, &defined)?;
    let projection = parse_projection(index.get("Projection"), wire)?;
    let throughput = index.get("ProvisionedThroughput").filter(|t| !t.is_null());
    if !provisioned && throughput.is_some() {
        return Err(invalid(format!(
            "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
        )));
    }
    if provisioned && throughput.is_none() {
        // DynamoDB Local's message (checked against it).
        return Err(ApiError::validation(
            "No provisioned throughput specified for the global secondary index",
        ));
    }
    let attr = |n: &str| {
        attrs
            .iter()
            .find(|a| a.name == n)
            .cloned()
            .ok_or_else(|| invalid("Index key is not defined"))
    };
    let key_schema = KeySchema {
        partition: attr(&keys[0].0)?,
        sort: keys.get(1).map(|(n, _)| attr(n)).transpose()?,
    };
    let mut settings = serde_json::Map::new();
    for field in [
        "ProvisionedThroughput",
        "OnDemandThroughput",
        "WarmThroughput",
    ] {
        if let Some(v) = index.get(field).filter(|v| !v.is_null()) {
            settings.insert(field.to_owned(), v.clone());
        }
    }
    Ok(GlobalIndexRequest {
        name: name.to_owned(),
        key_schema,
        projection,
        settings: Json::Object(settings),
    })
}

/// An index definition's `IndexName`.
fn parse_index_name<'a>(index: &'a Json, wire: &str) -> ApiResult<&'a str> {
    let name = index
        .get("IndexName")
        .and_then(Json::as_str)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{wire}.indexName' failed to satisfy constraint: Member must not be null"
            ))
        })?;
    validate_table_name(name, &format!("{wire}.indexName"))?;
    Ok(name)
}

/// An index definition's `KeySchema` as (attribute, key type) pairs, checked in
/// DynamoDB's order: its length, its attributes defined, distinct names, HASH first and
/// RANGE second.
fn parse_index_keys(
    index: &Json,
    wire: &str,
    defined: &[&str],
) -> ApiResult<Vec<(String, String)>> {
    let elems = index
        .get("KeySchema")
        .and_then(Json::as_array)
        .filter(|e| !e.is_empty() && e.len() <= 2)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value at '{wire}.keySchema' failed to satisfy constraint: Member must have length between 1 and 2"
            ))
        })?;
    let element = |e: &Json| -> (String, String) {
        let field = |f: &str| {
            e.get(f)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        (field("AttributeName"), field("KeyType"))
    };
    let keys: Vec<(String, String)> = elems.iter().map(element).collect();
    if keys.iter().any(|(k, _)| !defined.contains(&k.as_str())) {
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            defined.join(", ")
        )));
    }
    if keys.len() == 2 && keys[0].0 == keys[1].0 {
        return Err(ApiError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if keys[0].1 != "HASH" {
        return Err(ApiError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if keys.get(1).is_some_and(|(_, kind)| kind != "RANGE") {
        return Err(ApiError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    Ok(keys)
}

/// An index's `Projection`.
fn parse_projection(projection: Option<&Json>, wire: &str) -> ApiResult<Projection> {
    let projection = projection.filter(|p| !p.is_null()).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{wire}.projection' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    let kind = projection.get("ProjectionType").and_then(Json::as_str);
    let non_key: Option<Vec<String>> = match projection.get("NonKeyAttributes") {
        None | Some(Json::Null) => None,
        Some(Json::Array(names)) => Some(
            names
                .iter()
                .map(|n| {
                    n.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::Serialization("NonKeyAttributes must be a list of strings".into())
                    })
                })
                .collect::<ApiResult<_>>()?,
        ),
        Some(_) => {
            return Err(ApiError::Serialization(
                "NonKeyAttributes must be a list of strings".into(),
            ))
        }
    };
    let Some(kind) = kind else {
        return Err(invalid("Unknown ProjectionType: null"));
    };
    if non_key.is_some() && kind != "INCLUDE" {
        return Err(invalid(format!(
            "ProjectionType is {kind}, but NonKeyAttributes is specified"
        )));
    }
    match kind {
        "ALL" => Ok(Projection::All),
        "KEYS_ONLY" => Ok(Projection::KeysOnly),
        "INCLUDE" => match non_key {
            Some(names) => Ok(Projection::Include(names)),
            // DynamoDB Local's message (checked against it).
            None => Err(ApiError::validation(
                "If Projection type INCLUDE is specified, some non-key attributes to include in the projection must be specified as well",
            )),
        },
        other => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at '{wire}.projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
        ))),
    }
}

/// With indexes, every attribute definition must be a key of the table or of an index.
pub(super) fn check_definitions_used(
    table_key: &KeySchema,
    local: &[LocalIndex],
    global: &[GlobalIndexRequest],
    attrs: &[KeyAttribute],
) -> ApiResult<()> {
    let mut used: Vec<&str> = vec![table_key.partition.name.as_str()];
    used.extend(table_key.sort.iter().map(|s| s.name.as_str()));
    let index_keys = local
        .iter()
        .map(|i| i.sort.name.as_str())
        .chain(global.iter().flat_map(|g| {
            std::iter::once(g.key_schema.partition.name.as_str())
                .chain(g.key_schema.sort.iter().map(|s| s.name.as_str()))
        }));
    for name in index_keys {
        if !used.contains(&name) {
            used.push(name);
        }
    }
    if attrs.iter().all(|a| used.contains(&a.name.as_str())) {
        return Ok(());
    }
    let defined: Vec<&str> = attrs.iter().map(|a| a.name.as_str()).collect();
    Err(invalid(format!(
        "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
        defined.join(", "),
        used.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_model::table::ScalarType;
    use serde_json::json;

    fn attrs() -> Vec<KeyAttribute> {
        ["Artist", "SongTitle", "AlbumTitle"]
            .iter()
            .map(|n| KeyAttribute {
                name: n.to_string(),
                ty: ScalarType::S,
            })
            .collect()
    }

    fn table_key(sort: bool) -> KeySchema {
        KeySchema {
            partition: attrs()[0].clone(),
            sort: sort.then(|| attrs()[1].clone()),
        }
    }

    fn lsi(name: &str, hash: &str, range: Option<&str>, projection: Json) -> Json {
        let mut keys = vec![json!({"AttributeName": hash, "KeyType": "HASH"})];
        if let Some(r) = range {
            keys.push(json!({"AttributeName": r, "KeyType": "RANGE"}));
        }
        json!({"IndexName": name, "KeySchema": keys, "Projection": projection})
    }

    fn parse(indexes: Json, sort: bool) -> ApiResult<Vec<LocalIndex>> {
        let body = json!({ "LocalSecondaryIndexes": indexes });
        let req = Request::new(&body)?;
        parse_local_indexes(&req, &table_key(sort), &attrs())
    }

    fn message(r: ApiResult<Vec<LocalIndex>>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn the_seeds_album_index_parses() {
        let got = parse(
            json!([lsi(
                "AlbumIndex",
                "Artist",
                Some("AlbumTitle"),
                json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]})
            )]),
            true,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![LocalIndex {
                name: "AlbumIndex".into(),
                sort: attrs()[2].clone(),
                projection: Projection::Include(vec!["Genre".into()]),
            }]
        );
        assert!(check_definitions_used(&table_key(true), &got, &[], &attrs()).is_ok());
        assert!(message(Err(check_definitions_used(&table_key(true), &[], &[], &attrs())
            .unwrap_err()))
        .contains("Some AttributeDefinitions are not used. AttributeDefinitions: [Artist, SongTitle, AlbumTitle], keys used: [Artist, SongTitle]"));
    }

    #[test]
    fn bad_definitions_get_dynamodbs_messages() {
        let keys_only = json!({"ProjectionType": "KEYS_ONLY"});
        let one = |i: Json| json!([i]);
        let cases: Vec<(Json, bool, &str)> = vec![
            (json!([]), true, "List of LocalSecondaryIndexes is empty"),
            (
                one(lsi("idx", "Artist", Some("AlbumTitle"), keys_only.clone())),
                false,
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ),
            (
                one(lsi("idx", "Artist", Some("Nope"), keys_only.clone())),
                true,
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [Artist, Nope], AttributeDefinitions: [Artist, SongTitle, AlbumTitle]",
            ),
            (
                one(lsi("idx", "Artist", None, keys_only.clone())),
                true,
                "Index KeySchema does not have a range key for index: idx",
            ),
            (
                one(lsi("idx", "AlbumTitle", Some("SongTitle"), keys_only.clone())),
                true,
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: idx. index hash key: AlbumTitle, table hash key: Artist",
            ),
            (
                one(lsi("idx", "Artist", Some("AlbumTitle"), json!({}))),
                true,
                "Unknown ProjectionType: null",
            ),
            (
                one(lsi("idx", "Artist", Some("AlbumTitle"), json!({"ProjectionType": "ALL", "NonKeyAttributes": ["x"]}))),
                true,
                "ProjectionType is ALL, but NonKeyAttributes is specified",
            ),
            (
                json!([
                    lsi("idx", "Artist", Some("AlbumTitle"), keys_only.clone()),
                    lsi("idx", "Artist", Some("AlbumTitle"), keys_only.clone())
                ]),
                true,
                "Duplicate index name: idx",
            ),
            (
                json!((0..6)
                    .map(|i| lsi(&format!("idx{i}"), "Artist", Some("AlbumTitle"), keys_only.clone()))
                    .collect::<Vec<_>>()),
                true,
                "Number of LocalSecondaryIndexes exceeds per-table limit of 5",
            ),
        ];
        for (indexes, sort, want) in cases {
            let got = message(parse(indexes.clone(), sort));
            assert!(got.contains(want), "{indexes}: got {got:?}, want {want:?}");
        }
    }

    fn parse_global(indexes: Json, provisioned: bool) -> ApiResult<Vec<GlobalIndexRequest>> {
        let body = json!({ "GlobalSecondaryIndexes": indexes });
        let req = Request::new(&body)?;
        parse_global_indexes(&req, &attrs(), provisioned, &["TakenByAnLsi"])
    }

    fn gsi(name: &str, hash: &str, range: Option<&str>, projection: Json) -> Json {
        let mut index = lsi(name, hash, range, projection);
        index["ProvisionedThroughput"] = json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 5});
        index
    }

    #[test]
    fn global_indexes_parse_with_their_own_key_and_settings() {
        let got = parse_global(
            json!([gsi(
                "ByAlbum",
                "AlbumTitle",
                Some("SongTitle"),
                json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["Genre"]})
            )]),
            true,
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].key_schema.partition, attrs()[2]);
        assert_eq!(got[0].key_schema.sort.as_ref(), Some(&attrs()[1]));
        assert_eq!(got[0].projection, Projection::Include(vec!["Genre".into()]));
        assert_eq!(
            got[0].settings["ProvisionedThroughput"]["ReadCapacityUnits"],
            5
        );
        // A GSI may have a partition key alone; every definition is then used.
        let alone = parse_global(
            json!([gsi(
                "ByAlbum",
                "AlbumTitle",
                None,
                json!({"ProjectionType": "ALL"})
            )]),
            true,
        )
        .unwrap();
        assert!(alone[0].key_schema.sort.is_none());
        assert!(check_definitions_used(&table_key(true), &[], &alone, &attrs()).is_ok());
    }

    #[test]
    fn bad_global_indexes_get_dynamodbs_messages() {
        let keys_only = json!({"ProjectionType": "KEYS_ONLY"});
        let mut on_demand = lsi("idx", "AlbumTitle", None, keys_only.clone());
        let cases: Vec<(Json, bool, &str)> = vec![
            (json!([]), true, "List of GlobalSecondaryIndexes is empty"),
            (
                json!([gsi("idx", "Nope", None, keys_only.clone())]),
                true,
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [Nope], AttributeDefinitions: [Artist, SongTitle, AlbumTitle]",
            ),
            (
                json!([gsi("idx", "AlbumTitle", Some("AlbumTitle"), keys_only.clone())]),
                true,
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ),
            (
                json!([gsi("idx", "AlbumTitle", None, json!({"ProjectionType": "KEYS_ONLY", "NonKeyAttributes": ["x"]}))]),
                true,
                "ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified",
            ),
            (
                json!([gsi("idx", "AlbumTitle", None, keys_only.clone())]),
                false,
                "ProvisionedThroughput should not be specified for index: idx when BillingMode is PAY_PER_REQUEST",
            ),
            (
                json!([on_demand.take()]),
                true,
                "No provisioned throughput specified for the global secondary index",
            ),
            (
                json!([gsi("TakenByAnLsi", "AlbumTitle", None, keys_only.clone())]),
                true,
                "Duplicate index name: TakenByAnLsi",
            ),
            (
                json!((0..21)
                    .map(|i| gsi(&format!("idx{i}"), "AlbumTitle", None, keys_only.clone()))
                    .collect::<Vec<_>>()),
                true,
                "GlobalSecondaryIndex count exceeds the per-table limit of 20",
            ),
        ];
        for (indexes, provisioned, want) in cases {
            let got = parse_global(indexes.clone(), provisioned)
                .expect_err("refused")
                .to_string();
            assert!(got.contains(want), "{indexes}: got {got:?}, want {want:?}");
        }
    }
}
