//! The event catalogue: every event type the product records, in one table that the
//! ingest validation, the filters, the seed data and `GET /audit/event-types` all read.

use crate::entry::Severity;
use serde::Serialize;

/// The families of the spec's "What's Logged" section, plus `system` and `custom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Auth,
    User,
    Discovery,
    Rotation,
    Sync,
    Configuration,
    System,
    Custom,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Auth,
        Category::User,
        Category::Discovery,
        Category::Rotation,
        Category::Sync,
        Category::Configuration,
        Category::System,
        Category::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Auth => "auth",
            Category::User => "user",
            Category::Discovery => "discovery",
            Category::Rotation => "rotation",
            Category::Sync => "sync",
            Category::Configuration => "configuration",
            Category::System => "system",
            Category::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Auth => "Authentication",
            Category::User => "User management",
            Category::Discovery => "Discovery",
            Category::Rotation => "Rotation",
            Category::Sync => "Sync",
            Category::Configuration => "Configuration",
            Category::System => "System",
            Category::Custom => "Custom",
        }
    }
}

/// One known event type.
#[derive(Clone, Copy, Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventSpec {
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// The spec's "Description" column.
    pub summary: &'static str,
    /// What the entry must carry (the spec's "Details Captured" column), as field paths:
    /// `details.<key>` or a top-level field such as `ip_address`.
    pub required: &'static [&'static str],
    /// The description used when an ingested entry has none; `{key}` is replaced by
    /// `details.key`.
    pub template: &'static str,
    /// Only the product itself records this event (an export, a purge): ingest refuses it,
    /// so that no token can forge the log's own account of itself.
    pub internal: bool,
}

macro_rules! event {
    ($name:literal, $cat:ident, $sev:ident, $summary:literal, [$($req:literal),*], $template:literal) => {
        event!(@ $name, $cat, $sev, $summary, [$($req),*], $template, false)
    };
    (internal $name:literal, $cat:ident, $sev:ident, $summary:literal, [$($req:literal),*], $template:literal) => {
        event!(@ $name, $cat, $sev, $summary, [$($req),*], $template, true)
    };
    (@ $name:literal, $cat:ident, $sev:ident, $summary:literal, [$($req:literal),*], $template:literal, $internal:literal) => {
        EventSpec {
            name: $name,
            category: Category::$cat,
            severity: Severity::$sev,
            summary: $summary,
            required: &[$($req),*],
            template: $template,
            internal: $internal,
        }
    };
}

/// Namespaces that belong to the product itself: no ingested event may use them, even a
/// type the catalogue does not (yet) list.
pub const INTERNAL_NAMESPACES: &[&str] = &["audit.", "integrity.", "retention.", "token.", "destination.", "delivery."];

