//! The data-table row listing, `GET …/rows?pageNumber=&pageSize=&showbrief=`: one page of a
//! (principal, table)'s rows, keys ascending, in Genesys's entity-listing shape.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::codes::GenesysError;
use super::datatable::TableAddress;
use super::world::World;

/// Largest `pageSize` the row listing accepts.
pub(crate) const MAX_PAGE_SIZE: usize = 500;

/// The page of a listing a client asks for: its number (from 1) and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) number: usize,
    pub(crate) size: usize,
}

impl Page {
    /// The page a query names with `pageNumber` and `pageSize`: 1 and 25 when absent, like
    /// Genesys; a value that is not a number is 0, which the listing refuses.
    pub(crate) fn asked(query: &HashMap<String, String>) -> Self {
        let number = |name: &str, default: usize| match query.get(name) {
            Some(v) => v.parse::<usize>().unwrap_or(0),
            None => default,
        };
        Self {
            number: number("pageNumber", 1),
            size: number("pageSize", 25),
        }
    }
}

/// One page of the rows of the table at `at`, keys ascending:
/// `{"entities", "pageNumber", "pageSize", "total", "pageCount"}`. With `brief` each entity
/// is `{"key"}` only (Genesys's `showbrief=true`, its default).
pub(crate) fn list_rows(
    world: &World,
    at: TableAddress,
    page: Page,
    brief: bool,
) -> Result<Value, GenesysError> {
    let Page { number, size } = page;
    if number == 0 || size == 0 || size > MAX_PAGE_SIZE {
        return Err(GenesysError::bad_request(format!(
            "pageNumber must be ≥ 1 and pageSize 1 to {MAX_PAGE_SIZE}"
        )));
    }
    let rows = world.tables.get(&at.key());
    let total = rows.map_or(0, |rows| rows.len());
    let entities: Vec<Value> = rows
        .into_iter()
        .flatten()
        .skip((number - 1).saturating_mul(size))
        .take(size)
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
        "pageNumber": number,
        "pageSize": size,
        "total": total,
        "pageCount": total.div_ceil(size),
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
        let list = |principal, number, size, brief| {
            let at = TableAddress {
                principal,
                table: "t",
            };
            list_rows(&world, at, Page { number, size }, brief)
        };
        let page = list("p", 1, 2, true).unwrap();
        assert_eq!(page["entities"], json!([{"key": "a"}, {"key": "b"}]));
        assert_eq!(
            (page["total"].clone(), page["pageCount"].clone()),
            (json!(3), json!(2))
        );
        let last = list("p", 2, 2, false).unwrap();
        assert_eq!(last["entities"], json!([{"key": "c"}]));
        let none = list("other", 1, 25, true).unwrap();
        assert_eq!(
            (none["total"].clone(), none["entities"].clone()),
            (json!(0), json!([]))
        );
        assert_eq!(list("p", 0, 2, true).unwrap_err().status, 400);
        assert!(list("p", 1, MAX_PAGE_SIZE + 1, true).is_err());
    }

    #[test]
    fn the_page_asked_defaults_to_the_first_25_and_junk_is_zero() {
        let query = |pairs: &[(&str, &str)]| {
            let query = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
            Page::asked(&query.collect())
        };
        assert_eq!(
            query(&[]),
            Page {
                number: 1,
                size: 25
            }
        );
        let asked = query(&[("pageNumber", "3"), ("pageSize", "x")]);
        assert_eq!(asked, Page { number: 3, size: 0 });
    }
}
