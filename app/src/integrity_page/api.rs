//! Server functions of the Integrity page and of the banner every page shows while an
//! integrity failure is open. Admins and auditors see the status and may run a
//! verification; signing a checkpoint and acknowledging a failure are for admins.

use crate::admin::api::AdminError;
use crate::proof::{CheckpointView, IntegrityOverview, RunView};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(endpoint = "integrity_status")]
pub async fn integrity_status() -> Result<IntegrityOverview, AdminError> {
    let (store, signing, person) = signed_in()?;
    let failed = |e: crate::store::StoreError| unavailable(&e);
    Ok(IntegrityOverview {
        key: signing.key.view(),
        tree_size: store.tree.tree_size().await.map_err(failed)?,
        latest_checkpoint: store.tree.latest_checkpoint().await.map_err(failed)?.map(|c| c.view()),
        last_run: crate::verify_runs::last_run(&store).await.map_err(failed)?,
        open_failure: crate::verify_runs::open_failure(&store).await.map_err(failed)?,
        may_act: person.role == crate::accounts::Role::Admin,
    })
}

/// The open integrity failure, for the banner (none while everything is in order, and
/// none for a page nobody is signed in to: the banner is for admins and auditors).
#[server(endpoint = "integrity_alert")]
pub async fn integrity_alert() -> Result<Option<RunView>, AdminError> {
    use crate::access::{Caller, Principal};
    if !matches!(use_context::<Caller>().map(|c| c.principal), Some(Principal::Person(_))) {
        return Ok(None);
    }
    let (store, _, _) = signed_in()?;
    crate::verify_runs::open_failure(&store).await.map_err(|e| unavailable(&e))
}

/// Verifies the whole log now; the run is recorded with the person as its actor.
#[server(endpoint = "integrity_verify")]
pub async fn verify_now() -> Result<RunView, AdminError> {
    use crate::verify_runs::{run, RunError, Trigger};
    let (store, signing, person) = signed_in()?;
    let actor = crate::access::Principal::Person(person).actor();
    run(&store, &signing, actor, Trigger::OnDemand, chrono::Utc::now()).await.map_err(|e| match e {
        RunError::Busy => crate::admin::api::answer(AdminError::Conflict(e.to_string())),
        e => unavailable(&e),
    })
}

/// Signs a checkpoint now (unless the latest covers every entry): admins.
#[server(endpoint = "integrity_sign")]
pub async fn sign_checkpoint() -> Result<CheckpointView, AdminError> {
    let (store, signing, person) = signed_in()?;
    crate::admin::api::admin_only(&person)?;
    use crate::checkpoint::CheckpointError;
    let done =
        crate::checkpoint::checkpoint_now(store.tree.as_ref(), &signing.key, &signing.policy, chrono::Utc::now())
            .await
            .map_err(|e| match e {
                e @ (CheckpointError::Empty | CheckpointError::WrongKey(_) | CheckpointError::Diverged(_)) => {
                    crate::admin::api::answer(AdminError::Conflict(e.to_string()))
                }
                e => unavailable(&e),
            })?;
    Ok(done.checkpoint.view())
}

/// Records that the admin has seen the open failure `failure_id`; the banner goes.
#[server(endpoint = "integrity_acknowledge", input = Json)]
pub async fn acknowledge_failure(failure_id: String) -> Result<(), AdminError> {
    use crate::verify_runs::{acknowledge, RunError};
    let (store, _, person) = signed_in()?;
    crate::admin::api::admin_only(&person)?;
    let actor = crate::access::Principal::Person(person).actor();
    acknowledge(&store, &failure_id, actor, chrono::Utc::now()).await.map_err(|e| match e {
        RunError::NotAFailure(message) => crate::admin::api::answer(AdminError::Conflict(message)),
        e => unavailable(&e),
    })
}

/// The store, the signing key and the person signed in.
#[cfg(feature = "ssr")]
fn signed_in(
) -> Result<(crate::store::Store, std::sync::Arc<crate::checkpoint::Signing>, crate::access::Person), AdminError> {
    let (store, person) = crate::admin::api::signed_in_person()?;
    match use_context::<std::sync::Arc<crate::checkpoint::Signing>>() {
        Some(signing) => Ok((store, signing, person)),
        None => {
            tracing::error!("no signing key in the server function's context");
            Err(crate::admin::api::answer(AdminError::Unavailable))
        }
    }
}

/// A failure as the page is told it (its cause goes to the log).
#[cfg(feature = "ssr")]
fn unavailable(error: &dyn std::fmt::Display) -> AdminError {
    tracing::error!(error = %error, "an integrity action failed");
    crate::admin::api::answer(AdminError::Unavailable)
}