/// Every event type of the spec, and the system events the product itself emits.
pub static CATALOGUE: &[EventSpec] = &[
    event!(
        "auth.login.success",
        Auth,
        Info,
        "User logged in",
        ["details.username", "ip_address", "user_agent"],
        "{username} logged in"
    ),
    event!(
        "auth.login.failed",
        Auth,
        Warning,
        "Failed login attempt",
        ["details.username", "ip_address", "details.reason"],
        "Failed login for {username}: {reason}"
    ),
    event!("auth.logout", Auth, Info, "User logged out", ["details.username"], "{username} logged out"),
    event!(
        "auth.account.locked",
        Auth,
        Error,
        "Account locked after failures",
        ["details.username", "details.attempts"],
        "Account {username} locked after {attempts} failed attempts"
    ),
    event!(
        "user.created",
        User,
        Info,
        "New user added",
        ["details.username", "details.role", "details.created_by"],
        "User {username} created with role {role} by {created_by}"
    ),
    event!(
        "user.updated",
        User,
        Info,
        "User modified",
        ["details.changed_fields", "details.modified_by"],
        "User updated by {modified_by}: {changed_fields}"
    ),
    event!(
        "user.deleted",
        User,
        Warning,
        "User removed",
        ["details.username", "details.deleted_by"],
        "User {username} deleted by {deleted_by}"
    ),
    event!(
        internal "token.created",
        User,
        Info,
        "API token created",
        ["details.name", "details.scopes", "details.created_by"],
        "API token {name} created with scopes {scopes} by {created_by}"
    ),
    event!(
        internal "token.revoked",
        User,
        Warning,
        "API token revoked",
        ["details.name", "details.revoked_by"],
        "API token {name} revoked by {revoked_by}"
    ),
    event!(
        "discovery.scan.started",
        Discovery,
        Info,
        "Scan initiated",
        ["details.mode", "details.subscriptions", "details.initiated_by"],
        "Discovery scan ({mode}) started by {initiated_by}"
    ),
    event!(
        "discovery.scan.completed",
        Discovery,
        Info,
        "Scan finished",
        ["details.duration_seconds", "details.vaults_scanned", "details.secrets_found"],
        "Discovery scan completed: {vaults_scanned} vaults, {secrets_found} assets in {duration_seconds}s"
    ),
    event!(
        "discovery.scan.failed",
        Discovery,
        Error,
        "Scan failed",
        ["details.error", "details.affected_vaults"],
        "Discovery scan failed: {error}"
    ),
    event!(
        "discovery.vault.error",
        Discovery,
        Warning,
        "Vault access error",
        ["details.vault_name", "details.error"],
        "Cannot access vault {vault_name}: {error}"
    ),
    event!(
        "rotation.started",
        Rotation,
        Info,
        "Rotation job initiated",
        ["details.app_name", "details.secret_name", "details.initiated_by"],
        "Rotation of {secret_name} for {app_name} started by {initiated_by}"
    ),
    event!(
        "rotation.completed",
        Rotation,
        Info,
        "Rotation successful",
        ["details.new_expiry", "details.updated_vaults"],
        "Rotation completed; new expiry {new_expiry}"
    ),
    event!(
        "rotation.failed",
        Rotation,
        Error,
        "Rotation failed",
        ["details.error", "details.rollback_status"],
        "Rotation failed: {error} (rollback {rollback_status})"
    ),
    event!(
        "sync.started",
        Sync,
        Info,
        "Sync job initiated",
        ["details.source", "details.target", "details.secret_count"],
        "Sync of {secret_count} secrets from {source} to {target} started"
    ),
    event!(
        "sync.completed",
        Sync,
        Info,
        "Sync successful",
        ["details.synced_count", "details.duration_seconds"],
        "Sync completed: {synced_count} secrets in {duration_seconds}s"
    ),
    event!(
        "sync.failed",
        Sync,
        Error,
        "Sync failed",
        ["details.error", "details.failed_secrets"],
        "Sync failed: {error}"
    ),
    event!(
        "settings.updated",
        Configuration,
        Info,
        "Settings modified",
        ["details.setting", "details.old_value", "details.new_value", "details.modified_by"],
        "Setting {setting} changed from {old_value} to {new_value} by {modified_by}"
    ),
    event!(
        "subscription.added",
        Configuration,
        Info,
        "Subscription added",
        ["details.subscription_id", "details.added_by"],
        "Subscription {subscription_id} added by {added_by}"
    ),
    event!(
        "subscription.removed",
        Configuration,
        Warning,
        "Subscription removed",
        ["details.subscription_id", "details.removed_by"],
        "Subscription {subscription_id} removed by {removed_by}"
    ),
    event!(
        internal "destination.created",
        Configuration,
        Info,
        "Delivery destination added",
        ["details.destination_id", "details.name", "details.kind", "details.created_by"],
        "Destination {name} ({kind}) added by {created_by}"
    ),
    event!(
        internal "destination.updated",
        Configuration,
        Info,
        "Delivery destination changed",
        ["details.destination_id", "details.name", "details.changed_fields", "details.modified_by"],
        "Destination {name} changed by {modified_by}: {changed_fields}"
    ),
    event!(
        internal "destination.deleted",
        Configuration,
        Warning,
        "Delivery destination removed",
        ["details.destination_id", "details.name", "details.deleted_by"],
        "Destination {name} removed by {deleted_by}"
    ),
    event!(
        internal "delivery.failed",
        System,
        Error,
        "Delivery to a destination failing",
        ["details.destination_id", "details.name", "details.error"],
        "Delivery to {name} is failing: {error}"
    ),
    event!(
        internal "delivery.recovered",
        System,
        Info,
        "Delivery to a destination recovered",
        ["details.destination_id", "details.name", "details.failed_seconds"],
        "Delivery to {name} recovered after {failed_seconds} s"
    ),
    event!(
        internal "alert.triggered",
        System,
        Warning,
        "Alert rule fired",
        ["details.rule_id", "details.rule_name", "details.count"],
        "Alert {rule_name}: {count} matching entries"
    ),
    event!(
        internal "delivery.parked",
        System,
        Warning,
        "Entry refused by a destination, set aside",
        ["details.destination_id", "details.name", "details.entry_id", "details.reason"],
        "Delivery to {name} set {entry_id} aside: {reason}"
    ),
    event!(
        internal "delivery.replayed",
        Configuration,
        Warning,
        "Delivery to a destination replayed",
        ["details.destination_id", "details.name", "details.from_sequence", "details.replayed_by"],
        "Delivery to {name} replayed from entry {from_sequence} by {replayed_by}"
    ),
    event!(
        "alert.rule.created",
        Configuration,
        Info,
        "Alert rule created",
        ["details.rule", "details.created_by"],
        "Alert rule created by {created_by}"
    ),
    event!(
        "alert.rule.updated",
        Configuration,
        Info,
        "Alert rule modified",
        ["details.changed_fields", "details.modified_by"],
        "Alert rule updated by {modified_by}: {changed_fields}"
    ),
    event!(
        "alert.rule.deleted",
        Configuration,
        Warning,
        "Alert rule deleted",
        ["details.rule_id", "details.deleted_by"],
        "Alert rule {rule_id} deleted by {deleted_by}"
    ),
    event!(
        "license.validation.succeeded",
        System,
        Info,
        "License validated",
        ["details.edition", "details.expires_at"],
        "License validated: {edition} edition, valid until {expires_at}"
    ),
    event!(
        "license.validation.failed",
        System,
        Error,
        "License validation failed",
        ["details.error"],
        "License validation failed: {error}"
    ),
    event!(
        "task.run.completed",
        System,
        Info,
        "Scheduled task finished",
        ["details.task", "details.duration_seconds"],
        "Scheduled task {task} completed in {duration_seconds}s"
    ),
    event!(
        "task.run.failed",
        System,
        Error,
        "Scheduled task failed",
        ["details.task", "details.error"],
        "Scheduled task {task} failed: {error}"
    ),
    event!(
        internal "audit.exported",
        System,
        Info,
        "Audit log export started",
        ["details.format", "details.filters", "details.exported_by"],
        "{exported_by} started an export of audit entries as {format}"
    ),
    event!(
        internal "audit.export.completed",
        System,
        Info,
        "Audit log export completed",
        ["details.export_id", "details.format", "details.rows", "details.bytes"],
        "Export {export_id} completed: {rows} entries ({bytes} bytes) as {format}"
    ),
    event!(
        internal "audit.export.aborted",
        System,
        Warning,
        "Audit log export aborted",
        ["details.export_id", "details.format", "details.rows", "details.bytes", "details.reason"],
        "Export {export_id} aborted after {rows} entries ({bytes} bytes): {reason}"
    ),
    event!(
        internal "integrity.verified",
        System,
        Info,
        "Audit log integrity verified",
        ["details.entries", "details.root", "details.checkpoints_checked", "details.trigger", "details.verified_by"],
        "Integrity verified: {entries} entries and {checkpoints_checked} checkpoints intact ({trigger}, by {verified_by})"
    ),
    event!(
        internal "integrity.failed",
        System,
        Error,
        "Audit log integrity verification failed",
        ["details.problem_count", "details.first_problem", "details.problems", "details.trigger", "details.verified_by"],
        "Integrity verification failed ({trigger}, by {verified_by}): {first_problem}"
    ),
    event!(
        internal "integrity.failure.acknowledged",
        System,
        Warning,
        "Integrity failure acknowledged",
        ["details.failure_id", "details.acknowledged_by"],
        "{acknowledged_by} acknowledged the integrity failure {failure_id}"
    ),
    event!(
        internal "retention.purge.completed",
        System,
        Info,
        "Audit retention purge",
        ["details.retention_days", "details.deleted_count", "details.cutoff"],
        "Retention purge removed {deleted_count} entries older than {cutoff} ({retention_days} days)"
    ),
    event!(
        internal "retention.purge.failed",
        System,
        Error,
        "Audit retention purge failed",
        ["details.retention_days", "details.cutoff", "details.deleted_count", "details.reason"],
        "Retention purge failed after removing {deleted_count} entries: {reason}"
    ),
];

