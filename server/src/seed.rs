//! Realistic demo data: every catalogued event type, with plausible users, service
//! principals, vaults, secrets, apps and subscriptions. The same seed and end time give
//! the same events.

use crate::config::SeedArgs;
use app::catalogue::{lookup, render_template, CATALOGUE};
use app::entry::{Actor, ActorType, Resource};
use app::ingest::ValidEntry;
use app::store::{AuditStore, StoreError};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

const BATCH: usize = 1000;

const USERS: &[&str] = &[
    "admin@contoso.com",
    "alice.nguyen@contoso.com",
    "bob.schmidt@contoso.com",
    "carla.rossi@contoso.com",
    "dev.patel@contoso.com",
    "erin.okafor@contoso.com",
    "farid.haddad@contoso.com",
    "grace.lindqvist@contoso.com",
    "hiro.tanaka@contoso.com",
    "ines.moreau@contoso.com",
    "jamal.carter@contoso.com",
    "kasia.nowak@contoso.com",
    "auditor@contoso.com",
    "secops@contoso.com",
];
const VAULTS: &[&str] = &[
    "kv-prod-eastus-01",
    "kv-prod-westeurope-01",
    "kv-prod-payments",
    "kv-staging-eastus",
    "kv-dev-shared",
    "kv-identity-core",
    "kv-data-platform",
    "kv-edge-certs",
    "aws-sm-us-east-1",
    "gcp-sm-europe-west1",
];
const SECRETS: &[&str] = &[
    "sql-connection-string",
    "stripe-api-key",
    "sendgrid-api-key",
    "storage-account-key",
    "cosmos-primary-key",
    "tls-wildcard-contoso-com",
    "oauth-client-secret",
    "redis-password",
    "github-app-private-key",
    "jwt-signing-key",
    "servicebus-sas",
    "datadog-api-key",
];
const APPS: &[&str] =
    &["payments-api", "customer-portal", "identity-service", "data-pipeline", "billing-worker", "mobile-backend"];
const SUBSCRIPTIONS: &[&str] = &[
    "3f2b8c1e-5d4a-4b9e-8f1c-2a6d7e9b0c11",
    "8a1d2e3f-4b5c-4d6e-9f70-81a2b3c4d5e6",
    "c0ffee00-1234-4abc-8def-0123456789ab",
    "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
];
const SETTINGS: &[&str] =
    &["audit_retention_days", "rotation_window_days", "scan_schedule", "alert_email", "session_timeout_minutes"];
const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];
const TASKS: &[&str] = &["nightly-discovery", "expiry-report", "retention-purge", "license-check", "siem-delivery"];
const ERRORS: &[&str] = &[
    "403 Forbidden: the identity lacks get/list permission",
    "timeout after 30s contacting the vault endpoint",
    "429 Too Many Requests: throttled by the provider",
    "certificate chain validation failed",
];

/// How often each event type occurs, relative to the others.
fn weight(event_type: &str) -> u32 {
    match event_type {
        "auth.login.success" | "auth.logout" => 20,
        "auth.login.failed" => 6,
        "discovery.scan.started" | "discovery.scan.completed" | "rotation.started" | "rotation.completed" => 8,
        "sync.started" | "sync.completed" | "task.run.completed" => 6,
        "discovery.vault.error" => 3,
        "license.validation.succeeded" => 2,
        // Recorded by the export itself, never invented.
        "audit.exported" => 0,
        _ => 1,
    }
}

