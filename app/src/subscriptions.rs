//! The cloud subscriptions discovery scans (Settings > Subscriptions and
//! `/admin/subscriptions`): each one added or removed by an admin and recorded as
//! `subscription.added` / `subscription.removed` with the subscription id and who
//! (`subscription_changes.rs`). What a subscription accepts is shared with the browser, so
//! the form refuses a bad one before sending it, with the server's message.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The clouds a subscription may be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    Azure,
    Aws,
    Gcp,
}

impl Cloud {
    pub const ALL: [Cloud; 3] = [Cloud::Azure, Cloud::Aws, Cloud::Gcp];

    /// As stored and sent: `azure`, `aws`, `gcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Azure => "azure",
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
        }
    }

    /// As people name it: `Azure`, `AWS`, `GCP`.
    pub fn label(self) -> &'static str {
        match self {
            Cloud::Azure => "Azure",
            Cloud::Aws => "AWS",
            Cloud::Gcp => "GCP",
        }
    }
}

impl std::str::FromStr for Cloud {
    type Err = SubscriptionError;

    /// `azure`, `aws` or `gcp`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cloud::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            SubscriptionError::Invalid {
                field: "cloud",
                message: "choose Azure, AWS or GCP (azure, aws or gcp)".into(),
            }
        })
    }
}

/// A subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Subscription {
    /// The subscription's GUID, lower case.
    pub subscription_id: String,
    pub display_name: String,
    pub cloud: Cloud,
    pub added_at: DateTime<Utc>,
    /// The username (or token name) of whoever added it.
    pub added_by: String,
}

/// A subscription to add, as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// A GUID such as `0f8fad5b-d9cb-469f-a165-70867728950e` (any case).
    pub subscription_id: String,
    /// What the pages call it: 1 to 100 characters.
    pub display_name: String,
    /// `azure`, `aws` or `gcp`.
    pub cloud: String,
}

/// The longest display name.
pub const MAX_DISPLAY_NAME: usize = 100;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SubscriptionError {
    /// A field that is not acceptable, named as the API names it.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("subscription {0} is already added")]
    Duplicate(String),
    #[error("no subscription {0}")]
    NotFound(String),
}

/// The subscription id as stored: a GUID (8-4-4-4-12 hexadecimal digits), lower case.
pub fn check_subscription_id(id: &str) -> Result<String, SubscriptionError> {
    let id = id.trim();
    let groups: Vec<&str> = id.split('-').collect();
    let shaped = groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if !shaped {
        return Err(SubscriptionError::Invalid {
            field: "subscription_id",
            message: "must be a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        });
    }
    Ok(id.to_ascii_lowercase())
}

/// A display name: 1 to 100 characters, no control characters, trimmed.
pub fn check_display_name(name: &str) -> Result<String, SubscriptionError> {
    let name = name.trim();
    let refused = |message: &str| SubscriptionError::Invalid { field: "display_name", message: message.into() };
    if name.is_empty() {
        return Err(refused("must not be empty"));
    }
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(refused("must be at most 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(refused("must not hold control characters"));
    }
    Ok(name.to_owned())
}

/// A refusal as the form says it: the field as labelled, then what is wrong.
pub fn said(e: &SubscriptionError) -> String {
    match e {
        SubscriptionError::Invalid { field, message } => {
            let label = match *field {
                "subscription_id" => "Subscription ID",
                "display_name" => "Display name",
                "cloud" => "Cloud",
                other => other,
            };
            format!("{label} {message}.")
        }
        other => other.to_string(),
    }
}

impl NewSubscription {
    /// Each field checked, as stored: (id, display name, cloud).
    pub fn check(&self) -> Result<(String, String, Cloud), SubscriptionError> {
        Ok((
            check_subscription_id(&self.subscription_id)?,
            check_display_name(&self.display_name)?,
            self.cloud.parse()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_id_is_a_guid_stored_in_lower_case() {
        assert_eq!(
            check_subscription_id(" 0F8FAD5B-D9CB-469F-A165-70867728950E ").as_deref(),
            Ok("0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        for bad in [
            "",
            "0f8fad5b-d9cb-469f-a165-70867728950",
            "0f8fad5bd9cb469fa16570867728950e",
            "0f8fad5b-d9cb-469f-a165-70867728950g",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "0f8fad5b-d9cb-469f-a165-70867728950e-0000",
            "123456789012",
        ] {
            assert!(
                matches!(check_subscription_id(bad), Err(SubscriptionError::Invalid { field: "subscription_id", .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_and_clouds_are_checked() {
        assert_eq!(check_display_name("  Production  ").as_deref(), Ok("Production"));
        for bad in ["", "   ", "tab\there", &"x".repeat(101)] {
            assert!(check_display_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!("AWS".parse::<Cloud>(), Ok(Cloud::Aws));
        assert_eq!(" gcp ".parse::<Cloud>(), Ok(Cloud::Gcp));
        assert!("oracle".parse::<Cloud>().is_err());
        assert_eq!(serde_json::to_string(&Cloud::Azure).expect("json"), "\"azure\"");
    }
}
