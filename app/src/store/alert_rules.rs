//! Alert rules as stored, and the cursors of jobs that follow the log (the alert
//! evaluator's), the same on both engines ([`alert_store!`]). What a rule accepts is
//! `alert_rules.rs` at the crate root.

use super::StoreError;
use crate::alert_rules::{AlertRule, RuleConfig};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What an update did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleUpdated {
    Done(Box<AlertRule>),
    /// Another rule has that name (ignoring case); nothing changed.
    NameTaken,
    /// Gone, or changed meanwhile; nothing changed.
    Changed,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Every rule, by name.
    async fn rules(&self) -> Result<Vec<AlertRule>, StoreError>;
    async fn rule(&self, id: i64) -> Result<Option<AlertRule>, StoreError>;
    /// Adds one; `None` when the name is taken ignoring case.
    async fn create_rule(
        &self,
        name: &str,
        config: &RuleConfig,
        now: DateTime<Utc>,
        by: &str,
    ) -> Result<Option<AlertRule>, StoreError>;
    /// Sets the name and settings of `id` if it is still at `version`.
    async fn update_rule(
        &self,
        id: i64,
        version: i64,
        name: &str,
        config: &RuleConfig,
        now: DateTime<Utc>,
        by: &str,
    ) -> Result<RuleUpdated, StoreError>;
    /// Removes one (never the built-in one): what it was.
    async fn delete_rule(&self, id: i64) -> Result<Option<AlertRule>, StoreError>;
    /// Puts back one removed, with its id; `false` when its name was taken meanwhile.
    async fn restore_rule(&self, rule: &AlertRule) -> Result<bool, StoreError>;
    /// Where the job `name` stands in the log.
    async fn job_cursor(&self, name: &str) -> Result<Option<u64>, StoreError>;
    /// Moves the job's cursor from `from` (none: it has none yet) to `to`; whether it did.
    async fn move_job_cursor(&self, name: &str, from: Option<u64>, to: u64) -> Result<bool, StoreError>;
}

pub(super) type RuleRow = (i64, String, String, i64, i64, i64, String, i64, String);

pub(super) const COLUMNS: &str = "id, name, config, builtin, version, created_at, created_by, updated_at, updated_by";

pub(super) fn rule(row: RuleRow) -> Result<AlertRule, StoreError> {
    let (id, name, config, builtin, version, created_at, created_by, updated_at, updated_by) = row;
    let bad = |what: &str| StoreError::backend(format!("alert rule {id}: {what}"));
    Ok(AlertRule {
        id,
        name,
        config: serde_json::from_str(&config).map_err(|e| bad(&format!("settings: {e}")))?,
        builtin: builtin != 0,
        version,
        created_at: DateTime::from_timestamp_micros(created_at).ok_or_else(|| bad("creation time"))?,
        created_by,
        updated_at: DateTime::from_timestamp_micros(updated_at).ok_or_else(|| bad("change time"))?,
        updated_by,
    })
}

pub(super) fn config_text(config: &RuleConfig) -> Result<String, StoreError> {
    serde_json::to_string(config).map_err(|e| StoreError::backend(format!("alert rule settings: {e}")))
}

