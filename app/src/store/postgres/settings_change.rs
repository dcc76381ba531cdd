//! A change to the settings tables, made inside the transaction of the entry that records
//! it (see [`crate::store::SettingsStore::change`]).

use crate::store::settings_store::{
    subscription, SettingsChange, SettingsChanged, SubscriptionRow, ADD_SUBSCRIPTION, PUT_SETTING, REMOVE_SUBSCRIPTION,
};
use crate::store::StoreError;
use sqlx::PgConnection;

pub async fn apply(conn: &mut PgConnection, change: &SettingsChange) -> Result<SettingsChanged, StoreError> {
    Ok(match change {
        SettingsChange::Put { name, value, now } => {
            let previous = sqlx::query_scalar(PUT_SETTING)
                .bind(name)
                .bind(value)
                .bind(now.timestamp_micros())
                .fetch_one(&mut *conn)
                .await?;
            SettingsChanged::Put { previous }
        }
        SettingsChange::AddSubscription(s) => {
            let added = sqlx::query(ADD_SUBSCRIPTION)
                .bind(&s.subscription_id)
                .bind(&s.display_name)
                .bind(s.cloud.as_str())
                .bind(s.added_at.timestamp_micros())
                .bind(&s.added_by)
                .execute(&mut *conn)
                .await?;
            SettingsChanged::Added(added.rows_affected() == 1)
        }
        SettingsChange::RemoveSubscription(id) => {
            let row: Option<SubscriptionRow> =
                sqlx::query_as(REMOVE_SUBSCRIPTION).bind(id).fetch_optional(&mut *conn).await?;
            SettingsChanged::Removed(row.map(subscription).transpose()?)
        }
    })
}