/// Generates `count` events spread over `days` days ending at `until`, oldest first.
pub struct Generator {
    rng: StdRng,
    table: Vec<(&'static str, u32)>,
    total_weight: u32,
    start: DateTime<Utc>,
    step_micros: f64,
    produced: u64,
    count: u64,
}

impl Generator {
    pub fn new(count: u64, days: u32, seed: u64, until: DateTime<Utc>) -> Self {
        let table: Vec<(&'static str, u32)> = CATALOGUE.iter().map(|s| (s.name, weight(s.name))).collect();
        let total_weight = table.iter().map(|(_, w)| w).sum();
        let span = Duration::days(i64::from(days.max(1)));
        let step_micros = span.num_microseconds().unwrap_or(i64::MAX) as f64 / count.max(1) as f64;
        Self {
            rng: StdRng::seed_from_u64(seed),
            table,
            total_weight,
            start: until - span,
            step_micros,
            produced: 0,
            count,
        }
    }

    fn pick_type(&mut self) -> &'static str {
        let mut roll = self.rng.gen_range(0..self.total_weight);
        for (name, w) in &self.table {
            if roll < *w {
                return name;
            }
            roll -= w;
        }
        self.table[0].0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.rng).unwrap_or(&items[0])
    }

    fn user(&mut self) -> Actor {
        let i = self.rng.gen_range(0..USERS.len());
        Actor { kind: ActorType::User, id: format!("user-{}", 100 + i), name: USERS[i].to_owned() }
    }

    fn service(&mut self, name: &str) -> Actor {
        Actor { kind: ActorType::Service, id: format!("sp-{name}"), name: name.to_owned() }
    }

    fn system() -> Actor {
        Actor { kind: ActorType::System, id: "system".to_owned(), name: "system".to_owned() }
    }

    fn ip(&mut self) -> String {
        format!("10.{}.{}.{}", self.rng.gen_range(0..4), self.rng.gen_range(0..255), self.rng.gen_range(1..255))
    }

