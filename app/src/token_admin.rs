//! Issuing and revoking API tokens, the one way every caller does it (the tokens page, its
//! REST twins, the command line): the request checked, the token stored (only its hash),
//! then recorded as `token.created` or `token.revoked` with whoever did it as the actor. A
//! token whose creation cannot be recorded is revoked again, so that no token exists that
//! the log does not know of. The secret is returned once and never recorded: the log
//! names the token by its name and id.

use crate::entry::{Actor, ActorType, Resource};
use crate::internal_event::InternalEvent;
use crate::store::{NewToken, Store, StoreError};
use crate::tokens::{self, check_name, Scope, TokenInfo};
use crate::users::{record, AccountError};
use chrono::{DateTime, SecondsFormat, Utc};

/// A token to issue, as the form, the API or the command line gives it.
#[derive(Clone, Debug)]
pub struct IssueToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// When it stops working; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just issued: its secret, to be shown once, and how it is listed.
pub struct Issued {
    pub secret: String,
    pub info: TokenInfo,
}

// Written out so that a secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("secret", &"(hidden)").field("info", &self.info).finish()
    }
}

fn resource(token: &TokenInfo) -> Resource {
    Resource { kind: "api_token".to_owned(), id: format!("token-{}", token.id), name: Some(token.name.clone()) }
}

