//! The route table: every HTTP route the server answers, declared once with the
//! permission it needs. The router is built from this table alone ([`router`]), each route
//! behind [`authorize`] with its own permission, so a route cannot exist without a
//! declared rule; the permission tests and the API description walk this same table.

use super::caller::authorize;
use super::{
    admin, alert_rules, destinations, entries, events, export, health, integrity, live, login, metrics, openapi, pages,
    settings, subscriptions,
};
use crate::state::AppState;
use app::access::Permission;
use app::accounts::Role;
use app::admin::api::{AddUser, CreateToken, EditUser, ListTokens, ListUsers, RemoveUser, RevokeToken};
use app::audit::api::{CountEntries, EntryTimeline, GetEntry, ListEntries, SuggestActors};
use app::compliance::api::ComplianceReport;
use app::integrity_page::api::{AcknowledgeFailure, IntegrityAlert, IntegrityStatus, SignCheckpoint, VerifyNow};
use app::settings_page::api::{
    AddSubscription, RemoveSubscription, RetentionOverview, RetentionPreview, SaveSettings, SubscriptionsOverview,
};
use app::settings_page::delivery_api::{
    AddAlertRule, AddDestination, AlertRulesOverview, DestinationsOverview, EnableAlertRule, RemoveAlertRule,
    RemoveDestination, ReplayDestination, TestDestination,
};
use app::tokens::Scope;
use app::topbar::SignedIn;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use leptos::server_fn::ServerFn;

/// The largest ingest body: 1000 events of a few KiB each.
pub const MAX_INGEST_BYTES: usize = 4 * 1024 * 1024;

/// What kind of route it is: the API description lists the [`Kind::Api`] ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The REST API and the operational endpoints, described at `/openapi.json`.
    Api,
    /// What the Audit tab calls with the session instead of a token: its export and live
    /// stream.
    PageTwin,
    /// A Leptos server function of the pages.
    ServerFn,
    /// A page, rendered on the server.
    Page,
    /// A form of the pages, posted as a plain form (it works without JavaScript).
    Form,
    /// The site's static files.
    Asset,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub permission: Permission,
    pub kind: Kind,
    handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    ($method:ident $path:expr, $permission:expr, $kind:ident, $handler:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            permission: $permission,
            kind: Kind::$kind,
            handler: || on(MethodFilter::$method, $handler),
        }
    };
}

const READ: Permission = Permission::Scope(Scope::Read);
const INGEST: Permission = Permission::Scope(Scope::Ingest);
const ADMIN: Permission = Permission::Scope(Scope::Admin);
/// Any signed-in person: auditors and admins.
const TAB: Permission = Permission::SignedIn(Role::Auditor);
/// A signed-in admin.
const ADMIN_PAGES: Permission = Permission::SignedIn(Role::Admin);
const PUBLIC: Permission = Permission::Public;

