//! The log entries of changes to users, with the details the product page lists:
//! `user.created` (username, role, created by), `user.updated` (each changed field with its
//! old and new value, modified by; a password only as "password changed", never a hash)
//! and `user.deleted` (username, deleted by). Whoever changes users (the pages, the REST
//! twins, the command line) records through these.

use crate::accounts::User;
use crate::entry::{Actor, Resource};
use crate::internal_event::{EventError, InternalEvent};
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};

/// The user an event is about.
fn resource(user: &User) -> Resource {
    Resource { kind: "user".to_owned(), id: format!("user-{}", user.id), name: Some(user.username.clone()) }
}

pub fn created(user: &User, by: Actor) -> Result<InternalEvent, EventError> {
    let created_by = by.name.clone();
    Ok(InternalEvent::new("user.created")?
        .actor(by)
        .resource(resource(user))
        .detail("username", user.username.as_str())
        .detail("display_name", user.display_name.as_str())
        .detail("role", user.role.as_str())
        .detail("created_by", created_by))
}

pub fn deleted(user: &User, by: Actor) -> Result<InternalEvent, EventError> {
    let deleted_by = by.name.clone();
    Ok(InternalEvent::new("user.deleted")?
        .actor(by)
        .resource(resource(user))
        .detail("username", user.username.as_str())
        .detail("role", user.role.as_str())
        .detail("deleted_by", deleted_by))
}

/// The change from `before` to `after`, or `None` when nothing changed: no entry is made
/// for a change that changed nothing.
pub fn updated(
    before: &User,
    after: &User,
    password_changed: bool,
    by: Actor,
) -> Result<Option<InternalEvent>, EventError> {
    let mut changes = Map::new();
    let mut note = |field: &str, old: Value, new: Value| {
        if old != new {
            changes.insert(field.to_owned(), json!({ "old": old, "new": new }));
        }
    };
    note("display_name", before.display_name.as_str().into(), after.display_name.as_str().into());
    note("role", before.role.as_str().into(), after.role.as_str().into());
    let status = |u: &User| if u.disabled { "disabled" } else { "enabled" };
    note("status", status(before).into(), status(after).into());
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or(Value::Null, |t| t.to_rfc3339_opts(SecondsFormat::Secs, true).into())
    };
    note("locked_until", time(before.locked_until), time(after.locked_until));
    note("failed_attempts", before.failed_attempts.into(), after.failed_attempts.into());
    if password_changed {
        changes.insert("password".to_owned(), "password changed".into());
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let modified_by = by.name.clone();
    let changed_fields: Vec<Value> = changes.keys().map(|k| k.as_str().into()).collect();
    Ok(Some(
        InternalEvent::new("user.updated")?
            .actor(by)
            .resource(resource(after))
            .detail("username", after.username.as_str())
            .detail("changed_fields", changed_fields)
            .detail("changes", changes)
            .detail("modified_by", modified_by),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use crate::entry::ActorType;
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().expect("time")
    }

    fn alice() -> User {
        User {
            id: 7,
            username: "alice".into(),
            display_name: "Alice".into(),
            role: Role::Admin,
            disabled: false,
            created_at: now(),
            last_login_at: None,
            failed_attempts: 3,
            locked_until: Some(now()),
        }
    }

    fn operator() -> Actor {
        Actor { kind: ActorType::User, id: "os:root".into(), name: "root".into() }
    }

    #[test]
    fn created_and_deleted_name_the_user_role_and_who() {
        let entry = created(&alice(), operator()).expect("builds").build(now()).expect("valid");
        assert_eq!(entry.description, "User alice created with role admin by root");
        assert_eq!(entry.details["created_by"], "root");
        assert_eq!(entry.actor, operator());
        assert_eq!(entry.resource.as_ref().map(|r| r.id.as_str()), Some("user-7"));
        let entry = deleted(&alice(), operator()).expect("builds").build(now()).expect("valid");
        assert_eq!(entry.description, "User alice deleted by root");
        assert_eq!(
            (entry.details["username"].as_str(), entry.details["deleted_by"].as_str()),
            (Some("alice"), Some("root"))
        );
    }

    #[test]
    fn updates_hold_old_and_new_values_and_never_a_password() {
        let before = alice();
        let after = User { role: Role::Auditor, failed_attempts: 0, locked_until: None, disabled: true, ..alice() };
        let entry =
            updated(&before, &after, true, operator()).expect("builds").expect("changed").build(now()).expect("valid");
        assert_eq!(
            entry.details["changes"],
            json!({
                "role": {"old": "admin", "new": "auditor"},
                "status": {"old": "enabled", "new": "disabled"},
                "locked_until": {"old": "2026-03-01T12:00:00Z", "new": null},
                "failed_attempts": {"old": 3, "new": 0},
                "password": "password changed",
            })
        );
        assert_eq!(entry.details["modified_by"], "root");
        assert!(entry.description.starts_with("User updated by root: "), "{}", entry.description);
        assert!(
            updated(&before, &before, false, operator()).expect("builds").is_none(),
            "nothing changed, nothing recorded"
        );
    }
}
