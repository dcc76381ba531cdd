//! The sign-in page: a plain form posted to `/login`, so that it works before (and
//! without) the page's script. A refused sign-in comes back here with `failed=1`, and is
//! told the same whatever the reason; `next` is the page to go on to.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_query_map};

/// What a refused sign-in is told, whatever the reason (the log says which).
pub const REFUSED: &str = "The username or password is not right, or the account cannot sign in now.";

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let failed = move || query.with(|q| q.get("failed").is_some());
    view! {
        <Title text="Sign in · CertifyClouds Audit"/>
        <section class="login">
            <h1>"Sign in"</h1>
            <Show when=failed>
                <p class="login-error" role="alert">{REFUSED}</p>
            </Show>
            <form method="post" action="/login">
                <input type="hidden" name="next" value=next/>
                <label for="login-username">"Username"</label>
                <input id="login-username" name="username" type="text" autocomplete="username" required=true/>
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required=true
                />
                <button type="submit">"Sign in"</button>
            </form>
        </section>
    }
}

/// The session ended while the page was open: the way back in, to this same view.
#[component]
pub fn SignedOut() -> impl IntoView {
    let location = use_location();
    let sign_in = move || {
        let search = location.search.get();
        let search = search.trim_start_matches('?');
        let here =
            if search.is_empty() { location.pathname.get() } else { format!("{}?{search}", location.pathname.get()) };
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("next", &here).finish();
        format!("/login?{query}")
    };
    view! {
        <div class="state error" role="alert">
            <p>"Your session has ended."</p>
            <p>
                <a href=sign_in>"Sign in again"</a>
            </p>
        </div>
    }
}