    fn entry(&mut self, timestamp: DateTime<Utc>) -> ValidEntry {
        let event_type = self.pick_type();
        let user = self.user();
        let vault = self.pick(VAULTS);
        let secret = self.pick(SECRETS);
        let app_name = self.pick(APPS);
        let subscription = self.pick(SUBSCRIPTIONS);
        let error = self.pick(ERRORS);
        let n = self.rng.gen_range(1..400u32);
        let secs = self.rng.gen_range(3..900u32);
        let mut ip = None;
        let mut ua = None;
        let (actor, resource, details): (Actor, Option<Resource>, Value) = match event_type {
            "auth.login.success" | "auth.login.failed" | "auth.logout" | "auth.account.locked" => {
                ip = Some(self.ip());
                ua = Some(self.pick(BROWSERS).to_owned());
                let details = match event_type {
                    "auth.login.failed" => {
                        json!({"username": user.name, "reason": self.pick(&["invalid password", "unknown user", "account locked"])})
                    }
                    "auth.account.locked" => json!({"username": user.name, "attempts": 5}),
                    _ => json!({"username": user.name}),
                };
                let resource = Resource { kind: "user".into(), id: user.id.clone(), name: Some(user.name.clone()) };
                let actor = if event_type == "auth.account.locked" { Self::system() } else { user.clone() };
                (actor, Some(resource), details)
            }
            "user.created" | "user.updated" | "user.deleted" => {
                let target = self.user();
                let details = match event_type {
                    "user.created" => {
                        json!({"username": target.name, "role": self.pick(&["admin", "auditor", "operator"]), "created_by": user.name})
                    }
                    "user.updated" => {
                        json!({"changed_fields": ["role"], "modified_by": user.name, "username": target.name})
                    }
                    _ => json!({"username": target.name, "deleted_by": user.name}),
                };
                ip = Some(self.ip());
                (user, Some(Resource { kind: "user".into(), id: target.id, name: Some(target.name) }), details)
            }
            "discovery.scan.started" | "discovery.scan.completed" | "discovery.scan.failed" => {
                let scan = format!("scan-{}", self.rng.gen_range(10_000..99_999));
                let mode = self.pick(&["full", "incremental"]);
                let details = match event_type {
                    "discovery.scan.started" => {
                        json!({"mode": mode, "subscriptions": [subscription], "initiated_by": user.name})
                    }
                    "discovery.scan.completed" => {
                        json!({"mode": mode, "duration_seconds": secs, "vaults_scanned": n % 40 + 1, "secrets_found": n * 3})
                    }
                    _ => json!({"error": error, "affected_vaults": [vault]}),
                };
                let actor = if self.rng.gen_bool(0.7) { self.service("discovery-agent") } else { user };
                (actor, Some(Resource { kind: "scan".into(), id: scan, name: Some(format!("{mode} scan")) }), details)
            }
            "discovery.vault.error" => (
                self.service("discovery-agent"),
                Some(Resource { kind: "vault".into(), id: format!("vault-{vault}"), name: Some(vault.into()) }),
                json!({"vault_name": vault, "error": error}),
            ),
            "rotation.started" | "rotation.completed" | "rotation.failed" => {
                let details = match event_type {
                    "rotation.started" => {
                        json!({"app_name": app_name, "secret_name": secret, "initiated_by": "rotation-worker"})
                    }
                    "rotation.completed" => {
                        json!({"app_name": app_name, "secret_name": secret, "new_expiry": (timestamp + Duration::days(90)).date_naive().to_string(), "updated_vaults": [vault]})
                    }
                    _ => {
                        json!({"app_name": app_name, "secret_name": secret, "error": error, "rollback_status": self.pick(&["succeeded", "not needed", "failed"])})
                    }
                };
                (
                    self.service("rotation-worker"),
                    Some(Resource {
                        kind: "secret".into(),
                        id: format!("{vault}/{secret}"),
                        name: Some(secret.into()),
                    }),
                    details,
                )
            }
            "sync.started" | "sync.completed" | "sync.failed" => {
                let target = self.pick(VAULTS);
                let details = match event_type {
                    "sync.started" => json!({"source": vault, "target": target, "secret_count": n}),
                    "sync.completed" => {
                        json!({"source": vault, "target": target, "synced_count": n, "duration_seconds": secs})
                    }
                    _ => {
                        json!({"source": vault, "target": target, "error": error, "failed_secrets": [secret]})
                    }
                };
                (
                    self.service("sync-worker"),
                    Some(Resource {
                        kind: "sync".into(),
                        id: format!("sync-{vault}-{target}"),
                        name: Some(format!("{vault} → {target}")),
                    }),
                    details,
                )
            }
            "settings.updated" => {
                let setting = self.pick(SETTINGS);
                ip = Some(self.ip());
                (
                    user.clone(),
                    Some(Resource { kind: "setting".into(), id: setting.into(), name: Some(setting.into()) }),
                    json!({"setting": setting, "old_value": 90, "new_value": 180, "modified_by": user.name}),
                )
            }
            "subscription.added" | "subscription.removed" => {
                let by = if event_type == "subscription.added" { "added_by" } else { "removed_by" };
                let mut d = Map::new();
                d.insert("subscription_id".into(), json!(subscription));
                d.insert(by.into(), json!(user.name));
                (
                    user,
                    Some(Resource {
                        kind: "subscription".into(),
                        id: subscription.into(),
                        name: Some(format!("Contoso {}", &subscription[..8])),
                    }),
                    Value::Object(d),
                )
            }
            "alert.rule.created" | "alert.rule.updated" | "alert.rule.deleted" => {
                let rule = format!("rule-{}", n);
                let details = match event_type {
                    "alert.rule.created" => {
                        json!({"rule": {"id": rule, "condition": "expires_in_days < 14", "channel": "email"}, "created_by": user.name})
                    }
                    "alert.rule.updated" => {
                        json!({"rule_id": rule, "changed_fields": ["condition"], "modified_by": user.name})
                    }
                    _ => json!({"rule_id": rule, "deleted_by": user.name}),
                };
                (
                    user,
                    Some(Resource {
                        kind: "alert_rule".into(),
                        id: rule.clone(),
                        name: Some(format!("Expiry alert {n}")),
                    }),
                    details,
                )
            }
            "license.validation.succeeded" => {
                (Self::system(), None, json!({"edition": "PRO", "expires_at": "2027-06-30"}))
            }
            "license.validation.failed" => (Self::system(), None, json!({"error": "license server unreachable"})),
            "task.run.completed" | "task.run.failed" => {
                let task = self.pick(TASKS);
                let details = if event_type == "task.run.completed" {
                    json!({"task": task, "duration_seconds": secs})
                } else {
                    json!({"task": task, "error": error})
                };
                (
                    Self::system(),
                    Some(Resource { kind: "task".into(), id: task.into(), name: Some(task.into()) }),
                    details,
                )
            }
            _ => (
                Self::system(),
                None,
                json!({"retention_days": 90, "deleted_count": n, "cutoff": (timestamp - Duration::days(90)).date_naive().to_string()}),
            ),
        };
        let details = match details {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let spec = lookup(event_type);
        ValidEntry {
            timestamp,
            event_type: event_type.to_owned(),
            actor,
            resource,
            description: spec.map(|s| render_template(s.template, &details)).unwrap_or_default(),
            details,
            severity: spec.map(|s| s.severity).unwrap_or(app::entry::Severity::Info),
            ip_address: ip,
            user_agent: ua,
        }
    }
}

impl Iterator for Generator {
    type Item = ValidEntry;

