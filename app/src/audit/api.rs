//! Server functions of the Audit tab: thin wrappers over the service.

use crate::entry::EntryPage;
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the page is told when a query fails: a bad query is explained, store failures
/// are logged on the server and reported without their internals.
#[derive(Clone, Debug, Error, PartialEq, Serialize, Deserialize)]
pub enum AuditError {
    #[error("{0}")]
    BadQuery(String),
    #[error("the audit store is unavailable; try again shortly")]
    Unavailable,
    #[error("the server could not be reached: {0}")]
    Transport(ServerFnErrorErr),
}

impl FromServerFnError for AuditError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AuditError::Transport(value)
    }
}

/// One page of entries for a URL query string (the page's own `?…`), so the page and
/// `GET /audit/entries` read exactly the same parameters.
#[server(endpoint = "audit_entries")]
pub async fn list_entries(query: String) -> Result<EntryPage, AuditError> {
    use crate::audit::service::{self, QueryError};
    use crate::filter::EntryQuery;
    use crate::store::AuditStore;
    use std::sync::Arc;

    let store = use_context::<Arc<dyn AuditStore>>().ok_or(AuditError::Unavailable)?;
    let query = EntryQuery::from_query_string(&query).map_err(|e| AuditError::BadQuery(e.to_string()))?;
    service::list_entries(store.as_ref(), &query).await.map_err(|e| match e {
        QueryError::BadQuery(e) => AuditError::BadQuery(e.to_string()),
        QueryError::Store(e) => {
            tracing::error!(error = %e, "listing audit entries failed");
            AuditError::Unavailable
        }
    })
}
