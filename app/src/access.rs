//! Who is asking, and what each route lets them do. The route table (server/src/http/routes.rs)
//! gives every route one [`Permission`]; the request is identified once, as a [`Principal`],
//! and every audited action takes its actor from it, never from the request body.

use crate::accounts::Role;
use crate::entry::{Actor, ActorType};
use crate::tokens::{Scope, TokenRecord};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a route requires of whoever asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Anyone, always: the health check and the site's static files.
    Public,
    /// A person signed in to the pages whose role reaches this one (an admin reaches
    /// `auditor`): the pages, their server functions and their twins of the API (export,
    /// live stream). Tokens are for the REST API, not for the pages.
    SignedIn(Role),
    /// A bearer token with this scope (or `admin`).
    Scope(Scope),
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Public => f.write_str("public"),
            Permission::SignedIn(Role::Auditor) => f.write_str("signed-in person"),
            Permission::SignedIn(Role::Admin) => f.write_str("signed-in admin"),
            Permission::Scope(scope) => write!(f, "{scope} scope"),
        }
    }
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A client that presented a valid bearer token.
    Token(TokenRecord),
    /// A person signed in, by their session cookie.
    Person(Person),
    /// Someone without credentials (or whose session has ended), or any caller of a public
    /// route.
    Anonymous,
}

/// A signed-in person, as the request's session names them (and the top bar shows them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

impl Person {
    /// What a role grants of a token's scopes: auditors read (and export), admins also
    /// administer. Nobody posts events from a browser: that is for components' tokens.
    pub fn allows(&self, scope: Scope) -> bool {
        match (self.role, scope) {
            (_, Scope::Read) => true,
            (Role::Admin, Scope::Admin) => true,
            (_, Scope::Ingest) | (Role::Auditor, Scope::Admin) => false,
        }
    }

    /// Whether this person's role reaches `needed`: an admin may do what an auditor may.
    pub fn reaches(&self, needed: Role) -> bool {
        self.role == Role::Admin || self.role == needed
    }
}

/// Why a principal may not use a route: 401 when credentials are missing, 403 when they
/// do not reach far enough.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// No credentials, or none that are valid.
    Unauthenticated,
    /// Valid credentials without the permission.
    Forbidden(Permission),
}

impl Principal {
    /// Whether this principal may use a route that needs `permission`.
    pub fn check(&self, permission: Permission) -> Result<(), Denied> {
        match (permission, self) {
            (Permission::Public, _) => Ok(()),
            (Permission::SignedIn(role), Principal::Person(person)) if person.reaches(role) => Ok(()),
            (Permission::SignedIn(_), Principal::Person(_) | Principal::Token(_)) => Err(Denied::Forbidden(permission)),
            (Permission::SignedIn(_), Principal::Anonymous) => Err(Denied::Unauthenticated),
            (Permission::Scope(scope), Principal::Token(token)) if token.allows(scope) => Ok(()),
            (Permission::Scope(scope), Principal::Person(person)) if person.allows(scope) => Ok(()),
            (Permission::Scope(_), Principal::Token(_) | Principal::Person(_)) => Err(Denied::Forbidden(permission)),
            (Permission::Scope(_), Principal::Anonymous) => Err(Denied::Unauthenticated),
        }
    }

    /// The actor of what this principal does, as the log records it.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Token(token) => {
                Actor { kind: ActorType::Service, id: token.actor_id(), name: token.name.clone() }
            }
            Principal::Person(person) => {
                Actor { kind: ActorType::User, id: format!("user-{}", person.id), name: person.username.clone() }
            }
            Principal::Anonymous => {
                Actor { kind: ActorType::User, id: ANONYMOUS_ID.to_owned(), name: ANONYMOUS_NAME.to_owned() }
            }
        }
    }

    /// How request logs and reports name this principal.
    pub fn describe(&self) -> String {
        match self {
            Principal::Token(token) => format!("API token \"{}\"", token.name),
            Principal::Person(person) => format!("{} ({})", person.display_name, person.username),
            Principal::Anonymous => "an anonymous caller".to_owned(),
        }
    }

    /// A short label for request logs and metrics.
    pub fn label(&self) -> String {
        match self {
            Principal::Token(token) => format!("token:{}", token.name),
            Principal::Person(person) => format!("user:{}", person.username),
            Principal::Anonymous => "anonymous".to_owned(),
        }
    }
}

