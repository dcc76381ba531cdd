//! Alert rules (Settings > Alerts and `/admin/alert-rules`): which entries raise an alert
//! (event-type patterns, a minimum severity, optionally an actor or a resource), how many
//! within how long (a threshold, counted apart for each value of a field such as the
//! username), how long to stay quiet after one (cooldown), and the destinations told. What a
//! rule accepts is shared with the browser; changing rules is `alert_rule_changes.rs`,
//! watching the log `alerting.rs`.

use crate::destinations::check_patterns;
use crate::entry::{AuditEntry, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// N matching entries within a window, counted apart for each value of `group_by`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Threshold {
    pub count: u32,
    pub window_seconds: u32,
    /// `actor` (its id), `actor.name`, `ip_address`, `resource` (its id) or
    /// `details.<key>` (such as `details.username`); none counts every match together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
}

/// A rule's settings as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RuleConfig {
    /// Event-type patterns: exact types, prefixes (`auth.*`), or `audit.*` for every event.
    pub event_types: Vec<String>,
    pub min_severity: Severity,
    /// Only entries by this actor (id or name, ignoring case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only entries about this resource (id or name, ignoring case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// None: every matching entry alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
    /// Quiet this long after an alert (for the same group); a threshold rule stays quiet
    /// at least for its window (see [`RuleConfig::quiet_seconds`]).
    pub cooldown_seconds: u32,
    /// The destinations told (their ids), besides any whose own filter takes
    /// `alert.triggered`.
    pub destinations: Vec<i64>,
    pub enabled: bool,
}

/// A rule as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRule {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub config: RuleConfig,
    /// The rule the product comes with (failed sign-ins): it may be changed or disabled,
    /// not deleted.
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub version: i64,
}

/// A rule to add, as given (or, with every field optional, a change to one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleFields {
    /// 1 to 100 characters, unique ignoring case (required to add one).
    #[serde(default)]
    pub name: Option<String>,
    /// Event-type patterns (required to add one).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `info` (default), `warning` or `error`.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// An actor's id or name; `""` clears it.
    #[serde(default)]
    pub actor: Option<String>,
    /// A resource's id or name; `""` clears it.
    #[serde(default)]
    pub resource: Option<String>,
    /// How many matches raise an alert (1 to 10,000); with `window_seconds`. `0` clears the
    /// threshold: every match alerts.
    #[serde(default)]
    pub threshold: Option<u32>,
    /// Within how long (60 to 86,400 seconds).
    #[serde(default)]
    pub window_seconds: Option<u32>,
    /// `actor`, `actor.name`, `ip_address`, `resource` or `details.<key>`; `""` clears it.
    #[serde(default)]
    pub group_by: Option<String>,
    /// 0 to 86,400 seconds (default 600).
    #[serde(default)]
    pub cooldown_seconds: Option<u32>,
    /// Destination ids (default none).
    #[serde(default)]
    pub destinations: Option<Vec<i64>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Why a rule or a change was refused; the message is what the client sees.
#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("an alert rule named '{0}' already exists")]
    Duplicate(String),
    #[error("no alert rule {0}")]
    NotFound(String),
    #[error("the built-in rule '{0}' cannot be deleted: disable it instead")]
    Builtin(String),
}

