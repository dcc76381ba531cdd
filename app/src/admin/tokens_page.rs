//! The API tokens page (admins): create a token (name, scopes, optional expiry), shown
//! once with a copy button; every token listed (name, scopes, created by, created, last
//! used, expires; never the secret); revoke. The server records each change.

use super::api::{list_tokens, CreateToken, RevokeToken};
use super::{Confirmed, Outcome, Problem};
use crate::audit::time::Clock;
use crate::tokens::{Scope, TokenInfo};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let outcome = Outcome::new();
    // Browser tests wait for this before they click.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Effect::new(move |_| {
        if let Some(result) = create.value().get() {
            outcome.show(result.map(|made| format!("Created token {}.", made.info.name)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = revoke.value().get() {
            outcome.show(result.map(|t| format!("Revoked token {}: it is refused from now on.", t.name)));
        }
    });
    let secret = move || create.value().get().and_then(Result::ok).map(|made| made.secret);
    view! {
        <Title text="API tokens · CertifyClouds Audit"/>
        <section class="admin tokens" data-hydrated=move || hydrated.get().to_string()>
            <h1>"API tokens"</h1>
            <Problem outcome/>
            {move || secret().map(|secret| view! { <ShownOnce secret/> })}
            <Transition fallback=|| view! { <p class="state loading visible">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) => view! { <TokenTable tokens=list revoke/> }.into_any(),
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <CreateForm create/>
        </section>
    }
}

/// A new token's secret, this once, with a button that copies it.
#[component]
fn ShownOnce(secret: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = secret.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <div class="shown-once" role="region" aria-label="New token">
            <p>
                <strong>"Copy this token now: it is not shown again."</strong>
            </p>
            <label for="new-token-secret">"New token"</label>
            <input id="new-token-secret" type="text" readonly=true value=secret/>
            <button type="button" on:click=copy>
                "Copy"
            </button>
            <span role="status">{move || copied.get().then_some("Copied.")}</span>
        </div>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenInfo>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let now = chrono::Utc::now();
    if tokens.is_empty() {
        return view! { <p class="state empty">"No API tokens yet."</p> }.into_any();
    }
    let rows = tokens
        .into_iter()
        .map(|token| {
            let id = token.id;
            let scopes: Vec<&str> = token.scopes.iter().map(|s| s.as_str()).collect();
            let expires = match token.expires_at {
                None => "never".to_owned(),
                Some(t) if t <= now => format!("{} (expired)", clock.show(t)),
                Some(t) => clock.show(t),
            };
            let label = format!("Revoke {}", token.name);
            let asked = format!("Revoke {}? ", token.name);
            view! {
                <tr>
                    <td class="name">{token.name.clone()}</td>
                    <td>{scopes.join(", ")}</td>
                    <td>{token.created_by.clone().unwrap_or_else(|| "-".to_owned())}</td>
                    <td>{clock.show(token.created_at)}</td>
                    <td>{token.last_used_at.map_or_else(|| "never".to_owned(), |t| clock.show(t))}</td>
                    <td>{expires}</td>
                    <td class="actions">
                        <Confirmed
                            label
                            text="Revoke"
                            question=asked
                            confirm="Confirm revoke"
                            on_confirm=Callback::new(move |()| {
                                revoke.dispatch(RevokeToken { id });
                            })
                        />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="tokens">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Scopes"</th>
                    <th scope="col">"Created by"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn CreateForm(create: ServerAction<CreateToken>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let chosen = RwSignal::new(vec![Scope::Read]);
    let invalid = RwSignal::new(None::<&'static str>);
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            name.set(String::new());
            days.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let days = days.get_untracked();
        let expires_in_days = match days.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(n) if (1..=3650).contains(&n) => Some(n),
                _ => {
                    invalid.set(Some("Expires in (days): a whole number from 1 to 3650, or empty for never."));
                    return;
                }
            },
        };
        invalid.set(None);
        create.dispatch(CreateToken { name: name.get_untracked(), scopes: chosen.get_untracked(), expires_in_days });
    };
    let scope = move |scope: Scope, help: &'static str| {
        view! {
            <label class="check">
                <input
                    type="checkbox"
                    prop:checked=move || chosen.with(|c| c.contains(&scope))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        chosen.update(|c| {
                            c.retain(|s| *s != scope);
                            if on {
                                c.push(scope);
                            }
                        });
                    }
                />
                {scope.as_str()}
                <span class="hint">{help}</span>
            </label>
        }
    };
    view! {
        <form class="admin-form" aria-label="Create a token" on:submit=submit>
            <h2>"Create a token"</h2>
            <label for="token-name">"Name"</label>
            <input id="token-name" type="text" autocomplete="off" required=true bind:value=name/>
            <fieldset>
                <legend>"Scopes"</legend>
                {scope(Scope::Read, " list, read and export entries")}
                {scope(Scope::Ingest, " post events")}
                {scope(Scope::Admin, " everything, users and tokens included")}
            </fieldset>
            <label for="token-days">"Expires in (days)"</label>
            <input id="token-days" type="number" min="1" max="3650" inputmode="numeric" bind:value=days/>
            <p class="hint">"Leave empty for a token that does not expire."</p>
            {move || invalid.get().map(|message| view! { <p class="outcome problem" role="alert">{message}</p> })}
            <button type="submit" disabled=move || create.pending().get()>
                "Create token"
            </button>
        </form>
    }
}
