//! The seed's event types: how often each occurs and how its parts (actor, resource,
//! details, where it came from) are made. Every event first draws the same common parts,
//! then its kind draws what it needs more, always in the same order, so that a seed gives
//! the same events from one version to the next. Exports are recorded by the export
//! itself, never invented.

use super::data::{APPS, ERRORS, SECRETS, SETTINGS, SUBSCRIPTIONS, TASKS, VAULTS};
use super::draw::Draw;
use app::entry::{Actor, Resource};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

/// What every event draws first, whether it uses it or not.
pub struct Common {
    pub user: Actor,
    pub vault: &'static str,
    pub secret: &'static str,
    pub app: &'static str,
    pub subscription: &'static str,
    pub error: &'static str,
    pub n: u32,
    pub secs: u32,
}

impl Common {
    pub fn draw(draw: &mut Draw) -> Self {
        Common {
            user: draw.user(),
            vault: draw.pick(VAULTS),
            secret: draw.pick(SECRETS),
            app: draw.pick(APPS),
            subscription: draw.pick(SUBSCRIPTIONS),
            error: draw.pick(ERRORS),
            n: draw.number(1..400),
            secs: draw.number(3..900),
        }
    }
}

/// What an event is made of, besides its type and time.
pub struct Parts {
    pub actor: Actor,
    pub resource: Option<Resource>,
    pub details: Map<String, Value>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Parts {
    fn new(actor: Actor, resource: Option<Resource>, details: Value) -> Self {
        let details = match details {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Parts { actor, resource, details, ip: None, user_agent: None }
    }
}

type Make = fn(&mut Draw, Common, &'static str, DateTime<Utc>) -> Parts;

/// Every seeded event type (in the catalogue's order), its weight (how often it occurs,
/// relative to the others) and its maker.
pub const KINDS: &[(&str, u32, Make)] = &[
    ("auth.login.success", 20, auth),
    ("auth.login.failed", 6, auth),
    ("auth.logout", 20, auth),
    ("auth.account.locked", 1, auth),
    ("user.created", 1, user),
    ("user.updated", 1, user),
    ("user.deleted", 1, user),
    ("discovery.scan.started", 8, scan),
    ("discovery.scan.completed", 8, scan),
    ("discovery.scan.failed", 1, scan),
    ("discovery.vault.error", 3, vault_error),
    ("rotation.started", 8, rotation),
    ("rotation.completed", 8, rotation),
    ("rotation.failed", 1, rotation),
    ("sync.started", 6, sync),
    ("sync.completed", 6, sync),
    ("sync.failed", 1, sync),
    ("settings.updated", 1, setting),
    ("subscription.added", 1, subscription),
    ("subscription.removed", 1, subscription),
    ("alert.rule.created", 1, alert_rule),
    ("alert.rule.updated", 1, alert_rule),
    ("alert.rule.deleted", 1, alert_rule),
    ("license.validation.succeeded", 2, license),
    ("license.validation.failed", 1, license),
    ("task.run.completed", 6, task),
    ("task.run.failed", 1, task),
    ("retention.purge.completed", 1, purge),
];

fn auth(draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let (ip, user_agent) = (draw.ip(), draw.browser());
    let user = c.user;
    let details = match kind {
        "auth.login.failed" => {
            json!({"username": user.name, "reason": draw.pick(&["invalid password", "unknown user", "account locked"])})
        }
        "auth.account.locked" => json!({"username": user.name, "attempts": 5}),
        _ => json!({"username": user.name}),
    };
    let resource = Resource { kind: "user".into(), id: user.id.clone(), name: Some(user.name.clone()) };
    let actor = if kind == "auth.account.locked" { draw.system() } else { user };
    Parts { ip: Some(ip), user_agent: Some(user_agent), ..Parts::new(actor, Some(resource), details) }
}

fn user(draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let target = draw.user();
    let by = c.user;
    let details = match kind {
        "user.created" => {
            json!({"username": target.name, "role": draw.pick(&["admin", "auditor", "operator"]), "created_by": by.name})
        }
        "user.updated" => json!({"changed_fields": ["role"], "modified_by": by.name, "username": target.name}),
        _ => json!({"username": target.name, "deleted_by": by.name}),
    };
    let resource = Resource { kind: "user".into(), id: target.id, name: Some(target.name) };
    Parts { ip: Some(draw.ip()), ..Parts::new(by, Some(resource), details) }
}

fn scan(draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let scan = format!("scan-{}", draw.number(10_000..99_999));
    let mode = draw.pick(&["full", "incremental"]);
    let details = match kind {
        "discovery.scan.started" => {
            json!({"mode": mode, "subscriptions": [c.subscription], "initiated_by": c.user.name})
        }
        "discovery.scan.completed" => json!({
            "mode": mode, "duration_seconds": c.secs, "vaults_scanned": c.n % 40 + 1, "secrets_found": c.n * 3
        }),
        _ => json!({"error": c.error, "affected_vaults": [c.vault]}),
    };
    let actor = if draw.chance(0.7) { draw.service("discovery-agent") } else { c.user };
    Parts::new(actor, Some(Resource { kind: "scan".into(), id: scan, name: Some(format!("{mode} scan")) }), details)
}

fn vault_error(draw: &mut Draw, c: Common, _kind: &'static str, _at: DateTime<Utc>) -> Parts {
    Parts::new(
        draw.service("discovery-agent"),
        Some(Resource { kind: "vault".into(), id: format!("vault-{}", c.vault), name: Some(c.vault.into()) }),
        json!({"vault_name": c.vault, "error": c.error}),
    )
}

fn rotation(draw: &mut Draw, c: Common, kind: &'static str, at: DateTime<Utc>) -> Parts {
    let details = match kind {
        "rotation.started" => json!({"app_name": c.app, "secret_name": c.secret, "initiated_by": "rotation-worker"}),
        "rotation.completed" => json!({
            "app_name": c.app, "secret_name": c.secret,
            "new_expiry": (at + Duration::days(90)).date_naive().to_string(), "updated_vaults": [c.vault]
        }),
        _ => json!({
            "app_name": c.app, "secret_name": c.secret, "error": c.error,
            "rollback_status": draw.pick(&["succeeded", "not needed", "failed"])
        }),
    };
    let resource =
        Resource { kind: "secret".into(), id: format!("{}/{}", c.vault, c.secret), name: Some(c.secret.into()) };
    Parts::new(draw.service("rotation-worker"), Some(resource), details)
}

fn sync(draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let (source, target) = (c.vault, draw.pick(VAULTS));
    let details = match kind {
        "sync.started" => json!({"source": source, "target": target, "secret_count": c.n}),
        "sync.completed" => {
            json!({"source": source, "target": target, "synced_count": c.n, "duration_seconds": c.secs})
        }
        _ => json!({"source": source, "target": target, "error": c.error, "failed_secrets": [c.secret]}),
    };
    let resource = Resource {
        kind: "sync".into(),
        id: format!("sync-{source}-{target}"),
        name: Some(format!("{source} → {target}")),
    };
    Parts::new(draw.service("sync-worker"), Some(resource), details)
}

fn setting(draw: &mut Draw, c: Common, _kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let setting = draw.pick(SETTINGS);
    let ip = draw.ip();
    let by = c.user;
    let details = json!({"setting": setting, "old_value": 90, "new_value": 180, "modified_by": by.name});
    let resource = Resource { kind: "setting".into(), id: setting.into(), name: Some(setting.into()) };
    Parts { ip: Some(ip), ..Parts::new(by, Some(resource), details) }
}

fn subscription(_draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let by_key = if kind == "subscription.added" { "added_by" } else { "removed_by" };
    let mut details = Map::new();
    details.insert("subscription_id".into(), json!(c.subscription));
    details.insert(by_key.into(), json!(c.user.name));
    let resource = Resource {
        kind: "subscription".into(),
        id: c.subscription.into(),
        name: Some(format!("Contoso {}", &c.subscription[..8])),
    };
    Parts::new(c.user, Some(resource), Value::Object(details))
}

fn alert_rule(_draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let rule = format!("rule-{}", c.n);
    let by = c.user;
    let details = match kind {
        "alert.rule.created" => {
            json!({"rule": {"id": rule, "condition": "expires_in_days < 14", "channel": "email"}, "created_by": by.name})
        }
        "alert.rule.updated" => json!({"rule_id": rule, "changed_fields": ["condition"], "modified_by": by.name}),
        _ => json!({"rule_id": rule, "deleted_by": by.name}),
    };
    let resource =
        Resource { kind: "alert_rule".into(), id: rule.clone(), name: Some(format!("Expiry alert {}", c.n)) };
    Parts::new(by, Some(resource), details)
}

fn license(draw: &mut Draw, _c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let details = if kind == "license.validation.succeeded" {
        json!({"edition": "PRO", "expires_at": "2027-06-30"})
    } else {
        json!({"error": "license server unreachable"})
    };
    Parts::new(draw.system(), None, details)
}

fn task(draw: &mut Draw, c: Common, kind: &'static str, _at: DateTime<Utc>) -> Parts {
    let task = draw.pick(TASKS);
    let details = if kind == "task.run.completed" {
        json!({"task": task, "duration_seconds": c.secs})
    } else {
        json!({"task": task, "error": c.error})
    };
    Parts::new(draw.system(), Some(Resource { kind: "task".into(), id: task.into(), name: Some(task.into()) }), details)
}

fn purge(draw: &mut Draw, c: Common, _kind: &'static str, at: DateTime<Utc>) -> Parts {
    let cutoff = (at - Duration::days(90)).date_naive().to_string();
    Parts::new(draw.system(), None, json!({"retention_days": 90, "deleted_count": c.n, "cutoff": cutoff}))
}
