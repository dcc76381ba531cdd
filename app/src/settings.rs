//! The product's settings: what each one means, its bounds and its default, and changing
//! one. A change is recorded as `settings.updated` with the setting's name, its old and new
//! value and who modified it; a value that does not change records nothing. A change and
//! its entry are stored in one transaction: neither is ever without the other. The pages, the REST API and the `settings` command all
//! change settings through [`change`]. What a setting accepts is shared with the browser,
//! so the settings page refuses a bad value before sending it, with the server's message.

#[cfg(feature = "ssr")]
use crate::entry::{entry_id, Actor};
#[cfg(feature = "ssr")]
use crate::internal_event::{EventError, InternalEvent};
#[cfg(feature = "ssr")]
use crate::store::{RecordChange, SettingsChange, SettingsChanged, Store, StoreError};
#[cfg(feature = "ssr")]
use chrono::{DateTime, Utc};
use serde_json::Value;
#[cfg(feature = "ssr")]
use std::sync::Arc;
use thiserror::Error;

/// How many days of entries are kept; older ones go at the next purge.
pub const RETENTION_DAYS: &str = "audit_retention_days";
/// Where the purge writes the entries it is about to delete (none: no archive).
pub const ARCHIVE_DIR: &str = "audit_archive_dir";

/// A setting the product knows.
#[derive(Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// As the settings page labels it.
    pub label: &'static str,
    pub kind: Kind,
}

/// What a setting holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number within bounds, in `unit`s.
    Whole { default: i64, min: i64, max: i64, unit: &'static str },
    /// A directory on the server, by its absolute path; none by default.
    Directory,
}

pub static SETTINGS: &[Setting] = &[
    Setting {
        name: RETENTION_DAYS,
        label: "Audit log retention (days)",
        kind: Kind::Whole { default: 90, min: 30, max: 365, unit: "days" },
    },
    Setting { name: ARCHIVE_DIR, label: "Archive directory", kind: Kind::Directory },
];

/// The longest path a directory setting takes.
const MAX_PATH: usize = 4096;

#[derive(Debug, Error)]
pub enum SettingError {
    #[error("unknown setting '{0}': the settings are {names}", names = names())]
    Unknown(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[cfg(feature = "ssr")]
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn names() -> String {
    SETTINGS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The setting called `name`.
pub fn setting(name: &str) -> Result<&'static Setting, SettingError> {
    SETTINGS.iter().find(|s| s.name == name).ok_or_else(|| SettingError::Unknown(name.to_owned()))
}

impl Setting {
    /// Its value when never changed.
    pub fn default_value(&self) -> Value {
        match self.kind {
            Kind::Whole { default, .. } => Value::from(default),
            Kind::Directory => Value::Null,
        }
    }

    /// What it takes, in words: `whole days from 30 to 365, default 90`.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Whole { default, min, max, unit } => format!("whole {unit} from {min} to {max}, default {default}"),
            Kind::Directory => "an absolute path to a directory on the server, or empty for none (the default)".into(),
        }
    }

    /// A value as given: a JSON value, or text (the command line's and the forms'), as the
    /// setting holds it (a whole number; a path, or null for none). Anything else is
    /// refused with a message naming the setting.
    pub fn parse(&self, value: &Value) -> Result<Value, SettingError> {
        match self.kind {
            Kind::Whole { .. } => self.whole(value).map(Value::from),
            Kind::Directory => {
                let refused =
                    |message: &str| SettingError::Invalid { field: self.name.to_owned(), message: message.into() };
                match value {
                    Value::Null => Ok(Value::Null),
                    Value::String(text) if text.trim().is_empty() => Ok(Value::Null),
                    Value::String(text) => {
                        let path = text.trim();
                        if !path.starts_with('/') {
                            return Err(refused("must be an absolute path (starting with /), or empty for none"));
                        }
                        if path.len() > MAX_PATH || path.chars().any(char::is_control) {
                            return Err(refused(
                                "must be a path of at most 4096 characters without control characters",
                            ));
                        }
                        Ok(Value::String(path.to_owned()))
                    }
                    _ => Err(refused("must be an absolute path (starting with /), or empty for none")),
                }
            }
        }
    }