    fn next(&mut self) -> Option<ValidEntry> {
        if self.produced >= self.count {
            return None;
        }
        let jitter = self.rng.gen_range(0.0..self.step_micros.max(1.0));
        let offset = (self.produced as f64 * self.step_micros + jitter) as i64;
        self.produced += 1;
        let timestamp = self.start + Duration::microseconds(offset);
        Some(self.entry(timestamp))
    }
}

/// Appends generated events in batches; returns how many were added.
pub async fn seed_store(store: &dyn AuditStore, args: &SeedArgs, until: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut generator = Generator::new(args.events, args.days, args.seed, until);
    let mut added = 0;
    loop {
        let batch: Vec<ValidEntry> = generator.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(added);
        }
        store.append(&batch).await?;
        added += batch.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::ingest::NewEntry;
    use std::collections::HashSet;

    fn until() -> DateTime<Utc> {
        "2025-06-01T00:00:00Z".parse().expect("time")
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let a: Vec<ValidEntry> = Generator::new(200, 7, 42, until()).collect();
        let b: Vec<ValidEntry> = Generator::new(200, 7, 42, until()).collect();
        let c: Vec<ValidEntry> = Generator::new(200, 7, 43, until()).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn covers_every_event_type_within_the_period_in_order() {
        let events: Vec<ValidEntry> = Generator::new(20_000, 30, 1, until()).collect();
        assert_eq!(events.len(), 20_000);
        let types: HashSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        for spec in CATALOGUE.iter().filter(|s| weight(s.name) > 0) {
            assert!(types.contains(spec.name), "{} never generated", spec.name);
        }
        // Exports are recorded by the export itself, never made up.
        assert!(!types.contains("audit.exported"));
        let start = until() - Duration::days(30);
        assert!(events.iter().all(|e| e.timestamp >= start && e.timestamp <= until()));
        assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    }

    #[test]
    fn generated_events_pass_ingest_validation() {
        for e in Generator::new(3_000, 10, 5, until()) {
            let posted: NewEntry = serde_json::from_value(json!({
                "timestamp": e.timestamp.to_rfc3339(),
                "event_type": e.event_type,
                "actor": e.actor,
                "resource": e.resource,
                "details": e.details,
                "severity": e.severity,
                "ip_address": e.ip_address,
                "user_agent": e.user_agent,
            }))
            .expect("deserializes");
            let valid = posted.validate(until()).unwrap_or_else(|err| panic!("{}: {err:?}", e.event_type));
            assert_eq!(valid.description, e.description);
        }
    }
}