impl RuleError {
    pub fn field(&self) -> Option<&str> {
        match self {
            RuleError::Invalid { field, .. } => Some(field),
            RuleError::Duplicate(_) => Some("name"),
            _ => None,
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid { field: field.to_owned(), message: message.into() }
}

pub const DEFAULT_COOLDOWN: u32 = 600;
const MAX_SECONDS: u32 = 86_400;

fn check_group_by(value: &str) -> Result<Option<String>, RuleError> {
    let value = value.trim();
    let ok = matches!(value, "actor" | "actor.name" | "ip_address" | "resource")
        || value.strip_prefix("details.").is_some_and(|key| {
            !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    match (value.is_empty(), ok) {
        (true, _) => Ok(None),
        (false, true) => Ok(Some(value.to_owned())),
        (false, false) => Err(invalid("group_by", "use actor, actor.name, ip_address, resource or details.<key>")),
    }
}

fn check_text(field: &str, value: &str) -> Result<Option<String>, RuleError> {
    let value = value.trim();
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(invalid(field, "at most 200 characters, no control characters"));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

impl RuleFields {
    /// The name and settings of a new rule (`base` is `None`) or of `base` changed.
    pub fn apply(&self, base: Option<(&str, &RuleConfig)>) -> Result<(String, RuleConfig), RuleError> {
        let name = match (&self.name, base) {
            (Some(name), _) => {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
                    return Err(invalid("name", "1 to 100 characters, no control characters"));
                }
                name.to_owned()
            }
            (None, Some((name, _))) => name.to_owned(),
            (None, None) => return Err(invalid("name", "give the rule a name")),
        };
        let mut config = match base {
            Some((_, config)) => config.clone(),
            None => RuleConfig {
                event_types: Vec::new(),
                min_severity: Severity::Info,
                actor: None,
                resource: None,
                threshold: None,
                cooldown_seconds: DEFAULT_COOLDOWN,
                destinations: Vec::new(),
                enabled: true,
            },
        };
        match (&self.event_types, base) {
            (Some(patterns), _) => {
                config.event_types =
                    check_patterns(patterns).map_err(|e| invalid("event_types", after_colon(&e.to_string())))?
            }
            (None, None) => return Err(invalid("event_types", "name the event types the rule watches")),
            (None, Some(_)) => {}
        }
        if let Some(severity) = &self.min_severity {
            config.min_severity =
                severity.trim().parse().map_err(|()| invalid("min_severity", "use info, warning or error"))?;
        }
        if let Some(actor) = &self.actor {
            config.actor = check_text("actor", actor)?;
        }
        if let Some(resource) = &self.resource {
            config.resource = check_text("resource", resource)?;
        }
        if let Some(seconds) = self.cooldown_seconds {
            if seconds > MAX_SECONDS {
                return Err(invalid("cooldown_seconds", "use 0 to 86400 seconds"));
            }
            config.cooldown_seconds = seconds;
        }
        if let Some(ids) = &self.destinations {
            if ids.len() > 20 || ids.iter().any(|id| *id <= 0) {
                return Err(invalid("destinations", "use up to 20 destination ids"));
            }
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            config.destinations = ids;
        }
        if let Some(enabled) = self.enabled {
            config.enabled = enabled;
        }
        // The threshold's three fields go together.
        let mut threshold = config.threshold.clone();
        match self.threshold {
            Some(0) => threshold = None,
            Some(count) if count > 10_000 => {
                return Err(invalid("threshold", "use 1 to 10000 (0: every match alerts)"))
            }
            Some(count) => {
                let window = threshold.as_ref().map(|t| t.window_seconds);
                let group_by = threshold.as_ref().and_then(|t| t.group_by.clone());
                threshold = Some(Threshold { count, window_seconds: window.unwrap_or(0), group_by });
            }
            None => {}
        }
        match (&mut threshold, self.window_seconds, &self.group_by) {
            (Some(t), window, group_by) => {
                if let Some(window) = window {
                    t.window_seconds = window;
                }
                if let Some(group_by) = group_by {
                    t.group_by = check_group_by(group_by)?;
                }
                if !(60..=MAX_SECONDS).contains(&t.window_seconds) {
                    return Err(invalid("window_seconds", "a threshold needs a window of 60 to 86400 seconds"));
                }
            }
            (None, Some(_), _) => return Err(invalid("threshold", "a window goes with a threshold: give both")),
            (None, None, Some(g)) if !g.trim().is_empty() => {
                return Err(invalid("threshold", "group_by goes with a threshold: give both"))
            }
            (None, None, _) => {}
        }
        config.threshold = threshold;
        Ok((name, config))
    }
}

fn after_colon(message: &str) -> String {
    message.split_once(": ").map_or(message, |(_, rest)| rest).to_owned()
}

impl RuleConfig {
    /// How long the rule stays quiet for a group after alerting for it: its cooldown, and
    /// for a threshold rule at least its window, so that it fires once per window however
    /// many more matches the window holds (twelve failed sign-ins in ten minutes are one
    /// alert, not two).
    pub fn quiet_seconds(&self) -> u32 {
        self.cooldown_seconds.max(self.threshold.as_ref().map_or(0, |t| t.window_seconds))
    }

    /// Whether an entry is one the rule watches (never an alert itself).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        if !self.enabled || entry.event_type == "alert.triggered" || entry.severity < self.min_severity {
            return false;
        }
        let typed = match crate::destinations::pattern_matches(&self.event_types) {
            None => true,
            Some(types) => types.iter().any(|m| m.matches(&entry.event_type)),
        };
        let actor = self
            .actor
            .as_deref()
            .is_none_or(|who| entry.actor.id.eq_ignore_ascii_case(who) || entry.actor.name.eq_ignore_ascii_case(who));
        let resource = self.resource.as_deref().is_none_or(|what| {
            entry.resource.as_ref().is_some_and(|r| {
                r.id.eq_ignore_ascii_case(what) || r.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(what))
            })
        });
        typed && actor && resource
    }

    /// The group an entry counts in (`""` without grouping, or when it lacks the field).
    pub fn group_of(&self, entry: &AuditEntry) -> String {
        let Some(field) = self.threshold.as_ref().and_then(|t| t.group_by.as_deref()) else { return String::new() };
        match field {
            "actor" => entry.actor.id.clone(),
            "actor.name" => entry.actor.name.clone(),
            "ip_address" => entry.ip_address.clone().unwrap_or_default(),
            "resource" => entry.resource.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
            other => other
                .strip_prefix("details.")
                .and_then(|key| entry.details.get(key))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: serde_json::Value) -> RuleFields {
        serde_json::from_value(json).expect("fields")
    }

    #[test]
    fn a_rule_takes_its_defaults_and_a_threshold_goes_with_its_window() {
        let (name, config) =
            fields(serde_json::json!({"name": " Failed sign-ins ", "event_types": ["auth.login.failed"],
            "threshold": 5, "window_seconds": 600, "group_by": "details.username"}))
            .apply(None)
            .expect("valid");
        assert_eq!(name, "Failed sign-ins");
        assert_eq!(config.cooldown_seconds, 600);
        assert_eq!(
            config.threshold,
            Some(Threshold { count: 5, window_seconds: 600, group_by: Some("details.username".into()) })
        );
        let (_, cleared) = fields(serde_json::json!({"threshold": 0})).apply(Some((&name, &config))).expect("valid");
        assert_eq!(cleared.threshold, None);
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        for (json, field) in [
            (serde_json::json!({"event_types": ["auth.*"]}), "name"),
            (serde_json::json!({"name": "x"}), "event_types"),
            (serde_json::json!({"name": "x", "event_types": ["Auth"]}), "event_types"),
            (serde_json::json!({"name": "x", "event_types": ["auth.*"], "min_severity": "fatal"}), "min_severity"),
            (serde_json::json!({"name": "x", "event_types": ["auth.*"], "threshold": 5}), "window_seconds"),
            (serde_json::json!({"name": "x", "event_types": ["auth.*"], "window_seconds": 600}), "threshold"),
            (
                serde_json::json!({"name": "x", "event_types": ["auth.*"], "threshold": 5, "window_seconds": 10}),
                "window_seconds",
            ),
            (
                serde_json::json!({"name": "x", "event_types": ["auth.*"], "threshold": 2, "window_seconds": 60, "group_by": "details.a b"}),
                "group_by",
            ),
            (
                serde_json::json!({"name": "x", "event_types": ["auth.*"], "cooldown_seconds": 100000}),
                "cooldown_seconds",
            ),
            (serde_json::json!({"name": "x", "event_types": ["auth.*"], "destinations": [0]}), "destinations"),
        ] {
            let refused = fields(json.clone()).apply(None).expect_err("refused");
            assert_eq!(refused.field(), Some(field), "{json}: {refused}");
        }
    }
}