pub static ROUTES: &[Route] = &[
    // The REST API.
    route!(GET "/audit/entries", READ, Api, entries::list),
    route!(GET "/audit/entries/count", READ, Api, entries::count),
    route!(GET "/audit/entries/{entry_id}", READ, Api, entries::get_one),
    route!(GET "/audit/event-types", READ, Api, entries::event_types),
    route!(GET "/audit/export", READ, Api, export::export),
    route!(POST "/audit/events", INGEST, Api, events::ingest),
    route!(GET "/openapi.json", READ, Api, openapi::document),
    route!(GET "/metrics", READ, Api, metrics::serve),
    route!(GET "/healthz", PUBLIC, Api, health::check),
    // Integrity: the public key, checkpoints and proofs (signing one on demand: admins).
    route!(GET "/audit/integrity/public-key", READ, Api, integrity::public_key),
    route!(GET "/audit/integrity/checkpoint", READ, Api, integrity::latest),
    route!(POST "/audit/integrity/checkpoint", ADMIN, Api, integrity::sign),
    route!(GET "/audit/integrity/checkpoints", READ, Api, integrity::list),
    route!(GET "/audit/integrity/inclusion", READ, Api, integrity::inclusion),
    route!(GET "/audit/integrity/consistency", READ, Api, integrity::consistency),
    // Administration: users and API tokens (an admin token or an admin's session).
    route!(GET "/admin/users", ADMIN, Api, admin::users),
    route!(POST "/admin/users", ADMIN, Api, admin::create_user),
    route!(GET "/admin/users/{id}", ADMIN, Api, admin::user),
    route!(PATCH "/admin/users/{id}", ADMIN, Api, admin::change_user),
    route!(DELETE "/admin/users/{id}", ADMIN, Api, admin::delete_user),
    route!(GET "/admin/tokens", ADMIN, Api, admin::tokens),
    route!(POST "/admin/tokens", ADMIN, Api, admin::issue_token),
    route!(DELETE "/admin/tokens/{id}", ADMIN, Api, admin::revoke_token),
    route!(GET "/admin/settings", ADMIN, Api, settings::get),
    route!(PATCH "/admin/settings", ADMIN, Api, settings::change),
    route!(GET "/admin/subscriptions", ADMIN, Api, subscriptions::list),
    route!(POST "/admin/subscriptions", ADMIN, Api, subscriptions::add),
    route!(DELETE "/admin/subscriptions/{id}", ADMIN, Api, subscriptions::remove),
    route!(GET "/admin/destinations", ADMIN, Api, destinations::list),
    route!(POST "/admin/destinations", ADMIN, Api, destinations::create),
    route!(GET "/admin/destinations/{id}", ADMIN, Api, destinations::get_one),
    route!(PATCH "/admin/destinations/{id}", ADMIN, Api, destinations::change),
    route!(DELETE "/admin/destinations/{id}", ADMIN, Api, destinations::delete),
    route!(GET "/admin/destinations/{id}/health", ADMIN, Api, destinations::health),
    route!(POST "/admin/destinations/{id}/test", ADMIN, Api, destinations::test),
    route!(POST "/admin/destinations/{id}/replay", ADMIN, Api, destinations::replay),
    route!(GET "/admin/alert-rules", ADMIN, Api, alert_rules::list),
    route!(POST "/admin/alert-rules", ADMIN, Api, alert_rules::create),
    route!(GET "/admin/alert-rules/{id}", ADMIN, Api, alert_rules::get_one),
    route!(PATCH "/admin/alert-rules/{id}", ADMIN, Api, alert_rules::change),
    route!(DELETE "/admin/alert-rules/{id}", ADMIN, Api, alert_rules::delete),
    // The Audit tab: its pages, their server functions and their twins of the API.
    route!(GET "/", TAB, Page, pages::home),
    route!(GET "/audit", TAB, Page, pages::render),
    route!(GET "/audit/{id}", TAB, Page, pages::render),
    route!(GET "/api-docs", TAB, Page, openapi::page),
    route!(POST <ListEntries as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <EntryTimeline as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <CountEntries as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <GetEntry as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <SuggestActors as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <SignedIn as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    // The Integrity page: everyone signed in sees it and may verify; admins sign and
    // acknowledge.
    route!(GET "/integrity", TAB, Page, pages::render),
    route!(POST <IntegrityStatus as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <IntegrityAlert as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <VerifyNow as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <SignCheckpoint as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <AcknowledgeFailure as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    // The compliance view: everyone signed in.
    route!(GET "/compliance", TAB, Page, pages::render),
    route!(POST <ComplianceReport as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    // The settings: everyone signed in reads them; admins change them.
    route!(GET "/settings", TAB, Page, pages::render),
    route!(GET "/settings/{section}", TAB, Page, pages::render),
    route!(POST <RetentionOverview as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <RetentionPreview as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <SaveSettings as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <SubscriptionsOverview as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <AddSubscription as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <RemoveSubscription as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    // Settings > Integrations: the destinations only for admins (an auditor is told so).
    route!(POST <DestinationsOverview as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <AddDestination as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <RemoveDestination as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <TestDestination as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <ReplayDestination as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <AlertRulesOverview as ServerFn>::PATH, TAB, ServerFn, pages::server_fn),
    route!(POST <AddAlertRule as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <RemoveAlertRule as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <EnableAlertRule as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    // The admin pages and their server functions: admins only.
    route!(GET "/users", ADMIN_PAGES, Page, pages::render),
    route!(GET "/tokens", ADMIN_PAGES, Page, pages::render),
    route!(POST <ListUsers as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <AddUser as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <EditUser as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <RemoveUser as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <ListTokens as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <CreateToken as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(POST <RevokeToken as ServerFn>::PATH, ADMIN_PAGES, ServerFn, pages::server_fn),
    route!(GET app::export::PAGE_EXPORT_PATH, TAB, PageTwin, export::export),
    route!(GET app::audit::live::LIVE_PATH, TAB, PageTwin, live::stream),
    // Signing in and out.
    route!(GET "/login", PUBLIC, Page, pages::render),
    route!(POST "/login", PUBLIC, Form, login::sign_in),
    // Public: a session that has already ended must still be able to sign out (and have
    // its cookie forgotten); the handler refuses cross-site posts itself.
    route!(POST "/logout", PUBLIC, Form, login::sign_out),
    // Static files.
    route!(GET "/pkg/{*file}", PUBLIC, Asset, pages::asset),
    route!(GET "/favicon.svg", PUBLIC, Asset, pages::asset),
];

/// The router: each route of [`ROUTES`] behind [`authorize`] with its permission, and a
/// 404 for everything else.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for route in ROUTES {
        let mut handler = (route.handler)();
        if route.method == Method::POST && route.path == "/audit/events" {
            handler = handler.layer(DefaultBodyLimit::max(MAX_INGEST_BYTES));
        }
        let handler = handler.route_layer(from_fn_with_state((state.clone(), route), authorize));
        router = router.route(route.path, handler);
    }
    router.fallback(pages::not_found)
}
