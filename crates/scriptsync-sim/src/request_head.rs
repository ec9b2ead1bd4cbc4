//! The head of an API request, its request line and headers: what both services' common paths
//! ([`super::genesys_api::api`], [`super::servicenow_api::api`]) read of a request besides its
//! path parameters and body, taken by every API handler as one extractor; and
//! [`TableRequest`], the same with the simulator and the path's `{table}`, taken by the
//! handlers of calls on one table (Genesys rows, ServiceNow staging tables).
//!
//! The common path notes the method and path (percent-encoded, without the query) per
//! principal, and the replica that sent the request (`X-Scriptsync-Replica`, "" without one).

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::world::Sim;

/// A request's method, URI and headers.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
}

impl RequestHead {
    /// The method and path as the snapshot's `paths` counts them: "PUT /api/v2/…/rows/s1".
    pub(crate) fn method_and_path(&self) -> String {
        format!("{} {}", self.method, self.uri.path())
    }

    /// The replica the request came from (`X-Scriptsync-Replica`), or "" without one.
    pub(crate) fn replica(&self) -> &str {
        self.headers
            .get("x-scriptsync-replica")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The query string as a map (the last of a repeated parameter wins).
    pub(crate) fn query(&self) -> HashMap<String, String> {
        let query = self.uri.query().unwrap_or_default();
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestHead {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

/// A request on one table: the simulator, the table the path's `{table}` names, and the
/// request's head.
pub(crate) struct TableRequest {
    pub(crate) sim: Sim,
    pub(crate) table: String,
    pub(crate) head: RequestHead,
}

/// The path parameter of a [`TableRequest`] (the path may have others).
#[derive(Deserialize)]
struct TableParam {
    table: String,
}

impl FromRequestParts<Sim> for TableRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, sim: &Sim) -> Result<Self, Self::Rejection> {
        let Path(TableParam { table }) = Path::from_request_parts(parts, sim)
            .await
            .map_err(IntoResponse::into_response)?;
        let Ok(head) = RequestHead::from_request_parts(parts, sim).await;
        Ok(Self {
            sim: sim.clone(),
            table,
            head,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_leaves_out_the_query_and_the_replica_defaults_to_empty() {
        let uri: Uri = "/api/v2/flows/datatables/t/rows?pageSize=2&pageSize=3"
            .parse()
            .unwrap();
        let mut head = RequestHead {
            method: Method::GET,
            uri,
            headers: HeaderMap::new(),
        };
        assert_eq!(
            head.method_and_path(),
            "GET /api/v2/flows/datatables/t/rows"
        );
        assert_eq!(head.query()["pageSize"], "3");
        assert_eq!(head.replica(), "");
        head.headers
            .insert("x-scriptsync-replica", "pod-1".parse().unwrap());
        assert_eq!(head.replica(), "pod-1");
    }
}