    /// A whole-number value as given, within the bounds (90.0 is a whole number too; 90.5
    /// is not).
    pub fn whole(&self, value: &Value) -> Result<i64, SettingError> {
        let Kind::Whole { min, max, unit, .. } = self.kind else {
            return Err(SettingError::Invalid { field: self.name.to_owned(), message: "is not a number".into() });
        };
        let refused = || SettingError::Invalid {
            field: self.name.to_owned(),
            message: format!("must be a whole number of {unit} from {min} to {max}"),
        };
        let n = match value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
                .ok_or_else(refused)?,
            Value::String(text) => text.trim().parse::<i64>().map_err(|_| refused())?,
            _ => return Err(refused()),
        };
        if !(min..=max).contains(&n) {
            return Err(refused());
        }
        Ok(n)
    }

    /// A value as the store keeps it (text; empty for none).
    #[cfg(any(feature = "ssr", test))]
    fn stored(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// A stored value read back; one the rules no longer take reads as the default.
    #[cfg(any(feature = "ssr", test))]
    fn read(&self, text: &str) -> Value {
        self.parse(&Value::String(text.to_owned())).unwrap_or_else(|_| self.default_value())
    }
}

/// A directory the server is to write archives to: it must exist, be a directory and take
/// a file now (a mistyped path is refused when it is set, not at the next purge).
#[cfg(feature = "ssr")]
fn check_writable(setting: &Setting, value: &Value) -> Result<(), SettingError> {
    let Value::String(path) = value else { return Ok(()) };
    let refused = |message: String| SettingError::Invalid { field: setting.name.to_owned(), message };
    let dir = std::path::Path::new(path);
    if !dir.is_dir() {
        return Err(refused(format!("{path} is not a directory on the server")));
    }
    // Archives hold the log's entries: not in a directory every user of the host may
    // write to (and so replace or remove them).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o002 != 0 {
            return Err(refused(format!(
                "{path} may be written by every user of the server: choose a directory of its own"
            )));
        }
    }
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let probe = dir.join(format!(".certifyclouds-write-check-{}-{nanos}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| refused(format!("the server cannot write to {path}: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Every setting with its current value (its default unless changed).
#[cfg(feature = "ssr")]
pub async fn current(store: &Store) -> Result<Vec<(&'static Setting, Value)>, SettingError> {
    let stored = store.settings.settings().await?;
    Ok(SETTINGS
        .iter()
        .map(|setting| {
            let value = stored
                .iter()
                .find(|(name, _)| name == setting.name)
                .map_or_else(|| setting.default_value(), |(_, text)| setting.read(text));
            (setting, value)
        })
        .collect())
}

/// The current value of one setting.
#[cfg(feature = "ssr")]
pub async fn value(store: &Store, name: &str) -> Result<Value, SettingError> {
    let setting = setting(name)?;
    let current = current(store).await?;
    Ok(current.into_iter().find(|(s, _)| s.name == setting.name).map_or_else(|| setting.default_value(), |(_, v)| v))
}

/// The retention setting, in days (always within its bounds).
#[cfg(feature = "ssr")]
pub async fn retention_days(store: &Store) -> Result<u32, SettingError> {
    let setting = setting(RETENTION_DAYS)?;
    let days = setting.whole(&value(store, RETENTION_DAYS).await?)?;
    u32::try_from(days).map_err(|e| SettingError::Invalid { field: RETENTION_DAYS.into(), message: e.to_string() })
}

/// The archive directory, if one is set. A stored value the rules refuse is an error, not
/// "none": a purge must not go ahead unarchived because the setting could not be read.
#[cfg(feature = "ssr")]
pub async fn archive_dir(store: &Store) -> Result<Option<std::path::PathBuf>, SettingError> {
    let setting = setting(ARCHIVE_DIR)?;
    let stored = store.settings.settings().await?;
    let Some((_, text)) = stored.iter().find(|(name, _)| name == ARCHIVE_DIR) else { return Ok(None) };
    Ok(setting.parse(&Value::String(text.clone()))?.as_str().map(std::path::PathBuf::from))
}

/// A change made and recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub setting: &'static str,
    pub old: Value,
    pub new: Value,
    /// The `settings.updated` entry.
    pub entry_id: String,
}

/// Every value of `changes` checked (the server's checks included) before any is made:
/// all or nothing for what is wrong with the request.
#[cfg(feature = "ssr")]
pub fn check_all<'a>(changes: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Result<(), SettingError> {
    for (name, value) in changes {
        let setting = setting(name)?;
        check_writable(setting, &setting.parse(value)?)?;
    }
    Ok(())
}

