//! Settings > Integrations: where the log is delivered (Splunk HEC, signed webhooks, JSON
//! lines on standard output for Log Analytics) and how each delivery stands: its state,
//! backlog, entries delivered, last success, last error with the receiver's answer and next
//! retry. Admins add and remove destinations, send a test event and replay from a sequence
//! number; a webhook's signing secret is shown once, when it is made. Auditors see that
//! the section exists, not the destinations (their addresses may carry credentials).

use super::delivery_api::{
    destinations_overview, AddDestination, RemoveDestination, ReplayDestination, TestDestination,
};
use crate::admin::{Confirmed, Outcome, Problem};
use crate::audit::time::Clock;
use crate::destinations::{Destination, DestinationHealth, DestinationKind, NewDestination};
use crate::entry::Severity;
use leptos::prelude::*;

#[component]
pub fn Integrations() -> impl IntoView {
    let add = ServerAction::<AddDestination>::new();
    let remove = ServerAction::<RemoveDestination>::new();
    let test = ServerAction::<TestDestination>::new();
    let replay = ServerAction::<ReplayDestination>::new();
    let changed = RwSignal::new(0u32);
    let overview = Resource::new(move || changed.get(), |_| destinations_overview());
    let outcome = Outcome::new();
    let secret = RwSignal::new(None::<String>);
    let refresh = move || changed.update(|n| *n += 1);
    Effect::new(move |_| {
        if let Some(result) = add.value().get() {
            if let Ok(created) = &result {
                secret.set(created.secret.clone());
                refresh();
            }
            outcome.show(result.map(|c| format!("Added destination {}.", c.destination.name)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            if result.is_ok() {
                refresh();
            }
            outcome.show(result.map(|d| format!("Removed destination {}.", d.name)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = test.value().get() {
            refresh();
            outcome.show(result.map(|t| match t.delivered {
                true => format!("Test event delivered: {}", t.answer),
                false => format!("Test event not delivered: {}", t.answer),
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = replay.value().get() {
            refresh();
            outcome.show(result.map(|r| format!("Delivery goes again from entry {}.", r.from_sequence)));
        }
    });
    view! {
        <section class="integrations" aria-labelledby="integrations-heading">
            <h2 id="integrations-heading">"Integrations"</h2>
            <p class="lead">
                "Where the audit log is delivered: Splunk HTTP Event Collector, signed webhooks, or JSON lines on standard output for Azure Log Analytics. Nothing is lost while a receiver is down: delivery waits and goes on from where it stopped."
            </p>
            <Problem outcome/>
            {move || {
                secret
                    .get()
                    .map(|s| {
                        view! {
                            <p class="secret" role="status">
                                "Signing secret (shown once; keep it for the receiver): "
                                <code>{s}</code>
                            </p>
                        }
                    })
            }}
            <Transition fallback=|| view! { <p class="state loading visible">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(view) if view.may_change => {
                            view! {
                                <DestinationTable destinations=view.destinations remove test replay/>
                                <AddForm add/>
                            }
                                .into_any()
                        }
                        Ok(_) => {
                            view! { <p class="read-only">"Only an admin can see and change the integrations."</p> }
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
fn DestinationTable(
    destinations: Vec<(Destination, DestinationHealth)>,
    remove: ServerAction<RemoveDestination>,
    test: ServerAction<TestDestination>,
    replay: ServerAction<ReplayDestination>,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    if destinations.is_empty() {
        return view! { <p class="state empty">"No destinations yet."</p> }.into_any();
    }
    let rows = destinations
        .into_iter()
        .map(|(d, health)| {
            let (id, name) = (d.id, d.name.clone());
            let from = RwSignal::new(String::new());
            let wrong = RwSignal::new(false);
            let replay_from = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                match from.get_untracked().trim().parse::<u64>() {
                    Ok(from_sequence) if from_sequence > 0 => {
                        wrong.set(false);
                        replay.dispatch(ReplayDestination { id, from_sequence });
                    }
                    _ => wrong.set(true),
                }
            };
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or_else(|| "—".to_owned(), |t| clock.show(t));
            let events = format!("{} (≥ {})", d.event_types.join(", "), d.min_severity.as_str());
            let address = d.url.clone().unwrap_or_else(|| "standard output".to_owned());
            view! {
                <tr>
                    <th scope="row" class="name">{d.name.clone()}</th>
                    // Alert rules name the destinations they tell by this id.
                    <td class="id">{id}</td>
                    <td>{d.kind.label()}</td>
                    <td class="address">
                        <code>{address}</code>
                    </td>
                    <td>{events}</td>
                    <td class=format!("state {}", health.state)>{health.state.clone()}</td>
                    <td>{health.backlog}</td>
                    <td>{health.delivered}</td>
                    <td>{when(health.last_success_at)}</td>
                    <td class="error">{health.last_error.clone().unwrap_or_else(|| "—".to_owned())}</td>
                    <td>{when(health.next_retry_at)}</td>
                    <td class="actions">
                        <button
                            type="button"
                            aria-label=format!("Send test event to {name}")
                            on:click=move |_| {
                                test.dispatch(TestDestination { id });
                            }
                        >
                            "Send test event"
                        </button>
                        <form class="replay" aria-label=format!("Replay {name}") on:submit=replay_from>
                            <label for=format!("replay-{id}")>"Replay from entry"</label>
                            <input id=format!("replay-{id}") type="number" min="1" bind:value=from/>
                            <button type="submit">"Replay"</button>
                            {move || {
                                wrong
                                    .get()
                                    .then(|| {
                                        view! {
                                            <p class="outcome problem" role="alert">
                                                "Replay from entry: a sequence number, 1 or more."
                                            </p>
                                        }
                                    })
                            }}
                        </form>
                        <Confirmed
                            label=format!("Remove {name}")
                            text="Remove"
                            question=format!("Remove {name}? What it has not delivered is not delivered. ")
                            confirm="Confirm remove"
                            on_confirm=Callback::new(move |()| {
                                remove.dispatch(RemoveDestination { id });
                            })
                        />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="destinations" aria-label="Destinations and their delivery">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Id"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Address"</th>
                    <th scope="col">"Events"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Backlog"</th>
                    <th scope="col">"Delivered"</th>
                    <th scope="col">"Last success"</th>
                    <th scope="col">"Last error"</th>
                    <th scope="col">"Next retry"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn AddForm(add: ServerAction<AddDestination>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(DestinationKind::SplunkHec);
    let (url, token, index) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let events = RwSignal::new("audit.*".to_owned());
    let severity = RwSignal::new(Severity::Info);
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            for field in [name, url, token, index] {
                field.set(String::new());
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let kind = kind.get_untracked();
        let text = |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        let new = NewDestination {
            name: name.get_untracked(),
            kind: kind.as_str().to_owned(),
            url: (kind != DestinationKind::Stdout).then(|| url.get_untracked()),
            token: (kind == DestinationKind::SplunkHec).then(|| token.get_untracked()),
            index: if kind == DestinationKind::SplunkHec { text(index) } else { None },
            event_types: Some(
                events.get_untracked().split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
            ),
            min_severity: Some(severity.get_untracked().as_str().to_owned()),
            ..NewDestination::default()
        };
        // The server's own rules, before anything is sent.
        match new.check() {
            Err(e) => problem.set(Some(e.to_string())),
            Ok(_) => {
                problem.set(None);
                add.dispatch(AddDestination { new });
            }
        }
    };
    let is = move |k: DestinationKind| kind.get() == k;
    view! {
        <form class="admin-form" aria-label="Add a destination" on:submit=submit>
            <h3>"Add a destination"</h3>
            <label for="destination-name">"Name"</label>
            <input id="destination-name" type="text" autocomplete="off" bind:value=name/>
            <label for="destination-kind">"Kind"</label>
            <select
                id="destination-kind"
                on:change=move |ev| {
                    if let Ok(chosen) = event_target_value(&ev).parse() {
                        kind.set(chosen);
                    }
                }
            >
                {DestinationKind::ALL
                    .into_iter()
                    .map(|k| view! { <option value=k.as_str() selected=move || kind.get() == k>{k.label()}</option> })
                    .collect_view()}
            </select>
            <Show when=move || !is(DestinationKind::Stdout)>
                <label for="destination-url">"URL"</label>
                <input id="destination-url" type="url" autocomplete="off" placeholder="https://" bind:value=url/>
            </Show>
            <Show when=move || is(DestinationKind::SplunkHec)>
                <label for="destination-token">"HEC token"</label>
                <input id="destination-token" type="password" autocomplete="off" bind:value=token/>
                <label for="destination-index">"Index (optional)"</label>
                <input id="destination-index" type="text" autocomplete="off" bind:value=index/>
            </Show>
            <label for="destination-events">"Event types"</label>
            <input id="destination-events" type="text" autocomplete="off" bind:value=events/>
            <label for="destination-severity">"Minimum severity"</label>
            <select
                id="destination-severity"
                on:change=move |ev| {
                    if let Ok(chosen) = event_target_value(&ev).parse::<Severity>() {
                        severity.set(chosen);
                    }
                }
            >
                {Severity::ALL
                    .into_iter()
                    .map(|s| view! { <option value=s.as_str() selected=move || severity.get() == s>{s.as_str()}</option> })
                    .collect_view()}
            </select>
            {move || problem.get().map(|message| view! { <p class="outcome problem" role="alert">{message}</p> })}
            <button type="submit" disabled=move || add.pending().get()>
                "Add destination"
            </button>
        </form>
    }
}