/// Who created a token, as its listing shows it: a person by their username; anyone else
/// (the operator's OS user, another token) with their actor id too, so that a token named
/// like a person is never taken for one.
fn creator(by: &Actor) -> String {
    match by.kind {
        ActorType::User if by.id.starts_with("user-") => by.name.clone(),
        _ => format!("{} ({})", by.name, by.id),
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn issue(store: &Store, request: IssueToken, by: Actor) -> Result<Issued, AccountError> {
    let invalid = |field: &'static str| move |message: String| AccountError::Invalid { field, message };
    let name = check_name(&request.name).map_err(invalid("name"))?;
    let mut scopes: Vec<Scope> = Vec::new();
    for scope in request.scopes {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(AccountError::Invalid { field: "scopes", message: "choose at least one scope".to_owned() });
    }
    let now = Utc::now();
    if request.expires_at.is_some_and(|t| t <= now) {
        return Err(AccountError::Invalid {
            field: "expires_at",
            message: "the expiry must be in the future".to_owned(),
        });
    }
    let secret = tokens::generate();
    let creator = creator(&by);
    let new = NewToken {
        name,
        scopes: &scopes,
        token_hash: &tokens::hash(&secret),
        created_by: Some(&creator),
        expires_at: request.expires_at,
        now,
    };
    let info = store.tokens.issue_token(&new).await?;
    let listed: Vec<&str> = info.scopes.iter().map(|s| s.as_str()).collect();
    let created_by = by.name.clone();
    let event = InternalEvent::new("token.created")?
        .actor(by)
        .resource(resource(&info))
        .detail("name", info.name.as_str())
        .detail("scopes", listed)
        .detail("expires_at", info.expires_at.map_or(serde_json::Value::Null, |t| time(t).into()))
        .detail("created_by", created_by);
    if let Err(unrecorded) = record(store, event).await {
        // Not recorded, not kept.
        return Err(match store.tokens.revoke_token(info.id).await {
            Ok(_) => unrecorded.undone(),
            Err(e) => AccountError::Unrecorded(format!("{unrecorded}; the token was kept: {e}")),
        });
    }
    Ok(Issued { secret, info })
}

pub async fn revoke(store: &Store, id: i64, by: Actor) -> Result<TokenInfo, AccountError> {
    let info = store.tokens.revoke_token(id).await.map_err(|e| match e {
        StoreError::NotFound(_) => AccountError::NotFound(format!("API token {id}")),
        e => e.into(),
    })?;
    let revoked_by = by.name.clone();
    let event = InternalEvent::new("token.revoked")?
        .actor(by)
        .resource(resource(&info))
        .detail("name", info.name.as_str())
        .detail("revoked_by", revoked_by);
    record(store, event).await?;
    Ok(info)
}

/// Every token, oldest first, without secrets or hashes.
pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, AccountError> {
    Ok(store.tokens.all_tokens().await?.into_iter().map(|t| t.info).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana() -> Actor {
        Actor { kind: ActorType::User, id: "user-1".into(), name: "ana".into() }
    }

    #[tokio::test]
    async fn issuing_and_revoking_are_recorded_without_the_secret_and_refusals_leave_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}/audit.db", dir.path().display())).await.expect("opens");
        let expires = Utc::now() + chrono::Duration::days(7);
        let request = IssueToken {
            name: " splunk ".into(),
            scopes: vec![Scope::Read, Scope::Read, Scope::Ingest],
            expires_at: Some(expires),
        };
        let issued = issue(&store, request, ana()).await.expect("issues");
        assert!(issued.secret.starts_with("cca_"));
        assert!(!format!("{issued:?}").contains(&issued.secret), "hidden from Debug");
        assert_eq!(
            (issued.info.name.as_str(), issued.info.scopes.as_slice()),
            ("splunk", &[Scope::Read, Scope::Ingest][..])
        );
        assert_eq!(issued.info.created_by.as_deref(), Some("ana"));
        let found = store.tokens.find_token(&tokens::hash(&issued.secret)).await.expect("finds");
        assert_eq!(found, Some(issued.info.record()), "the secret works");

        let entries = store.log.entries_after(0, 10).await.expect("reads");
        assert_eq!(entries.len(), 1);
        let created = &entries[0];
        assert_eq!((created.event_type.as_str(), &created.actor), ("token.created", &ana()));
        assert_eq!(created.details["scopes"], serde_json::json!(["read", "ingest"]));
        assert_eq!(created.details["expires_at"], time(expires));
        assert_eq!(created.description, "API token splunk created with scopes read, ingest by ana");
        assert!(!serde_json::to_string(created).expect("json").contains(&issued.secret));

        for (request, field) in [
            (IssueToken { name: "  ".into(), scopes: vec![Scope::Read], expires_at: None }, "name"),
            (IssueToken { name: "x".into(), scopes: vec![], expires_at: None }, "scopes"),
            (IssueToken { name: "x".into(), scopes: vec![Scope::Read], expires_at: Some(Utc::now()) }, "expires_at"),
        ] {
            let refused = issue(&store, request, ana()).await;
            assert!(matches!(&refused, Err(AccountError::Invalid { field: f, .. }) if *f == field), "{refused:?}");
        }
        let taken =
            issue(&store, IssueToken { name: "splunk".into(), scopes: vec![Scope::Read], expires_at: None }, ana())
                .await;
        assert!(matches!(taken, Err(AccountError::Conflict(_))), "{taken:?}");
        assert_eq!(store.log.entries_after(0, 10).await.expect("reads").len(), 1, "refusals are not recorded");

        let revoked = revoke(&store, issued.info.id, ana()).await.expect("revokes");
        assert_eq!(revoked.name, "splunk");
        assert_eq!(store.tokens.find_token(&tokens::hash(&issued.secret)).await.expect("finds"), None);
        let entry = store.log.entries_after(1, 10).await.expect("reads").pop().expect("an entry");
        assert_eq!(
            (entry.event_type.as_str(), entry.description.as_str()),
            ("token.revoked", "API token splunk revoked by ana")
        );
        assert!(matches!(revoke(&store, issued.info.id, ana()).await, Err(AccountError::NotFound(_))));
        assert!(list(&store).await.expect("lists").is_empty());
    }

    #[test]
    fn a_creator_who_is_not_a_person_is_named_with_their_id() {
        assert_eq!(creator(&ana()), "ana");
        let operator = Actor { kind: ActorType::User, id: "os:root".into(), name: "root".into() };
        assert_eq!(creator(&operator), "root (os:root)");
        let token = Actor { kind: ActorType::Service, id: "token-3".into(), name: "ana".into() };
        assert_eq!(creator(&token), "ana (token-3)");
    }
}
