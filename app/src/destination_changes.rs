//! Adding, changing and removing delivery destinations, the one way every caller does it
//! (Settings > Integrations, `/admin/destinations`): checked, stored, then recorded as
//! `destination.created` / `destination.updated` / `destination.deleted` with whoever made
//! the change; a change that cannot be recorded is undone.
//!
//! Secrets (the HEC token, the webhook's signing secret) and custom header values are
//! recorded and shown only as fingerprints: the first 16 hex digits of their SHA-256,
//! enough to tell whether one changed and which one a receiver holds, not to recover it.

use crate::destinations::{
    Created, Destination, DestinationChange, DestinationConfig, DestinationError, DestinationKind, NewDestination,
    Replay, Replayed, Start,
};
use crate::entry::{Actor, Resource};
use crate::internal_event::{record, InternalEvent};
use crate::store::destinations::Updated;
use crate::store::{Store, StoreError, StoredDestination};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Why a change was refused or failed.
#[derive(Debug, Error)]
pub enum ChangeError {
    #[error(transparent)]
    Refused(#[from] DestinationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change could not be recorded, and so was undone.
    #[error("the change was not made: it could not be recorded in the audit log: {0}")]
    Undone(String),
    /// The change was made but could not be recorded, nor undone.
    #[error("the change was made but could not be recorded in the audit log: {0}")]
    Unrecorded(String),
}

/// `sha256:` and the first 16 hex digits of the SHA-256 of `secret`.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..16])
}

/// A new webhook signing secret: `whsec_` and 32 random bytes in URL-safe base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A destination as shown: secrets and header values as fingerprints.
pub fn view(d: &StoredDestination) -> Destination {
    Destination {
        id: d.id,
        name: d.name.clone(),
        kind: d.kind,
        url: d.config.url.clone(),
        event_types: d.config.event_types.clone(),
        min_severity: d.config.min_severity,
        enabled: d.config.enabled,
        hec: d.config.hec.clone(),
        headers: d.config.headers.iter().map(|(k, v)| (k.clone(), fingerprint(v))).collect(),
        max_events: d.config.max_events,
        max_bytes: d.config.max_bytes,
        secret_fingerprint: d.secret.as_deref().map(fingerprint),
        created_at: d.created_at,
        created_by: d.created_by.clone(),
        updated_at: d.updated_at,
        updated_by: d.updated_by.clone(),
        version: d.version,
    }
}

pub async fn list(store: &Store) -> Result<Vec<Destination>, StoreError> {
    Ok(store.delivery.destinations().await?.iter().map(view).collect())
}

/// The destination `id` (as in its address), with its secret: for the server only.
pub async fn stored(store: &Store, id: &str) -> Result<StoredDestination, ChangeError> {
    let not_found = || DestinationError::NotFound(id.to_owned());
    let number: i64 = id.trim().parse().ok().filter(|n| *n > 0).ok_or_else(not_found)?;
    Ok(store.delivery.destination(number).await?.ok_or_else(not_found)?)
}

pub async fn get(store: &Store, id: &str) -> Result<Destination, ChangeError> {
    Ok(view(&stored(store, id).await?))
}

fn resource(d: &StoredDestination) -> Resource {
    Resource { kind: "destination".to_owned(), id: format!("destination-{}", d.id), name: Some(d.name.clone()) }
}

/// The newest entry's sequence number (0 for an empty log): a destination that starts
/// now delivers what comes after it.
pub async fn head(store: &Store) -> Result<u64, StoreError> {
    // The tree has a leaf for every entry ever appended, in the same transaction.
    store.tree.tree_size().await
}

/// A destination's address as recorded in the log: its origin (scheme, host, port) and,
/// when it has more, a fingerprint of the whole, because paths and queries often carry
/// credentials (a chat webhook's token, a signed query) that readers of the log must not
/// see.
pub fn recorded_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return fingerprint(url) };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..authority_end]);
    match rest[authority_end..].trim_start_matches('/').is_empty() {
        true => origin,
        false => format!("{origin}/… ({})", fingerprint(url)),
    }
}