/// The catalogue entry for an event type, if it is a known one.
pub fn lookup(event_type: &str) -> Option<&'static EventSpec> {
    CATALOGUE.iter().find(|spec| spec.name == event_type)
}

/// The category an event type belongs to; unknown types are `custom`.
pub fn category_of(event_type: &str) -> Category {
    lookup(event_type).map_or(Category::Custom, |spec| spec.category)
}

/// Whether only the product itself may record this event type.
pub fn is_internal(event_type: &str) -> bool {
    lookup(event_type).is_some_and(|spec| spec.internal)
        || INTERNAL_NAMESPACES.iter().any(|ns| event_type.starts_with(ns))
}

/// Whether a name is a well-formed event type: two or three dot-separated words of
/// lower-case letters, digits and underscores, each starting with a letter.
pub fn is_well_formed(event_type: &str) -> bool {
    let words: Vec<&str> = event_type.split('.').collect();
    (2..=3).contains(&words.len()) && words.iter().all(|w| is_word(w))
}

/// Whether `word` may be one segment of an event type (also used for `prefix.*` filters).
pub fn is_word(word: &str) -> bool {
    let mut bytes = word.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && word.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// Fills a description template from an entry's details; missing keys stay as `{key}`.
pub fn render_template(template: &str, details: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match details.get(key) {
                    Some(serde_json::Value::String(s)) => out.push_str(s),
                    Some(serde_json::Value::Array(items)) => {
                        let parts: Vec<String> =
                            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
                        out.push_str(&parts.join(", "));
                    }
                    Some(value) => out.push_str(&value.to_string()),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The spec's "What's Logged" tables, verbatim.
    const SPEC_EVENTS: &[&str] = &[
        "auth.login.success",
        "auth.login.failed",
        "auth.logout",
        "auth.account.locked",
        "user.created",
        "user.updated",
        "user.deleted",
        "discovery.scan.started",
        "discovery.scan.completed",
        "discovery.scan.failed",
        "discovery.vault.error",
        "rotation.started",
        "rotation.completed",
        "rotation.failed",
        "sync.started",
        "sync.completed",
        "sync.failed",
        "settings.updated",
        "subscription.added",
        "subscription.removed",
        "alert.rule.created",
        "alert.rule.updated",
        "alert.rule.deleted",
    ];

    #[test]
    fn every_spec_event_is_catalogued_once() {
        for name in SPEC_EVENTS {
            assert!(lookup(name).is_some(), "{name} missing");
        }
        let names: HashSet<_> = CATALOGUE.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), CATALOGUE.len(), "duplicate names");
        for system in ["license.validation.succeeded", "task.run.completed", "retention.purge.completed"] {
            assert_eq!(lookup(system).map(|s| s.category), Some(Category::System));
        }
    }

    #[test]
    fn catalogue_entries_are_well_formed_and_templates_use_required_details() {
        for spec in CATALOGUE {
            assert!(is_well_formed(spec.name), "{}", spec.name);
            assert!(!spec.required.is_empty(), "{}", spec.name);
            let mut details = serde_json::Map::new();
            for field in spec.required {
                if let Some(key) = field.strip_prefix("details.") {
                    details.insert(key.to_owned(), serde_json::Value::String("x".into()));
                }
            }
            let rendered = render_template(spec.template, &details);
            assert!(!rendered.contains('{'), "{} leaves a placeholder: {rendered}", spec.name);
        }
    }

    #[test]
    fn the_logs_own_events_are_internal_and_others_are_not() {
        for name in ["audit.exported", "audit.export.completed", "retention.purge.completed", "retention.purge.started"]
        {
            assert!(is_internal(name), "{name}");
        }
        for name in ["rotation.failed", "auth.login.success", "backup.done", "auditing.done"] {
            assert!(!is_internal(name), "{name}");
        }
        for spec in CATALOGUE {
            assert_eq!(spec.internal, is_internal(spec.name), "{}", spec.name);
        }
    }

    #[test]
    fn well_formedness() {
        for good in ["auth.login", "custom.thing.happened", "a1.b_2"] {
            assert!(is_well_formed(good), "{good}");
        }
        for bad in ["auth", "auth.", ".auth", "Auth.login", "a.b.c.d", "auth..login", "1a.b", "auth.lo-gin", ""] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        assert_eq!(category_of("custom.thing"), Category::Custom);
        assert_eq!(category_of("sync.failed"), Category::Sync);
    }

    #[test]
    fn templates_render_strings_numbers_and_lists() {
        let details = serde_json::json!({"a": "x", "n": 3, "l": ["k1", "k2"]});
        let details = details.as_object().cloned().unwrap_or_default();
        assert_eq!(render_template("{a}/{n}/{l}/{missing}", &details), "x/3/k1, k2/{missing}");
        assert_eq!(render_template("open { brace", &details), "open { brace");
    }
}
