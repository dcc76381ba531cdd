//! Signing in and out, and the sessions that carry a person between requests, the one way
//! the login form and every later caller do it. Each outcome is recorded with the details
//! the product page lists: `auth.login.success` (username, IP address, user agent),
//! `auth.login.failed` (username, IP address, reason: unknown user, wrong password,
//! locked, disabled — in the log only; the person is told the same
//! thing whatever the reason), `auth.account.locked` (username, attempts) and
//! `auth.logout` (username, reason: signed out, or the timeout that ended the session).
//!
//! Every refusal costs one password check and then waits out [`REFUSAL_TIME`] from the
//! start, so an unknown username takes as long to answer as a known one (whose refusal
//! also counts the failure in the database).

use crate::accounts::password;
use crate::accounts::{Lockout, User};
use crate::entry::{Actor, ActorType, Resource};
use crate::internal_event::{EventError, InternalEvent};
use crate::store::{NewSession, Session, Store, StoreError, StoredUser};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::OnceCell;

/// Why a sign-in was refused, as the log says it. The person is never told which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UnknownUser,
    WrongPassword,
    Locked,
    Disabled,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "unknown user",
            Refusal::WrongPassword => "wrong password",
            Refusal::Locked => "locked",
            Refusal::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Error)]
pub enum SignInError {
    /// The one message a refused person sees, whatever the reason.
    #[error("the username or password is not right, or the account cannot sign in now")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Nothing is granted that could not be recorded.
    #[error("the sign-in could not be recorded in the audit log: {0}")]
    Unrecorded(String),
}

impl From<EventError> for SignInError {
    fn from(e: EventError) -> Self {
        SignInError::Unrecorded(e.to_string())
    }
}

/// Where a request came from, as the log records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// How long a session lasts: `idle` without a request, `absolute` in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for Timeouts {
    /// 30 minutes idle, 12 hours in all.
    fn default() -> Self {
        Timeouts { idle: Duration::minutes(30), absolute: Duration::hours(12) }
    }
}

/// A session's use is written back at most this often (or a quarter of the idle timeout,
/// if that is shorter): a page load makes several requests, and a write for each would
/// only repeat the same time.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// The least time any refused sign-in takes, from its start: more than a password check
/// and the writes that count a failure, so that what is refused, and why, cannot be told
/// from how long it took.
const REFUSAL_TIME: std::time::Duration = std::time::Duration::from_millis(400);

/// A person signed in: who, and the secret for their session cookie (shown to nobody
/// else, stored only as its hash).
pub struct SignedIn {
    pub user: User,
    pub token: String,
}

// Written out so that the session's secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn").field("user", &self.user).field("token", &"(hidden)").finish()
    }
}

/// The session secrets' prefix, so that a leaked one is recognisable.
const PREFIX: &str = "ccs_";

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The hash a session is stored under.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The actor of what a person does: the user, by id and username.
pub fn actor(user: &User) -> Actor {
    Actor { kind: ActorType::User, id: format!("user-{}", user.id), name: user.username.clone() }
}

fn resource(user: &User) -> Resource {
    Resource { kind: "user".to_owned(), id: format!("user-{}", user.id), name: Some(user.username.clone()) }
}

/// A hash no password matches, checked when there is no real one to check, so that a
/// refusal costs the same whatever its reason.
async fn dummy_hash() -> Result<&'static str, SignInError> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    let hash = DUMMY
        .get_or_try_init(|| password::hash(new_token()))
        .await
        .map_err(|e| SignInError::Unrecorded(format!("no password check could be made: {e}")))?;
    Ok(hash.as_str())
}

async fn record(store: &Store, event: InternalEvent, now: DateTime<Utc>) -> Result<(), SignInError> {
    let entry = event.build(now)?;
    store.log.append(vec![entry]).await.map_err(|e| SignInError::Unrecorded(e.to_string()))?;
    Ok(())
}

fn event(kind: &str, client: &Client) -> Result<InternalEvent, SignInError> {
    // The log asks for a user agent: a client that sends none is recorded as such.
    let user_agent = client.user_agent.clone().unwrap_or_else(|| "(none sent)".to_owned());
    Ok(InternalEvent::new(kind)?.from(client.ip_address.clone(), Some(user_agent)))
}

