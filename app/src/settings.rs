//! The product's settings: what each one means, its bounds and its default, and changing
//! one. A change is recorded as `settings.updated` with the setting's name, its old and new
//! value and who modified it; a value that does not change records nothing. A change that
//! cannot be recorded is undone. The pages, the REST API and the `settings` command all
//! change settings through [`change`]. What a setting accepts is shared with the browser,
//! so the settings page refuses a bad value before sending it, with the server's message.

#[cfg(feature = "ssr")]
use crate::entry::{entry_id, Actor};
#[cfg(feature = "ssr")]
use crate::internal_event::{EventError, InternalEvent};
#[cfg(feature = "ssr")]
use crate::store::{Store, StoreError};
#[cfg(feature = "ssr")]
use chrono::{DateTime, Utc};
use serde_json::Value;
use thiserror::Error;

/// How many days of entries are kept; older ones go at the next purge.
pub const RETENTION_DAYS: &str = "audit_retention_days";

/// A setting the product knows: a whole number within bounds.
#[derive(Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// As the settings page labels it.
    pub label: &'static str,
    pub default: i64,
    pub min: i64,
    pub max: i64,
    /// The unit of the number, in words.
    pub unit: &'static str,
}

pub static SETTINGS: &[Setting] = &[Setting {
    name: RETENTION_DAYS,
    label: "Audit log retention (days)",
    default: 90,
    min: 30,
    max: 365,
    unit: "days",
}];

#[derive(Debug, Error)]
pub enum SettingError {
    #[error("unknown setting '{0}': the settings are {names}", names = names())]
    Unknown(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[cfg(feature = "ssr")]
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change could not be recorded, and so was undone.
    #[error("the change was not made: it could not be recorded in the audit log: {0}")]
    Undone(String),
    /// The change was made but could not be recorded, nor undone.
    #[error("the change was made but could not be recorded in the audit log: {0}")]
    Unrecorded(String),
}

fn names() -> String {
    SETTINGS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// The setting called `name`.
pub fn setting(name: &str) -> Result<&'static Setting, SettingError> {
    SETTINGS.iter().find(|s| s.name == name).ok_or_else(|| SettingError::Unknown(name.to_owned()))
}

impl Setting {
    /// A value as given: a whole number within the bounds, as a JSON number or as text
    /// (the command line's). Anything else is refused with a message naming the setting.
    pub fn parse(&self, value: &Value) -> Result<i64, SettingError> {
        let refused = || SettingError::Invalid {
            field: self.name.to_owned(),
            message: format!("must be a whole number of {} from {} to {}", self.unit, self.min, self.max),
        };
        let n = match value {
            // 90.0 is a whole number too; 90.5 is not.
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
                .ok_or_else(refused)?,
            Value::String(text) => text.trim().parse::<i64>().map_err(|_| refused())?,
            _ => return Err(refused()),
        };
        if !(self.min..=self.max).contains(&n) {
            return Err(refused());
        }
        Ok(n)
    }
}

/// Every setting with its current value (its default unless changed).
#[cfg(feature = "ssr")]
pub async fn current(store: &Store) -> Result<Vec<(&'static Setting, i64)>, SettingError> {
    let stored = store.settings.settings().await?;
    Ok(SETTINGS
        .iter()
        .map(|setting| {
            let value = stored
                .iter()
                .find(|(name, _)| name == setting.name)
                .and_then(|(_, value)| value.parse::<i64>().ok())
                .filter(|n| (setting.min..=setting.max).contains(n))
                .unwrap_or(setting.default);
            (setting, value)
        })
        .collect())
}

/// The current value of one setting.
#[cfg(feature = "ssr")]
pub async fn value(store: &Store, name: &str) -> Result<i64, SettingError> {
    let setting = setting(name)?;
    Ok(current(store).await?.into_iter().find(|(s, _)| s.name == setting.name).map_or(setting.default, |(_, v)| v))
}

/// A change made and recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub setting: &'static str,
    pub old: i64,
    pub new: i64,
    /// The `settings.updated` entry.
    pub entry_id: String,
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
    // The value this change replaced, as the store answers it: another change may have
    // come in between, and made this one no change at all.
    let old = store
        .settings
        .put_setting(setting.name, &new.to_string(), now)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(setting.default);
    if old == new {
        return Ok(None);
    }
    let recorded = async {
        let entry = InternalEvent::new("settings.updated")
            .map_err(|e| e.to_string())?
            .actor(by.clone())
            .detail("setting", setting.name)
            .detail("old_value", old)
            .detail("new_value", new)
            .detail("modified_by", by.name.clone())
            .build(now)
            .map_err(|e: EventError| e.to_string())?;
        store.log.append(vec![entry]).await.map_err(|e| e.to_string())
    }
    .await;
    match recorded {
        Ok(receipt) => Ok(Some(Change {
            setting: setting.name,
            old,
            new,
            entry_id: entry_id(receipt.sequences.first().copied().unwrap_or(0)),
        })),
        // Unrecorded, it is undone (no change without its entry), unless another change
        // came after it: that one is not overwritten.
        Err(why) => match store.settings.restore_setting(setting.name, &new.to_string(), &old.to_string(), now).await {
            Ok(true) => Err(SettingError::Undone(why)),
            Ok(false) => Err(SettingError::Unrecorded(format!("{why}; another change came after it"))),
            Err(e) => Err(SettingError::Unrecorded(format!("{why}; it could not be undone: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
