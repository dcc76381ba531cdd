//! CertifyClouds Audit: the types shared by server and browser, the Leptos pages, and
//! (behind the `ssr` feature) the audit store and the services the server runs.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod alert_rules;
pub mod audit;
pub mod catalogue;
#[cfg(feature = "ssr")]
pub mod checkpoint;
pub mod compliance;
pub mod dates;
pub mod destinations;
pub mod entry;
pub mod export;
pub mod filter;
pub mod histogram;
pub mod ingest;
#[cfg(feature = "ssr")]
pub mod integrity;
pub mod integrity_page;
#[cfg(feature = "ssr")]
pub mod internal_event;
pub mod login;
pub mod proof;
pub mod search;
pub mod settings;
pub mod settings_page;
pub mod subscriptions;
pub mod tokens;
pub mod topbar;

#[cfg(feature = "ssr")]
pub mod alert_rule_changes;
#[cfg(feature = "ssr")]
pub mod alerting;
#[cfg(feature = "ssr")]
pub mod delivery;
#[cfg(feature = "ssr")]
pub mod destination_changes;
#[cfg(feature = "ssr")]
pub mod purge_archive;
#[cfg(feature = "ssr")]
pub mod purge_runs;
#[cfg(feature = "ssr")]
pub mod signin;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod subscription_changes;
#[cfg(feature = "ssr")]
pub mod token_admin;
#[cfg(feature = "ssr")]
pub mod user_events;
#[cfg(feature = "ssr")]
pub mod users;
#[cfg(feature = "ssr")]
pub mod verification;
#[cfg(feature = "ssr")]
pub mod verify_runs;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The Content-Security-Policy of the app's pages: scripts only from this site, and the one
/// inline script (which starts the WASM) by the nonce of its response; WASM compiled
/// (`wasm-unsafe-eval`, which allows no JavaScript `eval`); requests only to this site;
/// never framed. Inline styles are allowed: the timeline sizes its bars with them.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sends the page's policy with the nonce Leptos gave this response's inline script.
#[cfg(feature = "ssr")]
fn send_page_policy() {
    let response = use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), response) {
        if let Ok(value) = http::HeaderValue::from_str(&page_policy(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The HTML document the server renders around the app. The stylesheet is named like the
/// script and the WASM (content-hashed by `make build`), which only the server knows.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    send_page_policy();
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let clock = audit::time::Clock::from_cookies();
    provide_context(clock);
    // Once in the browser: learn its time zone (and tell the server, for later pages).
    Effect::new(move |_| clock.adopt_browser_zone());
    view! {
        <Title text="CertifyClouds Audit"/>
        <Router>
            <topbar::TopBar/>
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    // Async: the whole page is rendered before it is sent, so the rows are
                    // in the HTML even where no script runs.
                    <Route path=path!("/audit") view=audit::AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit/:id") view=audit::EntryPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=login::LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/users") view=admin::users_page::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/tokens") view=admin::tokens_page::TokensPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrity") view=integrity_page::IntegrityPage ssr=SsrMode::Async/>
                    <Route path=path!("/compliance") view=compliance::CompliancePage ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view=settings_page::SettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/:section") view=settings_page::SettingsPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