/// Signs a person in: a new session for them, or the refusal (recorded).
pub async fn sign_in(
    store: &Store,
    username: &str,
    password: &str,
    client: &Client,
    lockout: &Lockout,
    now: DateTime<Utc>,
) -> Result<SignedIn, SignInError> {
    let started = tokio::time::Instant::now();
    let outcome = attempt(store, username, password, client, lockout, now).await;
    if matches!(outcome, Err(SignInError::Refused(_))) {
        tokio::time::sleep_until(started + REFUSAL_TIME).await;
    }
    outcome
}

async fn attempt(
    store: &Store,
    username: &str,
    password: &str,
    client: &Client,
    lockout: &Lockout,
    now: DateTime<Utc>,
) -> Result<SignedIn, SignInError> {
    let found = store.accounts.user_named(username).await?;
    let checked = match &found {
        Some(stored) => password::verify(stored.password_hash.clone(), password.to_owned()).await,
        None => {
            // Checked against nothing, for the time it takes.
            let _ = password::verify(dummy_hash().await?.to_owned(), password.to_owned()).await;
            false
        }
    };
    let refusal = match &found {
        None => Some(Refusal::UnknownUser),
        Some(stored) if stored.user.disabled => Some(Refusal::Disabled),
        Some(stored) if stored.user.locked_until.is_some_and(|until| until > now) => Some(Refusal::Locked),
        Some(_) if !checked => Some(Refusal::WrongPassword),
        Some(_) => None,
    };
    let stored = match (found, refusal) {
        (Some(stored), None) => stored,
        (found, refusal) => {
            let refusal = refusal.unwrap_or(Refusal::UnknownUser);
            return Err(refused(store, username, found.as_ref(), refusal, client, lockout, now).await?);
        }
    };
    let Some(user) = store.accounts.signed_in(stored.user.id, now).await? else {
        // Locked (or disabled) by another request while this password was checked.
        return Err(refused(store, username, Some(&stored), Refusal::Locked, client, lockout, now).await?);
    };
    let token = new_token();
    let hash = token_hash(&token);
    let session = NewSession {
        token_hash: &hash,
        user_id: user.id,
        now,
        ip_address: client.ip_address.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    store.sessions.create_session(&session).await?;
    let success = event("auth.login.success", client)?
        .actor(actor(&user))
        .resource(resource(&user))
        .detail("username", user.username.as_str());
    if let Err(e) = record(store, success, now).await {
        // Not recorded, not granted.
        let _ = store.sessions.end_session(&hash).await;
        return Err(e);
    }
    Ok(SignedIn { user, token })
}

/// Records a refused sign-in (and the lock it may cause) and answers the refusal.
async fn refused(
    store: &Store,
    username: &str,
    known: Option<&StoredUser>,
    refusal: Refusal,
    client: &Client,
    lockout: &Lockout,
    now: DateTime<Utc>,
) -> Result<SignInError, SignInError> {
    let (actor, attempts) = match (known, refusal) {
        (Some(stored), Refusal::WrongPassword) => {
            let (after, locked_now) = store.accounts.sign_in_failed(stored.user.id, now, lockout).await?;
            if locked_now {
                let locked = event("auth.account.locked", client)?
                    .actor(self::actor(&after))
                    .resource(resource(&after))
                    .detail("username", after.username.as_str())
                    .detail("attempts", after.failed_attempts)
                    .detail("locked_until", after.locked_until.map(|t| t.to_rfc3339()).unwrap_or_default());
                record(store, locked, now).await?;
            }
            (self::actor(&after), Some(after.failed_attempts))
        }
        (Some(stored), _) => (self::actor(&stored.user), None),
        // Nobody by that name: the actor is the name as it was typed.
        (None, _) => (Actor { kind: ActorType::User, id: "unknown".to_owned(), name: typed(username) }, None),
    };
    let mut failed = event("auth.login.failed", client)?
        .actor(actor)
        .detail("username", typed(username))
        .detail("reason", refusal.reason());
    if let Some(attempts) = attempts {
        failed = failed.detail("attempts", attempts);
    }
    record(store, failed, now).await?;
    Ok(SignInError::Refused(refusal))
}

/// A typed username as the log keeps it: trimmed, at most 64 characters (an entry's
/// fields have limits; a pasted novel is not a username).
fn typed(username: &str) -> String {
    let name: String = username
        .trim()
        .chars()
        .filter(|c| !c.is_control() && !crate::ingest::is_bidi_control(*c))
        .take(crate::accounts::USERNAME_MAX)
        .collect();
    if name.is_empty() {
        "(empty)".to_owned()
    } else {
        name
    }
}

/// The session a cookie names, if it is still valid at `now`. A session past either
/// timeout, or of a user who can no longer sign in, is ended here (and its end recorded).
pub async fn session(
    store: &Store,
    token: &str,
    timeouts: &Timeouts,
    now: DateTime<Utc>,
) -> Result<Option<Session>, SignInError> {
    let hash = token_hash(token);
    let Some(session) = store.sessions.session(&hash).await? else {
        return Ok(None);
    };
    if let Some(reason) = ended(&session, timeouts, now) {
        if let Some(session) = store.sessions.end_session(&hash).await? {
            record(store, logout(&session.user, reason)?, now).await?;
        }
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY.min(timeouts.idle / 4) {
        store.sessions.touch_session(&hash, now).await?;
    }
    Ok(Some(session))
}

/// Why a session is over at `now`, if it is.
fn ended(session: &Session, timeouts: &Timeouts, now: DateTime<Utc>) -> Option<&'static str> {
    if now - session.last_seen_at >= timeouts.idle {
        Some("session timed out after inactivity")
    } else if now - session.created_at >= timeouts.absolute {
        Some("session reached its maximum duration")
    } else if session.user.disabled {
        Some("account disabled")
    } else {
        None
    }
}

/// Whether a session is still open, without counting this as its use: what a long-lived
/// stream asks now and then (a tab left following the log does not keep its session
/// alive). Ending it and recording why is left to the next request or the sweep.
pub async fn still_open(
    store: &Store,
    token: &str,
    timeouts: &Timeouts,
    now: DateTime<Utc>,
) -> Result<bool, SignInError> {
    let session = store.sessions.session(&token_hash(token)).await?;
    Ok(session.is_some_and(|s| ended(&s, timeouts, now).is_none()))
}

/// Signs out: the session ends on the server; answers who it was.
pub async fn sign_out(store: &Store, token: &str, now: DateTime<Utc>) -> Result<Option<User>, SignInError> {
    let Some(session) = store.sessions.end_session(&token_hash(token)).await? else {
        return Ok(None);
    };
    record(store, logout(&session.user, "signed out")?, now).await?;
    Ok(Some(session.user))
}

/// Ends every session past a timeout (the job that sweeps sessions nobody comes back to)
/// and records each end; how many ended.
pub async fn end_expired(store: &Store, timeouts: &Timeouts, now: DateTime<Utc>) -> Result<usize, SignInError> {
    let ended = store.sessions.end_expired_sessions(now - timeouts.idle, now - timeouts.absolute).await?;
    // Each end recorded, whatever became of the others: they are ended already.
    let mut unrecorded = None;
    for session in &ended {
        let reason = if now - session.last_seen_at >= timeouts.idle {
            "session timed out after inactivity"
        } else {
            "session reached its maximum duration"
        };
        if let Err(e) = record(store, logout(&session.user, reason)?, now).await {
            tracing::error!(error = %e, user = %session.user.username, "a session's end could not be recorded");
            unrecorded = Some(e);
        }
    }
    match unrecorded {
        Some(e) => Err(e),
        None => Ok(ended.len()),
    }
}

fn logout(user: &User, reason: &str) -> Result<InternalEvent, SignInError> {
    Ok(InternalEvent::new("auth.logout")?
        .actor(actor(user))
        .resource(resource(user))
        .detail("username", user.username.as_str())
        .detail("reason", reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Role;
    use crate::entry::AuditEntry;
    use crate::users::{self, ChangeUser, CreateUser};

    const PASSWORD: &str = "correct-horse-battery-staple";

    fn t0() -> DateTime<Utc> {
        "2026-02-01T10:00:00Z".parse().expect("time")
    }

    fn client() -> Client {
        Client { ip_address: Some("198.51.100.4".into()), user_agent: Some("Mozilla/5.0 Test".into()) }
    }

    async fn store_with_bob() -> (Store, User, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}/audit.db", dir.path().display())).await.expect("opens");
        let request =
            CreateUser { username: "bob".into(), display_name: None, role: Role::Auditor, password: PASSWORD.into() };
        let by = Actor { kind: ActorType::User, id: "os:root".into(), name: "root".into() };
        let bob = users::create(&store, request, by).await.expect("creates");
        (store, bob, dir)
    }

    /// The entries of one type, oldest first.
    async fn recorded(store: &Store, event_type: &str) -> Vec<AuditEntry> {
        let all = store.log.entries_after(0, 1000).await.expect("reads");
        all.into_iter().filter(|e| e.event_type == event_type).collect()
    }

    #[tokio::test]
    async fn a_sign_in_opens_a_session_and_is_recorded_with_who_where_and_how() {
        let (store, bob, _dir) = store_with_bob().await;
        let signed = sign_in(&store, "BOB", PASSWORD, &client(), &Lockout::default(), t0()).await.expect("signs in");
        assert!(signed.token.starts_with("ccs_") && signed.token.len() == 68, "{}", signed.token);
        assert_eq!(signed.user.last_login_at, Some(t0()));
        let session = session(&store, &signed.token, &Timeouts::default(), t0()).await.expect("reads");
        assert_eq!(session.map(|s| s.user.id), Some(bob.id));
        let other = sign_in(&store, "bob", PASSWORD, &client(), &Lockout::default(), t0()).await.expect("signs in");
        assert_ne!(other.token, signed.token, "every sign-in has a session of its own");

        let success = recorded(&store, "auth.login.success").await;
        assert_eq!(success.len(), 2);
        let entry = &success[0];
        assert_eq!(
            (entry.actor.kind, entry.actor.id.as_str(), entry.actor.name.as_str()),
            (ActorType::User, &*format!("user-{}", bob.id), "bob")
        );
        assert_eq!(entry.details["username"], "bob");
        assert_eq!(entry.ip_address.as_deref(), Some("198.51.100.4"));
        assert_eq!(entry.user_agent.as_deref(), Some("Mozilla/5.0 Test"));
        // Only the hash of the secret is kept.
        assert_eq!(store.sessions.session(signed.token.as_bytes()).await.expect("reads"), None);
    }

    #[tokio::test]
    async fn every_refusal_says_the_same_to_the_person_and_its_reason_to_the_log() {
        let (store, bob, _dir) = store_with_bob().await;
        let lockout = Lockout::default();
        let refuse = |name: &'static str, password: &'static str| {
            let store = store.clone();
            async move { sign_in(&store, name, password, &client(), &lockout, t0()).await.expect_err("refused") }
        };
        let unknown = refuse("mallory", PASSWORD).await;
        let wrong = refuse("bob", "not-the-right-password").await;
        let by = Actor { kind: ActorType::User, id: "os:root".into(), name: "root".into() };
        users::change(&store, bob.id, ChangeUser { disabled: Some(true), ..ChangeUser::default() }, by.clone())
            .await
            .expect("disables");
        let disabled = refuse("bob", PASSWORD).await;
        assert!(matches!(unknown, SignInError::Refused(Refusal::UnknownUser)));
        assert!(matches!(wrong, SignInError::Refused(Refusal::WrongPassword)));
        assert!(matches!(disabled, SignInError::Refused(Refusal::Disabled)));
        assert_eq!(unknown.to_string(), wrong.to_string());
        assert_eq!(wrong.to_string(), disabled.to_string());

        let failed = recorded(&store, "auth.login.failed").await;
        let reasons: Vec<&str> = failed.iter().map(|e| e.details["reason"].as_str().unwrap_or("")).collect();
        assert_eq!(reasons, ["unknown user", "wrong password", "disabled"]);
        assert_eq!((failed[0].actor.id.as_str(), failed[0].details["username"].as_str()), ("unknown", Some("mallory")));
        assert_eq!(failed[1].actor.id, format!("user-{}", bob.id));
        assert_eq!(failed[1].details["attempts"], 1);
        assert!(failed.iter().all(|e| e.ip_address.as_deref() == Some("198.51.100.4")));
        assert!(!format!("{failed:?}").contains("not-the-right-password"), "a typed password is never recorded");
    }

    #[tokio::test]
    async fn five_failures_lock_even_the_right_password_out_until_the_lock_ends() {
        let (store, _bob, _dir) = store_with_bob().await;
        let lockout = Lockout::default();
        for minute in 0..5 {
            let at = t0() + Duration::minutes(minute);
            let refused = sign_in(&store, "bob", "wrong-password-here", &client(), &lockout, at).await;
            assert!(matches!(refused, Err(SignInError::Refused(Refusal::WrongPassword))));
        }
        let locked = recorded(&store, "auth.account.locked").await;
        assert_eq!(locked.len(), 1);
        assert_eq!(
            (locked[0].details["username"].as_str(), locked[0].details["attempts"].as_u64()),
            (Some("bob"), Some(5))
        );
        let during = sign_in(&store, "bob", PASSWORD, &client(), &lockout, t0() + Duration::minutes(10)).await;
        assert!(matches!(during, Err(SignInError::Refused(Refusal::Locked))), "{during:?}");
        let after = sign_in(&store, "bob", PASSWORD, &client(), &lockout, t0() + Duration::minutes(20)).await;
        assert!(after.is_ok(), "the lock ended at 19 minutes: {after:?}");
        assert_eq!(recorded(&store, "auth.account.locked").await.len(), 1, "locked once");
    }

    #[tokio::test]
    async fn sessions_end_at_sign_out_and_at_either_timeout_and_each_end_is_recorded_once() {
        let (store, _bob, _dir) = store_with_bob().await;
        let timeouts = Timeouts::default();
        let (client, lockout) = (client(), Lockout::default());
        let open = || sign_in(&store, "bob", PASSWORD, &client, &lockout, t0());
        let first = open().await.expect("signs in");
        assert_eq!(sign_out(&store, &first.token, t0()).await.expect("ends").map(|u| u.username), Some("bob".into()));
        assert!(sign_out(&store, &first.token, t0()).await.expect("ends").is_none(), "already ended");
        assert!(session(&store, &first.token, &timeouts, t0()).await.expect("reads").is_none());

        // Used every 20 minutes, a session stays open until its twelfth hour.
        let busy = open().await.expect("signs in");
        let mut at = t0();
        while at < t0() + Duration::hours(12) {
            assert!(session(&store, &busy.token, &timeouts, at).await.expect("reads").is_some(), "{at}");
            at += Duration::minutes(20);
        }
        assert!(session(&store, &busy.token, &timeouts, at).await.expect("reads").is_none(), "absolute timeout");
        let idle = open().await.expect("signs in");
        assert!(session(&store, &idle.token, &timeouts, t0() + Duration::minutes(31)).await.expect("reads").is_none());
        let swept = open().await.expect("signs in");
        assert_eq!(end_expired(&store, &timeouts, t0() + Duration::minutes(45)).await.expect("sweeps"), 1);
        assert!(session(&store, &swept.token, &timeouts, t0()).await.expect("reads").is_none());

        let reasons: Vec<String> = recorded(&store, "auth.logout")
            .await
            .iter()
            .map(|e| e.details["reason"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(
            reasons,
            [
                "signed out",
                "session reached its maximum duration",
                "session timed out after inactivity",
                "session timed out after inactivity"
            ]
        );
    }

    #[tokio::test]
    async fn an_unknown_user_costs_the_same_password_check_as_a_known_one() {
        // Timing is not measured here (the machine is noisy): the dummy hash that an
        // unknown username is checked against has the very parameters of a real one.
        let (store, _bob, _dir) = store_with_bob().await;
        let real = store.accounts.user_named("bob").await.expect("reads").expect("found").password_hash;
        let dummy = dummy_hash().await.expect("a dummy hash");
        let parameters = |hash: &str| hash.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(parameters(dummy), parameters(&real));
        assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{dummy}");
        // And every refusal, of a known user or not, takes at least the same time.
        for name in ["bob", "nobody"] {
            let started = std::time::Instant::now();
            let refused = sign_in(&store, name, "wrong-password-here", &client(), &Lockout::default(), t0()).await;
            assert!(matches!(refused, Err(SignInError::Refused(_))));
            assert!(started.elapsed() >= REFUSAL_TIME, "{name}: {:?}", started.elapsed());
        }
    }
}
