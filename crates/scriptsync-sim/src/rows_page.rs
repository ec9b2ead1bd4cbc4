//! The data-table row listing, `GET …/rows?pageNumber=&pageSize=&showbrief=`: one page of a
//! (principal, table)'s rows, keys ascending, in Genesys's entity-listing shape.

use serde_json::{Value, json};

use super::codes::GenesysError;
use super::world::World;

/// Largest `pageSize` the row listing accepts.
pub(crate) const MAX_PAGE_SIZE: usize = 500;

/// One page of the table's rows, keys ascending:
/// `{"entities", "pageNumber", "pageSize", "total", "pageCount"}`. With `brief` each entity
/// is `{"key"}` only (Genesys's `showbrief=true`, its default).
pub(crate) fn list_rows(
    world: &World,
    principal: &str,
    table: &str,
    (page_number, page_size): (usize, usize),
    brief: bool,
) -> Result<Value, GenesysError> {
    if page_number == 0 || page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(GenesysError::bad_request(format!(
            "pageNumber must be ≥ 1 and pageSize 1 to {MAX_PAGE_SIZE}"
        )));
    }
    let id = (principal.to_string(), table.to_string());
    let rows = world.tables.get(&id);
    let total = rows.map_or(0, |rows| rows.len());
    let entities: Vec<Value> = rows
        .into_iter()
        .flatten()
        .skip((page_number - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|(key, row)| {
            if brief {
                json!({ "key": key })
            } else {
                Value::Object(row.clone())
            }
        })
        .collect();
    Ok(json!({
        "entities": entities,
        "pageNumber": page_number,
        "pageSize": page_size,
        "total": total,
        "pageCount": total.div_ceil(page_size),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn pages_go_through_one_tables_keys_ascending() {
        let mut world = World::default();
        let rows = world.tables.entry(("p".into(), "t".into())).or_default();
        for key in ["c", "a", "b"] {
            rows.insert(key.into(), Map::from_iter([("key".into(), json!(key))]));
        }
        let page = list_rows(&world, "p", "t", (1, 2), true).unwrap();
        assert_eq!(page["entities"], json!([{"key": "a"}, {"key": "b"}]));
        assert_eq!(
            (page["total"].clone(), page["pageCount"].clone()),
            (json!(3), json!(2))
        );
        let last = list_rows(&world, "p", "t", (2, 2), false).unwrap();
        assert_eq!(last["entities"], json!([{"key": "c"}]));
        let none = list_rows(&world, "other", "t", (1, 25), true).unwrap();
        assert_eq!(
            (none["total"].clone(), none["entities"].clone()),
            (json!(0), json!([]))
        );
        assert_eq!(
            list_rows(&world, "p", "t", (0, 2), true)
                .unwrap_err()
                .status,
            400
        );
        assert!(list_rows(&world, "p", "t", (1, MAX_PAGE_SIZE + 1), true).is_err());
    }
}
