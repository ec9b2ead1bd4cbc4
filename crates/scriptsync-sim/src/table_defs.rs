//! The org's data tables themselves, not their rows: which tables exist, their names and
//! their JSON schemas, and the check of a row against its table's schema.
//!
//! - With `genesys_datatables` unset (the default), any table id a client names exists, with
//!   the scriptsync schema (`schemas/genesys-datatable.json`), as the demo and most tests
//!   want. With it set, only those tables exist (for every client), plus the ones a client
//!   created through `POST /api/v2/flows/datatables`; rows of any other id are answered 404.
//! - A row is checked like Genesys checks it: a property the schema does not have, or a value
//!   of another type than the schema's, is refused with 400 `flows.datatables.schema.exception`.
//! - A table's name is unique in the org (a second `POST` with the same name: 409).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::codes::{GENESYS_DATATABLE_NOT_FOUND_CODE, GenesysError};
use super::world::World;

/// The scriptsync schema, the one every table has when `genesys_datatables` is unset.
pub const SCRIPTSYNC_TABLE_SCHEMA: &str = include_str!("../../../schemas/genesys-datatable.json");

/// The name a default table answers with.
pub const DEFAULT_TABLE_NAME: &str = "scriptsync compliance scripts";

/// One data table of the org: its name and schema (a JSON Schema as Genesys stores it:
/// `properties` with `title`, `type`, `$id`, `displayOrder`; `required: ["key"]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DataTableSpec {
    pub name: String,
    pub schema: Value,
}

impl DataTableSpec {
    /// A table named `name` with the scriptsync schema.
    pub fn scriptsync(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            schema: scriptsync_schema(),
        }
    }

    /// The scriptsync table without the property `field` (a table made by hand that lacks a
    /// column).
    pub fn without(mut self, field: &str) -> Self {
        if let Some(props) = self.schema["properties"].as_object_mut() {
            props.remove(field);
        }
        self
    }

    /// The same table with the key column titled `title`.
    pub fn key_titled(mut self, title: &str) -> Self {
        self.schema["properties"]["key"]["title"] = json!(title);
        self
    }
}

/// `schemas/genesys-datatable.json`, parsed.
pub fn scriptsync_schema() -> Value {
    serde_json::from_str(SCRIPTSYNC_TABLE_SCHEMA).expect("the repository's table schema is JSON")
}

/// The table `id` as `principal` sees it, or 404.
pub(crate) fn find(
    world: &World,
    configured: Option<&std::collections::HashMap<String, DataTableSpec>>,
    principal: &str,
    id: &str,
) -> Result<DataTableSpec, GenesysError> {
    let created = world.table_defs.get(&(principal.to_owned(), id.to_owned()));
    let found = match (created, configured) {
        (Some(spec), _) => Some(spec.clone()),
        (None, Some(tables)) => tables.get(id).cloned(),
        (None, None) => Some(DataTableSpec::scriptsync(DEFAULT_TABLE_NAME)),
    };
    found.ok_or_else(|| {
        GenesysError::new(
            404,
            GENESYS_DATATABLE_NOT_FOUND_CODE,
            format!("The datatable '{id}' was not found"),
        )
    })
}

/// The table in Genesys's entity shape: `{id, name, division, schema?, selfUri}`.
pub(crate) fn entity(id: &str, spec: &DataTableSpec, with_schema: bool) -> Value {
    let mut table = json!({
        "id": id,
        "name": spec.name,
        "division": {"id": "home", "name": "Home"},
        "selfUri": format!("/api/v2/flows/datatables/{id}"),
    });
    if with_schema {
        table["schema"] = spec.schema.clone();
    }
    table
}

/// The tables named `name` that `principal` sees (configured and created).
pub(crate) fn named(
    world: &World,
    configured: Option<&std::collections::HashMap<String, DataTableSpec>>,
    principal: &str,
    name: &str,
) -> Vec<Value> {
    let created = world
        .table_defs
        .iter()
        .filter(|((p, _), _)| p == principal)
        .map(|((_, id), spec)| (id, spec));
    let mut found: Vec<Value> = configured
        .into_iter()
        .flatten()
        .chain(created)
        .filter(|(_, spec)| spec.name == name)
        .map(|(id, spec)| entity(id, spec, false))
        .collect();
    found.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    found
}