/// Sets `name` to `value` for `by`: `None` when it already had that value (nothing is
/// recorded then).
#[cfg(feature = "ssr")]
pub async fn change(
    store: &Store,
    by: Actor,
    name: &str,
    value: &Value,
    now: DateTime<Utc>,
) -> Result<Option<Change>, SettingError> {
    let setting = setting(name)?;
    let new = setting.parse(value)?;
    let before = self::value(store, name).await?;
    if before == new {
        return Ok(None);
    }
    check_writable(setting, &new)?;
    // The entry is built from the value the change replaced, as the store answers it
    // inside the change's transaction: another change may have come in between, and made
    // this one no change at all (then nothing is stored).
    let record: RecordChange = {
        let new = new.clone();
        Arc::new(move |changed: &SettingsChanged| {
            let old = replaced(setting, changed);
            if old == new {
                return Ok(None);
            }
            InternalEvent::new("settings.updated")
                .map(|event| {
                    event
                        .actor(by.clone())
                        .detail("setting", setting.name)
                        .detail("old_value", old)
                        .detail("new_value", new.clone())
                        .detail("modified_by", by.name.clone())
                })
                .and_then(|event| event.build(now))
                .map(Some)
                .map_err(|e: EventError| StoreError::backend(e.to_string()))
        })
    };
    let put = SettingsChange::Put { name: setting.name, value: Setting::stored(&new), now };
    match store.settings.change(put, record).await? {
        (changed, Some(receipt)) => Ok(Some(Change {
            setting: setting.name,
            old: replaced(setting, &changed),
            new,
            entry_id: entry_id(receipt.sequences.first().copied().unwrap_or(0)),
        })),
        (_, None) => Ok(None),
    }
}

/// The value a put replaced: its default when none was stored.
#[cfg(feature = "ssr")]
fn replaced(setting: &Setting, changed: &SettingsChanged) -> Value {
    match changed {
        SettingsChanged::Put { previous: Some(text) } => setting.read(text),
        _ => setting.default_value(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_archive_directory_is_an_absolute_path_or_none() {
        let archive = setting(ARCHIVE_DIR).expect("known");
        assert_eq!(archive.parse(&json!(" /var/archive ")).expect("ok"), json!("/var/archive"));
        for none in [json!(null), json!(""), json!("  ")] {
            assert_eq!(archive.parse(&none).expect("ok"), Value::Null, "{none}");
        }
        for refused in [json!("relative/dir"), json!(5), json!("/a\nb"), json!(format!("/{}", "a".repeat(4096)))] {
            assert!(archive.parse(&refused).is_err(), "{refused}");
        }
        assert_eq!(archive.read(""), Value::Null);
        assert_eq!(Setting::stored(&Value::Null), "");
    }

    #[test]
    fn retention_takes_whole_days_from_30_to_365() {
        let retention = setting(RETENTION_DAYS).expect("known");
        for ok in [json!(30), json!(365), json!(90), json!(90.0), json!("120"), json!(" 45 ")] {
            assert!(retention.parse(&ok).is_ok(), "{ok}");
        }
        for refused in
            [json!(29), json!(366), json!(90.5), json!("abc"), json!(""), json!(null), json!(true), json!([90])]
        {
            let e = retention.parse(&refused).expect_err("refused");
            assert_eq!(
                e.to_string(),
                "audit_retention_days: must be a whole number of days from 30 to 365",
                "{refused}"
            );
        }
        assert!(matches!(setting("retention"), Err(SettingError::Unknown(_))));
    }
}