/// What a page's server function answers (401) to a caller who is not signed in (their
/// session ended): the `SignedOut` variant every server function's error type has, as
/// JSON, so that the page can say so and offer to sign in again.
pub const SIGNED_OUT_REPLY: &str = "\"SignedOut\"";

/// The actor id and name of a caller without credentials (who can only reach public
/// routes, where nothing is recorded): never the actor of a change.
pub const ANONYMOUS_ID: &str = "anonymous";
pub const ANONYMOUS_NAME: &str = "anonymous";

/// The principal of a request with where it came from: what an audited action records.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    /// The client's address: the connection's peer, or the `X-Forwarded-For` client when
    /// the peer is a trusted proxy.
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(scopes: &[Scope]) -> Principal {
        Principal::Token(TokenRecord { id: 7, name: "splunk".into(), scopes: scopes.to_vec() })
    }

    #[test]
    fn scopes_admit_their_routes_and_admin_admits_all() {
        let read = Permission::Scope(Scope::Read);
        assert_eq!(token(&[Scope::Read]).check(read), Ok(()));
        assert_eq!(token(&[Scope::Admin]).check(read), Ok(()));
        assert_eq!(token(&[Scope::Ingest]).check(read), Err(Denied::Forbidden(read)));
        assert_eq!(Principal::Anonymous.check(read), Err(Denied::Unauthenticated));
        assert_eq!(Principal::Anonymous.check(Permission::Public), Ok(()));
        assert_eq!(token(&[Scope::Ingest]).check(Permission::Public), Ok(()));
        // The pages are for people: a token, however broad, does not open them.
        for role in Role::ALL {
            let pages = Permission::SignedIn(role);
            assert_eq!(Principal::Anonymous.check(pages), Err(Denied::Unauthenticated));
            assert_eq!(token(&[Scope::Admin]).check(pages), Err(Denied::Forbidden(pages)));
        }
    }

    fn person(role: Role) -> Principal {
        Principal::Person(Person { id: 4, username: "ana".into(), display_name: "Ana A.".into(), role })
    }

    #[test]
    fn roles_grant_what_their_scopes_would_and_nobody_ingests_from_a_browser() {
        let [read, ingest, admin] = Scope::ALL.map(Permission::Scope);
        for role in [Role::Auditor, Role::Admin] {
            assert_eq!(person(role).check(read), Ok(()));
            assert_eq!(person(role).check(ingest), Err(Denied::Forbidden(ingest)));
            assert_eq!(person(role).check(Permission::SignedIn(Role::Auditor)), Ok(()));
        }
        let admin_pages = Permission::SignedIn(Role::Admin);
        assert_eq!(person(Role::Admin).check(admin_pages), Ok(()));
        assert_eq!(person(Role::Auditor).check(admin_pages), Err(Denied::Forbidden(admin_pages)));
        assert_eq!(person(Role::Admin).check(admin), Ok(()));
        assert_eq!(person(Role::Auditor).check(admin), Err(Denied::Forbidden(admin)));
        let actor = person(Role::Auditor).actor();
        assert_eq!((actor.kind, actor.id.as_str(), actor.name.as_str()), (ActorType::User, "user-4", "ana"));
    }

    #[test]
    fn actors_come_from_the_principal() {
        let actor = token(&[Scope::Read]).actor();
        assert_eq!((actor.kind, actor.id.as_str(), actor.name.as_str()), (ActorType::Service, "token-7", "splunk"));
        assert_eq!(Principal::Anonymous.actor().name, ANONYMOUS_NAME);
    }
}