/// Creates a table from a `POST /api/v2/flows/datatables` body `{name, schema, description?}`.
pub(crate) fn create(
    world: &mut World,
    configured: Option<&std::collections::HashMap<String, DataTableSpec>>,
    principal: &str,
    body: &[u8],
) -> Result<Value, GenesysError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|_| GenesysError::bad_request("The request body must be a JSON object"))?;
    let name = request["name"].as_str().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(GenesysError::bad_request("A datatable needs a name"));
    }
    let schema = request["schema"].clone();
    let key = &schema["properties"]["key"];
    let requires_key = schema["required"]
        .as_array()
        .is_some_and(|r| r.iter().any(|f| f == "key"));
    if key["type"] != "string" || !requires_key {
        return Err(GenesysError::schema(
            "The schema needs a required string property named \"key\"",
        ));
    }
    if !named(world, configured, principal, name).is_empty() {
        return Err(GenesysError::new(
            409,
            "flows.datatables.name.conflict",
            format!("A datatable named '{name}' already exists"),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let spec = DataTableSpec {
        name: name.to_owned(),
        schema,
    };
    let answer = entity(&id, &spec, true);
    world.table_defs.insert((principal.to_owned(), id), spec);
    Ok(answer)
}

/// Whether `row` fits `schema`: every property is one of the schema's, of its type.
pub(crate) fn check_row(schema: &Value, row: &Map<String, Value>) -> Result<(), GenesysError> {
    let props = schema["properties"].as_object();
    for (name, value) in row {
        let Some(prop) = props.and_then(|p| p.get(name)) else {
            return Err(GenesysError::schema(format!(
                "The datatable has no property \"{name}\""
            )));
        };
        let fits = match prop["type"].as_str() {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            _ => true,
        };
        if !fits {
            return Err(GenesysError::schema(format!(
                "Property \"{name}\" must be of type {}",
                prop["type"]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_against_the_tables_schema() {
        let full = scriptsync_schema();
        let row = |v: Value| v.as_object().cloned().unwrap();
        let good = row(json!({"key": "s1", "version": 3, "disclaimer": "d"}));
        assert!(check_row(&full, &good).is_ok());
        let spec = DataTableSpec::scriptsync("t").without("disclaimer");
        let refused = check_row(&spec.schema, &good).unwrap_err();
        assert_eq!(refused.status, 400);
        assert!(
            refused.message.contains("disclaimer"),
            "{}",
            refused.message
        );
        let mistyped = row(json!({"key": "s1", "version": "3"}));
        assert!(check_row(&full, &mistyped).is_err());
    }

    #[test]
    fn unset_tables_exist_with_the_scriptsync_schema_and_set_ones_only_as_listed() {
        let world = World::default();
        let any = find(&world, None, "acme", "whatever").unwrap();
        assert_eq!(any.schema, scriptsync_schema());
        let listed = std::collections::HashMap::from([(
            "t1".to_owned(),
            DataTableSpec::scriptsync("mine").key_titled("Name"),
        )]);
        assert_eq!(
            find(&world, Some(&listed), "acme", "t1").unwrap().name,
            "mine"
        );
        let missing = find(&world, Some(&listed), "acme", "t2").unwrap_err();
        assert_eq!(missing.status, 404);
    }

    #[test]
    fn a_created_table_is_found_by_id_and_name_and_names_are_unique() {
        let mut world = World::default();
        let body = json!({"name": "scripts", "schema": scriptsync_schema()}).to_string();
        let created = create(
            &mut world,
            Some(&Default::default()),
            "acme",
            body.as_bytes(),
        )
        .unwrap();
        let id = created["id"].as_str().unwrap();
        assert_eq!(
            find(&world, Some(&Default::default()), "acme", id)
                .unwrap()
                .name,
            "scripts"
        );
        assert!(find(&world, Some(&Default::default()), "other", id).is_err());
        assert_eq!(named(&world, None, "acme", "scripts").len(), 1);
        let again = create(&mut world, None, "acme", body.as_bytes()).unwrap_err();
        assert_eq!(again.status, 409);
        let keyless = json!({"name": "x", "schema": {"properties": {}}}).to_string();
        assert!(create(&mut world, None, "acme", keyless.as_bytes()).is_err());
    }
}