/// Adds a destination for `by`, recorded as `destination.created`. A webhook given no
/// secret gets one made here, answered this once.
pub async fn create(
    store: &Store,
    new: &NewDestination,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Created, ChangeError> {
    let checked = new.check()?;
    let made = (checked.kind == DestinationKind::Webhook && checked.secret.is_none()).then(new_secret);
    let row = StoredDestination {
        id: 0,
        name: checked.name.clone(),
        kind: checked.kind,
        config: checked.config,
        secret: checked.secret.or_else(|| made.clone()),
        version: 1,
        created_at: now,
        created_by: by.name.clone(),
        updated_at: now,
        updated_by: by.name.clone(),
    };
    let cursor = match checked.start {
        Start::Now => head(store).await?,
        Start::Beginning => 0,
    };
    let Some(added) = store.delivery.create_destination(&row, cursor).await? else {
        return Err(DestinationError::Duplicate(checked.name).into());
    };
    let shown = view(&added);
    let event = InternalEvent::new("destination.created").map(|e| {
        e.resource(resource(&added))
            .detail("destination_id", added.id)
            .detail("name", added.name.as_str())
            .detail("kind", added.kind.as_str())
            .detail("url", shown.url.as_deref().map_or(Value::Null, |u| Value::from(recorded_url(u))))
            .detail("event_types", json!(shown.event_types))
            .detail("min_severity", shown.min_severity.as_str())
            .detail("enabled", shown.enabled)
            .detail("secret_fingerprint", shown.secret_fingerprint.clone().map_or(Value::Null, Value::from))
            .detail("starting_after", cursor)
            .detail("created_by", by.name.as_str())
    });
    match record(store, event, &by, now).await {
        Ok(()) => Ok(Created { destination: shown, secret: made }),
        // No change without its entry: the destination goes again.
        Err(why) => match store.delivery.delete_destination(added.id).await {
            Ok(_) => Err(ChangeError::Undone(why)),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}

/// What changed between two versions of a destination, field by field, with old and new
/// values as shown (secrets and header values as fingerprints).
fn changes(before: &StoredDestination, after: &StoredDestination) -> Map<String, Value> {
    let (old, new) = (view(before), view(after));
    let mut out = Map::new();
    let mut note = |field: &str, old: Value, new: Value| {
        if old != new {
            out.insert(field.to_owned(), json!({ "old": old, "new": new }));
        }
    };
    note("name", json!(old.name), json!(new.name));
    let url = |d: &Destination| json!(d.url.as_deref().map(recorded_url));
    note("url", url(&old), url(&new));
    note("event_types", json!(old.event_types), json!(new.event_types));
    note("min_severity", json!(old.min_severity), json!(new.min_severity));
    note("enabled", json!(old.enabled), json!(new.enabled));
    for (field, a, b) in [
        ("index", &old.hec.index, &new.hec.index),
        ("source", &old.hec.source, &new.hec.source),
        ("sourcetype", &old.hec.sourcetype, &new.hec.sourcetype),
        ("host", &old.hec.host, &new.hec.host),
    ] {
        note(field, json!(a), json!(b));
    }
    note("ack", json!(old.hec.ack), json!(new.hec.ack));
    note("headers", json!(old.headers), json!(new.headers));
    note("max_events", json!(old.max_events), json!(new.max_events));
    note("max_bytes", json!(old.max_bytes), json!(new.max_bytes));
    if let Some(name) = before.kind.secret_name() {
        note(&format!("{name}_fingerprint"), json!(old.secret_fingerprint), json!(new.secret_fingerprint));
    }
    out
}

/// Changes the destination `id` for `by`, recorded as `destination.updated` with each
/// changed field's old and new value; nothing is recorded when nothing changed. Answers
/// the destination, and its new secret when `rotate_secret` made one.
pub async fn update(
    store: &Store,
    id: &str,
    change: &DestinationChange,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Created, ChangeError> {
    let before = stored(store, id).await?;
    let applied = change.apply(before.kind, &before.name, &before.config, before.secret.as_deref())?;
    let made = applied.rotate.then(new_secret);
    let secret = made.clone().or(applied.secret);
    let proposed = StoredDestination {
        name: applied.name.clone(),
        config: applied.config.clone(),
        secret: secret.clone(),
        ..before.clone()
    };
    let changed = changes(&before, &proposed);
    if changed.is_empty() {
        return Ok(Created { destination: view(&before), secret: None });
    }
    let after = write(store, &before, &applied.name, &applied.config, secret.as_deref(), now, &by.name).await?;
    let fields: Vec<Value> = changed.keys().map(|k| Value::from(k.as_str())).collect();
    let event = InternalEvent::new("destination.updated").map(|e| {
        e.resource(resource(&after))
            .detail("destination_id", after.id)
            .detail("name", after.name.as_str())
            .detail("changed_fields", fields)
            .detail("changes", changed)
            .detail("modified_by", by.name.as_str())
    });
    match record(store, event, &by, now).await {
        Ok(()) => Ok(Created { destination: view(&after), secret: made }),
        // Put back what it was, only if nothing changed it since.
        Err(why) => {
            let undone = store
                .delivery
                .update_destination(
                    after.id,
                    after.version,
                    &before.name,
                    &before.config,
                    before.secret.as_deref(),
                    now,
                    &before.updated_by,
                )
                .await;
            match undone {
                Ok(Updated::Done(_)) => Err(ChangeError::Undone(why)),
                Ok(_) => Err(ChangeError::Unrecorded(format!("{why}; it was changed again meanwhile"))),
                Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
            }
        }
    }
}

/// Stores a change made from `before`, refusing one that another change overtook.
async fn write(
    store: &Store,
    before: &StoredDestination,
    name: &str,
    config: &DestinationConfig,
    secret: Option<&str>,
    now: DateTime<Utc>,
    by: &str,
) -> Result<StoredDestination, ChangeError> {
    match store.delivery.update_destination(before.id, before.version, name, config, secret, now, by).await? {
        Updated::Done(after) => Ok(*after),
        Updated::NameTaken => Err(DestinationError::Duplicate(name.to_owned()).into()),
        Updated::Changed => Err(StoreError::Conflict(format!(
            "destination {} was changed or removed meanwhile: read it again and retry",
            before.id
        ))
        .into()),
    }
}

/// The first sequence number received at or after `at` (entries are numbered as they are
/// received), by halving: `head + 1` when there is none.
async fn first_received_since(store: &Store, at: DateTime<Utc>, head: u64) -> Result<u64, StoreError> {
    let (mut low, mut high) = (1u64, head + 1);
    while low < high {
        let mid = low + (high - low) / 2;
        // A number purged by retention was received long before whatever is kept.
        let before = match store.log.get(mid).await? {
            Some(entry) => entry.received_at.unwrap_or(entry.timestamp) < at,
            None => true,
        };
        if before {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    Ok(low)
}

/// Moves the cursor of destination `id` back for `by`, so that it delivers again from a
/// sequence number or a time on; recorded as `delivery.replayed`. A cursor is never moved
/// forward: that would skip entries.
pub async fn replay(
    store: &Store,
    id: &str,
    replay: &Replay,
    by: Actor,
    now: DateTime<Utc>,
) -> Result<Replayed, ChangeError> {
    let destination = stored(store, id).await?;
    let invalid =
        |field: &str, message: &str| DestinationError::Invalid { field: field.into(), message: message.into() };
    let cursor = store.delivery.delivery_cursor(destination.id).await?.unwrap_or(0);
    let from = match (replay.from_sequence, replay.from_time.as_deref()) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid("from_sequence", "give one of from_sequence and from_time").into())
        }
        (Some(0), None) => return Err(invalid("from_sequence", "sequence numbers start at 1").into()),
        (Some(n), None) => n,
        (None, Some(text)) => {
            let at = DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| invalid("from_time", "use an RFC 3339 time such as 2025-01-15T10:30:00Z"))?
                .with_timezone(&Utc);
            first_received_since(store, at, head(store).await?).await?
        }
    };
    if from > cursor + 1 {
        return Err(invalid(
            "from_sequence",
            &format!("a replay goes back, never forward: delivery is at {cursor}, use {} or less", cursor + 1),
        )
        .into());
    }
    let Some(previous) = store.delivery.rewind_delivery(destination.id, from - 1).await? else {
        return Err(DestinationError::NotFound(id.to_owned()).into());
    };
    let event = InternalEvent::new("delivery.replayed").map(|e| {
        e.resource(resource(&destination))
            .detail("destination_id", destination.id)
            .detail("name", destination.name.as_str())
            .detail("from_sequence", from)
            .detail("previous_cursor", previous)
            .detail("replayed_by", by.name.as_str())
    });
    match record(store, event, &by, now).await {
        Ok(()) => {
            // Recorded: what was set aside from there on is sent again (its index fixed
            // since, say). Not before: an undone replay leaves them as they were.
            store.delivery.retry_parked(destination.id, from - 1).await?;
            Ok(Replayed { destination_id: destination.id, from_sequence: from, previous_cursor: previous })
        }
        Err(why) => match store.delivery.rewind_delivery(destination.id, previous).await {
            Ok(_) => Err(ChangeError::Undone(why)),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}

/// Removes the destination `id` for `by`, recorded as `destination.deleted`. What it had
/// not delivered is not delivered.
pub async fn delete(store: &Store, id: &str, by: Actor, now: DateTime<Utc>) -> Result<Destination, ChangeError> {
    let found = stored(store, id).await?;
    let Some((removed, cursor)) = store.delivery.delete_destination(found.id).await? else {
        return Err(DestinationError::NotFound(id.to_owned()).into());
    };
    let event = InternalEvent::new("destination.deleted").map(|e| {
        e.resource(resource(&removed))
            .detail("destination_id", removed.id)
            .detail("name", removed.name.as_str())
            .detail("kind", removed.kind.as_str())
            .detail("delivered_up_to", cursor)
            .detail("deleted_by", by.name.as_str())
    });
    match record(store, event, &by, now).await {
        Ok(()) => Ok(view(&removed)),
        Err(why) => match store.delivery.restore_destination(&removed, cursor).await {
            Ok(true) => Err(ChangeError::Undone(why)),
            Ok(false) => Err(ChangeError::Unrecorded(format!("{why}; its name was taken meanwhile"))),
            Err(e) => Err(ChangeError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recorded_by_their_origin_and_a_fingerprint_of_the_rest() {
        assert_eq!(recorded_url("https://splunk:8088"), "https://splunk:8088");
        assert_eq!(recorded_url("https://splunk:8088/"), "https://splunk:8088");
        let hook = recorded_url("https://hooks.example.com/services/T000/B000/XXXXSECRET?sig=abc");
        assert!(hook.starts_with("https://hooks.example.com/… (sha256:"), "{hook}");
        assert!(!hook.contains("SECRET") && !hook.contains("sig"), "{hook}");
    }

    #[test]
    fn fingerprints_tell_secrets_apart_without_showing_them() {
        let a = fingerprint("0f8fad5b-d9cb-469f-a165-70867728950e");
        assert!(a.starts_with("sha256:") && a.len() == 7 + 16, "{a}");
        assert_ne!(a, fingerprint("another"));
        assert!(!a.contains("0f8fad5b"));
        let secret = new_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 43, "{secret}");
        assert_ne!(secret, new_secret());
    }
}
