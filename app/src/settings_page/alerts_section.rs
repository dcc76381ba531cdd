//! Settings > Alerts: the alert rules (what they watch, their threshold within a window
//! and grouping, cooldown, the destinations told), the built-in failed sign-in rule among
//! them. Admins add and remove rules; auditors see them.

use super::delivery_api::{alert_rules_overview, AddAlertRule, EnableAlertRule, RemoveAlertRule};
use crate::admin::{Confirmed, Outcome, Problem};
use crate::alert_rules::{AlertRule, RuleFields};
use leptos::prelude::*;

#[component]
pub fn Alerts() -> impl IntoView {
    let add = ServerAction::<AddAlertRule>::new();
    let remove = ServerAction::<RemoveAlertRule>::new();
    let enable = ServerAction::<EnableAlertRule>::new();
    let changed = RwSignal::new(0u32);
    let overview = Resource::new(move || changed.get(), |_| alert_rules_overview());
    let outcome = Outcome::new();
    Effect::new(move |_| {
        if let Some(result) = add.value().get() {
            if result.is_ok() {
                changed.update(|n| *n += 1);
            }
            outcome.show(result.map(|r| format!("Added alert rule {}.", r.name)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = enable.value().get() {
            if result.is_ok() {
                changed.update(|n| *n += 1);
            }
            outcome.show(
                result.map(|r| {
                    format!("Alert rule {} {}.", r.name, if r.config.enabled { "enabled" } else { "disabled" })
                }),
            );
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            if result.is_ok() {
                changed.update(|n| *n += 1);
            }
            outcome.show(result.map(|r| format!("Removed alert rule {}.", r.name)));
        }
    });
    view! {
        <section class="alerts" aria-labelledby="alerts-heading">
            <h2 id="alerts-heading">"Alerts"</h2>
            <p class="lead">
                "Rules that raise an alert (an alert.triggered entry, sent to the destinations they name) when matching entries reach a threshold."
            </p>
            <Problem outcome/>
            <Transition fallback=|| view! { <p class="state loading visible">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(view) => {
                            let may_change = view.may_change;
                            view! {
                                <RuleTable rules=view.rules may_change remove enable/>
                                {may_change.then(|| view! { <AddForm add/> })}
                                {(!may_change)
                                    .then(|| view! { <p class="read-only">"Only an admin can change the alert rules."</p> })}
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
fn RuleTable(
    rules: Vec<AlertRule>,
    may_change: bool,
    remove: ServerAction<RemoveAlertRule>,
    enable: ServerAction<EnableAlertRule>,
) -> impl IntoView {
    let rows = rules
        .into_iter()
        .map(|r| {
            let (id, name) = (r.id, r.name.clone());
            let threshold = r.config.threshold.as_ref().map_or_else(
                || "every match".to_owned(),
                |t| {
                    let per = t.group_by.as_deref().map(|g| format!(" per {g}")).unwrap_or_default();
                    format!("{} within {} min{per}", t.count, t.window_seconds / 60)
                },
            );
            let enabled = r.config.enabled;
            let toggle = may_change.then(|| {
                let label = format!("{} {name}", if enabled { "Disable" } else { "Enable" });
                view! {
                    <button
                        type="button"
                        aria-label=label
                        on:click=move |_| {
                            enable.dispatch(EnableAlertRule { id, enabled: !enabled });
                        }
                    >
                        {if enabled { "Disable" } else { "Enable" }}
                    </button>
                }
            });
            let action = (may_change && !r.builtin).then(|| {
                view! {
                    <Confirmed
                        label=format!("Remove {name}")
                        text="Remove"
                        question=format!("Remove the alert rule {name}? ")
                        confirm="Confirm remove"
                        on_confirm=Callback::new(move |()| {
                            remove.dispatch(RemoveAlertRule { id });
                        })
                    />
                }
            });
            view! {
                <tr>
                    <th scope="row">{r.name.clone()}{r.builtin.then_some(" (built in)")}</th>
                    <td>{watches(&r)}</td>
                    <td>{threshold}</td>
                    <td>{format!("{} min", r.config.cooldown_seconds / 60)}</td>
                    <td>
                        {if r.config.destinations.is_empty() {
                            "—".to_owned()
                        } else {
                            r.config.destinations.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                        }}
                    </td>
                    <td>{if r.config.enabled { "yes" } else { "no" }}</td>
                    <td class="actions">{toggle}{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="alert-rules" aria-label="Alert rules">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Watches"</th>
                    <th scope="col">"Threshold"</th>
                    <th scope="col">"Cooldown"</th>
                    <th scope="col">"Destinations"</th>
                    <th scope="col">"Enabled"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// What a rule watches, as its row says it: event types, minimum severity, and the actor
/// or resource it is kept to.
fn watches(rule: &AlertRule) -> String {
    let config = &rule.config;
    let mut text = format!("{} (≥ {})", config.event_types.join(", "), config.min_severity.as_str());
    if let Some(actor) = &config.actor {
        text.push_str(&format!(", by {actor}"));
    }
    if let Some(resource) = &config.resource {
        text.push_str(&format!(", on {resource}"));
    }
    text
}

#[component]
fn AddForm(add: ServerAction<AddAlertRule>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let events = RwSignal::new(String::new());
    let severity = RwSignal::new("info".to_owned());
    let (actor, resource) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let (threshold, window, group_by) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let cooldown = RwSignal::new("600".to_owned());
    let destinations = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            for field in [name, events, actor, resource, threshold, window, group_by, destinations] {
                field.set(String::new());
            }
            severity.set("info".to_owned());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |s: RwSignal<String>, field: &str| -> Result<Option<u32>, String> {
            let text = s.get_untracked();
            match text.trim() {
                "" => Ok(None),
                t => t.parse().map(Some).map_err(|_| format!("{field}: a whole number")),
            }
        };
        let parsed = (|| -> Result<RuleFields, String> {
            let ids = destinations
                .get_untracked()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<i64>().map_err(|_| "destinations: destination ids, such as 1, 2".to_owned()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RuleFields {
                name: Some(name.get_untracked()),
                event_types: Some(
                    events.get_untracked().split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
                ),
                min_severity: Some(severity.get_untracked()),
                actor: Some(actor.get_untracked()).filter(|a| !a.trim().is_empty()),
                resource: Some(resource.get_untracked()).filter(|r| !r.trim().is_empty()),
                threshold: number(threshold, "threshold")?,
                window_seconds: number(window, "window_seconds")?,
                group_by: Some(group_by.get_untracked()).filter(|g| !g.trim().is_empty()),
                cooldown_seconds: number(cooldown, "cooldown_seconds")?,
                destinations: Some(ids),
                ..RuleFields::default()
            })
        })();
        // The server's own rules, before anything is sent.
        match parsed.and_then(|fields| fields.apply(None).map(|_| fields).map_err(|e| e.to_string())) {
            Err(e) => problem.set(Some(e)),
            Ok(fields) => {
                problem.set(None);
                add.dispatch(AddAlertRule { fields });
            }
        }
    };
    view! {
        <form class="admin-form" aria-label="Add an alert rule" on:submit=submit>
            <h3>"Add an alert rule"</h3>
            <label for="rule-name">"Rule name"</label>
            <input id="rule-name" type="text" autocomplete="off" bind:value=name/>
            <label for="rule-events">"Event types to watch"</label>
            <input id="rule-events" type="text" autocomplete="off" placeholder="auth.login.failed" bind:value=events/>
            <label for="rule-severity">"Minimum severity"</label>
            <select id="rule-severity" bind:value=severity>
                <option value="info">"info"</option>
                <option value="warning">"warning"</option>
                <option value="error">"error"</option>
            </select>
            <label for="rule-actor">"Only by actor (id or name)"</label>
            <input id="rule-actor" type="text" autocomplete="off" bind:value=actor/>
            <label for="rule-resource">"Only on resource (id or name)"</label>
            <input id="rule-resource" type="text" autocomplete="off" bind:value=resource/>
            <label for="rule-threshold">"Threshold (matching entries)"</label>
            <input id="rule-threshold" type="number" min="0" bind:value=threshold/>
            <label for="rule-window">"Window (seconds)"</label>
            <input id="rule-window" type="number" min="60" bind:value=window/>
            <label for="rule-group">"Group by"</label>
            <input id="rule-group" type="text" autocomplete="off" placeholder="details.username" bind:value=group_by/>
            <label for="rule-cooldown">"Cooldown (seconds)"</label>
            <input id="rule-cooldown" type="number" min="0" bind:value=cooldown/>
            <label for="rule-destinations">"Destinations (ids)"</label>
            <input id="rule-destinations" type="text" autocomplete="off" bind:value=destinations/>
            {move || problem.get().map(|message| view! { <p class="outcome problem" role="alert">{message}</p> })}
            <button type="submit" disabled=move || add.pending().get()>
                "Add rule"
            </button>
        </form>
    }
}