/// `AlertStore` for an engine (`$store` with its sqlx pool `pool`).
macro_rules! alert_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::alert_rules::AlertStore for $store {
            async fn rules(&self) -> Result<Vec<$crate::alert_rules::AlertRule>, $crate::store::StoreError> {
                use $crate::store::alert_rules as a;
                let rows: Vec<a::RuleRow> =
                    sqlx::query_as(&format!("SELECT {} FROM alert_rules ORDER BY name_key, id", a::COLUMNS))
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(a::rule).collect()
            }

            async fn rule(&self, id: i64) -> Result<Option<$crate::alert_rules::AlertRule>, $crate::store::StoreError> {
                use $crate::store::alert_rules as a;
                let row: Option<a::RuleRow> =
                    sqlx::query_as(&format!("SELECT {} FROM alert_rules WHERE id = $1", a::COLUMNS))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(a::rule).transpose()
            }

            async fn create_rule(
                &self,
                name: &str,
                config: &$crate::alert_rules::RuleConfig,
                now: chrono::DateTime<chrono::Utc>,
                by: &str,
            ) -> Result<Option<$crate::alert_rules::AlertRule>, $crate::store::StoreError> {
                use $crate::store::alert_rules as a;
                let row: Option<a::RuleRow> = sqlx::query_as(&format!(
                    "INSERT INTO alert_rules (name, name_key, config, builtin, version, created_at, created_by, \
                     updated_at, updated_by) VALUES ($1, $2, $3, 0, 1, $4, $5, $4, $5) \
                     ON CONFLICT (name_key) DO NOTHING RETURNING {}",
                    a::COLUMNS
                ))
                .bind(name)
                .bind(name.to_lowercase())
                .bind(a::config_text(config)?)
                .bind(now.timestamp_micros())
                .bind(by)
                .fetch_optional(&self.pool)
                .await?;
                row.map(a::rule).transpose()
            }

            async fn update_rule(
                &self,
                id: i64,
                version: i64,
                name: &str,
                config: &$crate::alert_rules::RuleConfig,
                now: chrono::DateTime<chrono::Utc>,
                by: &str,
            ) -> Result<$crate::store::alert_rules::RuleUpdated, $crate::store::StoreError> {
                use $crate::store::alert_rules as a;
                let row: Result<Option<a::RuleRow>, sqlx::Error> = sqlx::query_as(&format!(
                    "UPDATE alert_rules SET name = $3, name_key = $4, config = $5, version = version + 1, \
                     updated_at = $6, updated_by = $7 WHERE id = $1 AND version = $2 RETURNING {}",
                    a::COLUMNS
                ))
                .bind(id)
                .bind(version)
                .bind(name)
                .bind(name.to_lowercase())
                .bind(a::config_text(config)?)
                .bind(now.timestamp_micros())
                .bind(by)
                .fetch_optional(&self.pool)
                .await;
                match row {
                    Ok(Some(row)) => Ok(a::RuleUpdated::Done(Box::new(a::rule(row)?))),
                    Ok(None) => Ok(a::RuleUpdated::Changed),
                    Err(e) if $crate::store::destinations::is_unique_violation(&e) => Ok(a::RuleUpdated::NameTaken),
                    Err(e) => Err(e.into()),
                }
            }

            async fn delete_rule(
                &self,
                id: i64,
            ) -> Result<Option<$crate::alert_rules::AlertRule>, $crate::store::StoreError> {
                use $crate::store::alert_rules as a;
                let row: Option<a::RuleRow> = sqlx::query_as(&format!(
                    "DELETE FROM alert_rules WHERE id = $1 AND builtin = 0 RETURNING {}",
                    a::COLUMNS
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(a::rule).transpose()
            }

            async fn restore_rule(
                &self,
                rule: &$crate::alert_rules::AlertRule,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::alert_rules as a;
                let done = sqlx::query(
                    "INSERT INTO alert_rules (id, name, name_key, config, builtin, version, created_at, created_by, \
                     updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(rule.id)
                .bind(&rule.name)
                .bind(rule.name.to_lowercase())
                .bind(a::config_text(&rule.config)?)
                .bind(i64::from(rule.builtin))
                .bind(rule.version)
                .bind(rule.created_at.timestamp_micros())
                .bind(&rule.created_by)
                .bind(rule.updated_at.timestamp_micros())
                .bind(&rule.updated_by)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn job_cursor(&self, name: &str) -> Result<Option<u64>, $crate::store::StoreError> {
                let cursor: Option<i64> = sqlx::query_scalar("SELECT cursor FROM job_cursors WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(cursor.map($crate::store::rows::seq_u64))
            }

            async fn move_job_cursor(
                &self,
                name: &str,
                from: Option<u64>,
                to: u64,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::destinations::seq_i64;
                let done = match from {
                    None => sqlx::query(
                        "INSERT INTO job_cursors (name, cursor) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(name)
                    .bind(seq_i64(to))
                    .execute(&self.pool)
                    .await?,
                    Some(from) => sqlx::query("UPDATE job_cursors SET cursor = $3 WHERE name = $1 AND cursor = $2")
                        .bind(name)
                        .bind(seq_i64(from))
                        .bind(seq_i64(to))
                        .execute(&self.pool)
                        .await?,
                };
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use alert_store;
