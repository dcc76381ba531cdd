//! A change to the settings tables, made by the writer inside the transaction of the entry
//! that records it (see [`crate::store::SettingsStore::change`]).

use crate::store::settings_store::{
    subscription, SettingsChange, SettingsChanged, SubscriptionRow, ADD_SUBSCRIPTION, PUT_SETTING, REMOVE_SUBSCRIPTION,
};
use crate::store::StoreError;
use rusqlite::{params, OptionalExtension, Transaction};

pub fn apply(tx: &Transaction<'_>, change: &SettingsChange) -> Result<SettingsChanged, StoreError> {
    Ok(match change {
        SettingsChange::Put { name, value, now } => {
            let previous = tx.query_row(PUT_SETTING, params![name, value, now.timestamp_micros()], |r| r.get(0))?;
            SettingsChanged::Put { previous }
        }
        SettingsChange::AddSubscription(s) => {
            let added = tx.execute(
                ADD_SUBSCRIPTION,
                params![s.subscription_id, s.display_name, s.cloud.as_str(), s.added_at.timestamp_micros(), s.added_by],
            )?;
            SettingsChanged::Added(added == 1)
        }
        SettingsChange::RemoveSubscription(id) => {
            let row: Option<SubscriptionRow> = tx
                .query_row(REMOVE_SUBSCRIPTION, params![id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            SettingsChanged::Removed(row.map(subscription).transpose()?)
        }
    })
}
