//! CertifyClouds Audit: the types shared by server and browser, the Leptos pages, and
//! (behind the `ssr` feature) the audit store and the services the server runs.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod catalogue;
pub mod dates;
pub mod entry;
pub mod export;
pub mod filter;
pub mod histogram;
pub mod ingest;
#[cfg(feature = "ssr")]
pub mod internal_event;
pub mod login;
pub mod search;
pub mod tokens;
pub mod topbar;

#[cfg(feature = "ssr")]
pub mod signin;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod token_admin;
#[cfg(feature = "ssr")]
pub mod user_events;
#[cfg(feature = "ssr")]
pub mod users;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document the server renders around the app. The stylesheet is named like the
/// script and the WASM (content-hashed by `make build`), which only the server knows.
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
                </Routes>
            </main>
        </Router>
    }
}
