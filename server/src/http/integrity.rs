//! The integrity API: the log's public key, its signed checkpoints, and RFC 6962 proofs
//! that an entry is in a signed tree and that a later tree extends an earlier one
//! (docs/integrity.md says how to check each with the public key alone).

use super::error::ApiError;
use crate::state::AppState;
use app::checkpoint::{b64, checkpoint_now, Signing};
use app::entry::parse_entry_id;
use app::integrity::{entry_leaf_hash, TreeQuery};
use app::proof::{CheckpointList, CheckpointView, ConsistencyProofView, InclusionProofView, PublicKeyView};
use app::store::{tree_answer, AuditLog, StoreError, StoredCheckpoint, TreeStore};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::HashMap;
use std::sync::Arc;

/// The log's public key: what verifies its checkpoints and evidence packs.
#[utoipa::path(
    get,
    path = "/audit/integrity/public-key",
    tag = "integrity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The Ed25519 public key, its id and the log's origin", body = PublicKeyView),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn public_key(State(signing): State<Arc<Signing>>) -> Json<PublicKeyView> {
    Json(signing.key.view())
}

/// The latest signed checkpoint.
#[utoipa::path(
    get,
    path = "/audit/integrity/checkpoint",
    tag = "integrity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The checkpoint of the largest tree signed so far", body = CheckpointView),
        (status = 404, description = "No checkpoint has been signed yet", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn latest(State(tree): State<Arc<dyn TreeStore>>) -> Result<Json<CheckpointView>, ApiError> {
    let latest = tree.latest_checkpoint().await.map_err(ApiError::Store)?;
    latest.map(|c| Json(c.view())).ok_or_else(|| ApiError::NoSuch("no checkpoint has been signed yet".into()))
}

/// The largest page of checkpoints.
const MAX_LIMIT: u32 = 1000;

/// Checkpoints of trees larger than `after`, smallest first.
#[utoipa::path(
    get,
    path = "/audit/integrity/checkpoints",
    tag = "integrity",
    params(
        ("after" = Option<u64>, Query, description = "A tree size: only checkpoints of larger trees (default 0: all)"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 1000, default 100)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The checkpoints, and the `after` of the next page when there may be more", body = CheckpointList),
        (status = 400, description = "A parameter is wrong or unknown; the error says which", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn list(
    State(tree): State<Arc<dyn TreeStore>>,
    RawQuery(query): RawQuery,
) -> Result<Json<CheckpointList>, ApiError> {
    let params = Params::parse(query.as_deref(), &["after", "limit"])?;
    let after = params.number("after")?.unwrap_or(0);
    let limit = match params.number("limit")? {
        None => 100,
        Some(n) if (1..=u64::from(MAX_LIMIT)).contains(&n) => n as u32,
        Some(_) => return Err(ApiError::bad_request(format!("limit must be from 1 to {MAX_LIMIT}"))),
    };
    let found = tree.checkpoints_after(after, limit).await.map_err(ApiError::Store)?;
    let next_after = (found.len() == limit as usize).then(|| found.last().map(|c| c.head.size)).flatten();
    Ok(Json(CheckpointList { checkpoints: found.iter().map(StoredCheckpoint::view).collect(), next_after }))
}

/// Signs a checkpoint of the log as it stands now, unless the latest covers every entry.
#[utoipa::path(
    post,
    path = "/audit/integrity/checkpoint",
    tag = "integrity",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A new checkpoint was signed", body = CheckpointView),
        (status = 200, description = "The latest checkpoint already covers every entry: it is answered", body = CheckpointView),
        (status = 409, description = "Not signed: the log is empty, this server's key is not the log's, or the checkpoint directory holds a tree the log does not extend", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the admin scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn sign(
    State(tree): State<Arc<dyn TreeStore>>,
    State(signing): State<Arc<Signing>>,
) -> Result<(StatusCode, Json<CheckpointView>), ApiError> {
    use app::checkpoint::CheckpointError;
    let done =
        checkpoint_now(tree.as_ref(), &signing.key, &signing.policy, chrono::Utc::now()).await.map_err(
            |e| match e {
                e @ (CheckpointError::Empty | CheckpointError::WrongKey(_) | CheckpointError::Diverged(_)) => {
                    tracing::error!(error = %e, "a checkpoint was not signed");
                    ApiError::BadRequest { status: StatusCode::CONFLICT, message: e.to_string() }
                }
                e => ApiError::Report(e.to_string()),
            },
        )?;
    let status = if done.new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(done.checkpoint.view())))
}

/// That an entry is in the tree of a given size: its RFC 6962 audit path.
#[utoipa::path(
    get,
    path = "/audit/integrity/inclusion",
    tag = "integrity",
    params(
        ("id" = String, Query, description = "The entry's id, such as `audit-123`"),
        ("size" = Option<u64>, Query, description = "The tree size to prove against (default: the latest checkpoint's, or the whole tree for an entry newer than it)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The proof, the root it leads to and the checkpoint that signs it", body = InclusionProofView),
        (status = 400, description = "A parameter is wrong or unknown, or the entry is not in a tree of that size", body = crate::http::openapi::ErrorBody),
        (status = 404, description = "No entry has this id", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn inclusion(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<InclusionProofView>, ApiError> {
    let params = Params::parse(query.as_deref(), &["id", "size"])?;
    let id = params.get("id").ok_or_else(|| ApiError::bad_request("id is required: an entry id such as audit-123"))?;
    let sequence = parse_entry_id(id)
        .ok_or_else(|| ApiError::bad_request(format!("id '{id}' is not an entry id such as audit-123")))?;
    let tree = state.store.tree.as_ref();
    let size = match params.number("size")? {
        Some(size) => size,
        None => size_for(tree, sequence).await?,
    };
    Ok(Json(inclusion_proof(state.log.as_ref(), tree, sequence, size).await?))
}

/// The inclusion proof of entry `sequence` in the tree of `size` entries.
pub async fn inclusion_proof(
    log: &dyn AuditLog,
    tree: &dyn TreeStore,
    sequence: u64,
    size: u64,
) -> Result<InclusionProofView, ApiError> {
    let id = app::entry::entry_id(sequence);
    let entry = log.get(sequence).await.map_err(ApiError::Store)?.ok_or_else(|| ApiError::NotFound(id.clone()))?;
    let stored = tree.tree_size().await.map_err(ApiError::Store)?;
    if size < sequence || size > stored {
        return Err(ApiError::bad_request(format!(
            "size must be from {sequence} (entry {id} is leaf {sequence} of the tree) to {stored} (the tree's size now)"
        )));
    }
    let proof = answer(tree, TreeQuery::Inclusion { index: sequence - 1, size }).await?;
    let root = answer(tree, TreeQuery::Root { size }).await?;
    Ok(InclusionProofView {
        id,
        leaf_index: sequence - 1,
        leaf_hash: b64(&entry_leaf_hash(&entry)),
        tree_size: size,
        root: root.first().map(b64).unwrap_or_default(),
        proof: proof.iter().map(b64).collect(),
        checkpoint: checkpoint_of(tree, size).await?,
    })
}

/// That the tree of `from` entries is a prefix of the tree of `to`.
#[utoipa::path(
    get,
    path = "/audit/integrity/consistency",
    tag = "integrity",
    params(
        ("from" = u64, Query, description = "The earlier tree size (a checkpoint you kept)"),
        ("to" = Option<u64>, Query, description = "The later tree size (default: the latest checkpoint's)")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The proof and both roots, with their checkpoints", body = ConsistencyProofView),
        (status = 400, description = "A parameter is wrong or unknown, or from > to, or to is larger than the tree", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn consistency(
    State(tree): State<Arc<dyn TreeStore>>,
    RawQuery(query): RawQuery,
) -> Result<Json<ConsistencyProofView>, ApiError> {
    let params = Params::parse(query.as_deref(), &["from", "to"])?;
    let from = params.number("from")?.ok_or_else(|| ApiError::bad_request("from is required: a tree size"))?;
    let to = match params.number("to")? {
        Some(to) => to,
        None => size_for(tree.as_ref(), 0).await?,
    };
    let stored = tree.tree_size().await.map_err(ApiError::Store)?;
    if from > to || to > stored {
        return Err(ApiError::bad_request(format!(
            "from ({from}) must not exceed to ({to}), nor to the tree's size ({stored})"
        )));
    }
    let proof = answer(tree.as_ref(), TreeQuery::Consistency { from, to }).await?;
    let from_root = answer(tree.as_ref(), TreeQuery::Root { size: from }).await?;
    let to_root = answer(tree.as_ref(), TreeQuery::Root { size: to }).await?;
    Ok(Json(ConsistencyProofView {
        from,
        to,
        from_root: from_root.first().map(b64).unwrap_or_default(),
        to_root: to_root.first().map(b64).unwrap_or_default(),
        proof: proof.iter().map(b64).collect(),
        from_checkpoint: checkpoint_of(tree.as_ref(), from).await?,
        to_checkpoint: checkpoint_of(tree.as_ref(), to).await?,
    }))
}

/// The size an entry's inclusion proof is against when none is given: the latest
/// checkpoint's, or the whole tree for an entry newer than it (or before any checkpoint).
pub async fn size_for(tree: &dyn TreeStore, sequence: u64) -> Result<u64, ApiError> {
    match tree.latest_checkpoint().await.map_err(ApiError::Store)? {
        Some(latest) if latest.head.size >= sequence => Ok(latest.head.size),
        _ => tree.tree_size().await.map_err(ApiError::Store),
    }
}

async fn checkpoint_of(tree: &dyn TreeStore, size: u64) -> Result<Option<CheckpointView>, ApiError> {
    let Some(before) = size.checked_sub(1) else { return Ok(None) };
    let found = tree.checkpoints_after(before, 1).await.map_err(ApiError::Store)?;
    Ok(found.into_iter().find(|c| c.head.size == size).map(|c| c.view()))
}

async fn answer(tree: &dyn TreeStore, query: TreeQuery) -> Result<Vec<[u8; 32]>, ApiError> {
    tree_answer(tree, query).await.map_err(|e| match e {
        // Sizes are checked before: a conflict here is a tree that shrank meanwhile.
        StoreError::Conflict(message) => ApiError::bad_request(message),
        e => ApiError::Store(e),
    })
}

/// A query string's parameters, each at most once, none unknown.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(query: Option<&str>, known: &[&str]) -> Result<Params, ApiError> {
        let mut params = HashMap::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if !known.contains(&name.as_ref()) {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter '{name}': this endpoint takes {}",
                    known.join(", ")
                )));
            }
            if params.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(ApiError::bad_request(format!("parameter '{name}' is given twice")));
            }
        }
        Ok(Params(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A whole number of at least 0.
    fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("{name} must be a whole number of 0 or more, not '{v}'"))
                })
            })
            .transpose()
    }
}
