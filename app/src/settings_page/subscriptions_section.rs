//! Settings > Subscriptions: the cloud subscriptions discovery scans, with who added each
//! and when; admins add one (checked in the form by the server's rules) and remove one
//! after confirming. Auditors see the list.

use super::api::{subscriptions_overview, AddSubscription, RemoveSubscription};
use crate::admin::{Confirmed, Outcome, Problem};
use crate::audit::time::Clock;
use crate::subscriptions::{said, Cloud, NewSubscription, Subscription};
use leptos::prelude::*;

#[component]
pub fn Subscriptions() -> impl IntoView {
    let add = ServerAction::<AddSubscription>::new();
    let remove = ServerAction::<RemoveSubscription>::new();
    // Read again only after a change was made: a refused one keeps the form as typed.
    let changed = RwSignal::new(0u32);
    let overview = Resource::new(move || changed.get(), |_| subscriptions_overview());
    let outcome = Outcome::new();
    Effect::new(move |_| {
        if let Some(result) = add.value().get() {
            if result.is_ok() {
                changed.update(|n| *n += 1);
            }
            outcome.show(result.map(|s| format!("Added subscription {} ({}).", s.display_name, s.subscription_id)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            if result.is_ok() {
                changed.update(|n| *n += 1);
            }
            outcome.show(result.map(|s| format!("Removed subscription {} ({}).", s.display_name, s.subscription_id)));
        }
    });
    view! {
        <section class="subscriptions" aria-labelledby="subscriptions-heading">
            <h2 id="subscriptions-heading">"Subscriptions"</h2>
            <p class="lead">"The cloud subscriptions discovery scans for secrets and certificates."</p>
            <Problem outcome/>
            <Transition fallback=|| view! { <p class="state loading visible">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(view) => {
                            let may_change = view.may_change;
                            view! {
                                <SubscriptionTable subscriptions=view.subscriptions may_change remove/>
                                {may_change.then(|| view! { <AddForm add/> })}
                                {(!may_change)
                                    .then(|| {
                                        view! { <p class="read-only">"Only an admin can add or remove subscriptions."</p> }
                                    })}
                            }
                                .into_any()
                        }
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SubscriptionTable(
    subscriptions: Vec<Subscription>,
    may_change: bool,
    remove: ServerAction<RemoveSubscription>,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    if subscriptions.is_empty() {
        return view! { <p class="state empty">"No subscriptions yet."</p> }.into_any();
    }
    let rows = subscriptions
        .into_iter()
        .map(|s| {
            let id = s.subscription_id.clone();
            let name = s.display_name.clone();
            let action = may_change.then(|| {
                view! {
                    <Confirmed
                        label=format!("Remove {name} ({id})")
                        text="Remove"
                        question=format!("Remove {name}? Discovery stops scanning it. ")
                        confirm="Confirm remove"
                        on_confirm=Callback::new(move |()| {
                            remove.dispatch(RemoveSubscription { subscription_id: id.clone() });
                        })
                    />
                }
            });
            view! {
                <tr>
                    <td class="name">{s.display_name.clone()}</td>
                    <td>
                        <code>{s.subscription_id.clone()}</code>
                    </td>
                    <td>{s.cloud.label()}</td>
                    <td>{clock.show(s.added_at)}</td>
                    <td>{s.added_by.clone()}</td>
                    <td class="actions">{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="subscriptions">
            <thead>
                <tr>
                    <th scope="col">"Display name"</th>
                    <th scope="col">"Subscription ID"</th>
                    <th scope="col">"Cloud"</th>
                    <th scope="col">"Added"</th>
                    <th scope="col">"Added by"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn AddForm(add: ServerAction<AddSubscription>) -> impl IntoView {
    let (id, name) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let cloud = RwSignal::new(Cloud::Azure);
    let problem = RwSignal::new(None::<String>);
    // Added: the form is cleared for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            id.set(String::new());
            name.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewSubscription {
            subscription_id: id.get_untracked(),
            display_name: name.get_untracked(),
            cloud: cloud.get_untracked().as_str().to_owned(),
        };
        // The server's own rules, before anything is sent.
        match new.check() {
            Err(e) => problem.set(Some(said(&e))),
            Ok(_) => {
                problem.set(None);
                add.dispatch(AddSubscription {
                    subscription_id: new.subscription_id,
                    display_name: new.display_name,
                    cloud: new.cloud,
                });
            }
        }
    };
    view! {
        <form class="admin-form" aria-label="Add a subscription" on:submit=submit>
            <h3>"Add a subscription"</h3>
            <label for="subscription-id">"Subscription ID"</label>
            <input
                id="subscription-id"
                type="text"
                autocomplete="off"
                spellcheck="false"
                placeholder="00000000-0000-0000-0000-000000000000"
                bind:value=id
            />
            <label for="subscription-name">"Display name"</label>
            <input id="subscription-name" type="text" autocomplete="off" bind:value=name/>
            <label for="subscription-cloud">"Cloud"</label>
            <select
                id="subscription-cloud"
                on:change=move |ev| {
                    if let Ok(chosen) = event_target_value(&ev).parse() {
                        cloud.set(chosen);
                    }
                }
            >
                {Cloud::ALL
                    .into_iter()
                    .map(|c| view! { <option value=c.as_str() selected=move || cloud.get() == c>{c.label()}</option> })
                    .collect_view()}
            </select>
            {move || problem.get().map(|message| view! { <p class="outcome problem" role="alert">{message}</p> })}
            <button type="submit" disabled=move || add.pending().get()>
                "Add subscription"
            </button>
        </form>
    }
}
