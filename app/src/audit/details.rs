//! Everything about one entry: in the side panel of the table and on its own page
//! (`/audit/{id}`), which is the address to share.

use super::api::{get_entry, AuditError};
use super::table::OpenEntry;
use super::time::Clock;
use crate::catalogue;
use crate::entry::AuditEntry;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::{Map, Value};

/// A change recorded in the details: a setting (or field) with its value before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// The changes an entry's details describe: `old_value`/`new_value` (named by `setting`
/// or `field` when present) and every `old_X`/`new_X` pair.
pub fn changes(details: &Map<String, Value>) -> Vec<Change> {
    let mut out = Vec::new();
    if let (Some(before), Some(after)) = (details.get("old_value"), details.get("new_value")) {
        let field = ["setting", "field", "name"]
            .iter()
            .find_map(|k| details.get(*k).and_then(Value::as_str))
            .unwrap_or("value")
            .to_owned();
        out.push(Change { field, before: show(before), after: show(after) });
    }
    // `changes`: {field: {old, new}}, as user.updated and destination.updated record them.
    if let Some(Value::Object(nested)) = details.get("changes") {
        for (field, change) in nested {
            if let (Some(before), Some(after)) = (change.get("old"), change.get("new")) {
                out.push(Change { field: field.clone(), before: show(before), after: show(after) });
            }
        }
    }
    for (key, before) in details {
        let Some(field) = key.strip_prefix("old_") else { continue };
        if field == "value" {
            continue;
        }
        if let Some(after) = details.get(&format!("new_{field}")) {
            out.push(Change { field: field.to_owned(), before: show(before), after: show(after) });
        }
    }
    out
}

/// A details value as a reader wants it: strings bare, everything else as JSON.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

#[component]
pub fn EntryDetails(entry: AuditEntry) -> impl IntoView {
    let spec = catalogue::lookup(&entry.event_type);
    let category = catalogue::category_of(&entry.event_type).label();
    let severity = entry.severity.as_str();
    let exact = entry.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let clock = expect_context::<Clock>();
    let ts = entry.timestamp;
    let raw = serde_json::to_string_pretty(&entry).unwrap_or_default();
    let changes = changes(&entry.details);
    let details: Vec<(String, String)> = entry.details.iter().map(|(k, v)| (k.clone(), show(v))).collect();
    let optional = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
    let received = entry.received_at.map(|t| (t, t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)));
    let posted_by = match &entry.ingested_by {
        Some(token) => format!("API token \"{}\" (id {})", token.name, token.id),
        None if entry.received_at.is_some() => "CertifyClouds (its own record)".to_owned(),
        None => "—".to_owned(),
    };
    view! {
        <div class="entry-details">
            <dl class="fields">
                <dt>"ID"</dt>
                <dd>
                    <a href=format!("/audit/{}", entry.id)>{entry.id.clone()}</a>
                </dd>
                <dt>"Time"</dt>
                <dd>
                    <time datetime=exact.clone() title=format!("{exact} (UTC)")>
                        {move || clock.show(ts)}
                    </time>
                    <br/>
                    <code class="exact">{exact.clone()}</code>
                </dd>
                <dt>"Event type"</dt>
                <dd>
                    <code>{entry.event_type.clone()}</code>
                    " · "
                    {category}
                    {spec.map(|s| format!(" · {}", s.summary))}
                </dd>
                <dt>"Severity"</dt>
                <dd>
                    <span class=format!("badge {severity}")>{severity}</span>
                </dd>
                <dt>"Actor"</dt>
                <dd>
                    {format!("{} ({}, id {})", entry.actor.name, entry.actor.kind.as_str(), entry.actor.id)}
                </dd>
                <dt>"Resource"</dt>
                <dd>
                    {match &entry.resource {
                        Some(r) => format!("{} ({}, id {})", r.name.as_deref().unwrap_or(&r.id), r.kind, r.id),
                        None => "—".to_owned(),
                    }}
                </dd>
                <dt>"Description"</dt>
                <dd>{entry.description.clone()}</dd>
                <dt>"IP address"</dt>
                <dd>{optional(&entry.ip_address)}</dd>
                <dt>"User agent"</dt>
                <dd>{optional(&entry.user_agent)}</dd>
                <dt>"Received"</dt>
                <dd>
                    {match received {
                        Some((at, exact)) => {
                            view! {
                                <time datetime=exact.clone() title=format!("{exact} (UTC)")>
                                    {move || clock.show(at)}
                                </time>
                            }
                                .into_any()
                        }
                        None => "—".into_any(),
                    }}
                </dd>
                <dt>"Ingested by"</dt>
                <dd>{posted_by}</dd>
                <dt>"Sequence"</dt>
                <dd>{entry.sequence}</dd>
                <dt>"Hash"</dt>
                <dd>
                    <code class="hash">{entry.hash.clone()}</code>
                </dd>
                <dt>"Previous hash"</dt>
                <dd>
                    <code class="hash">{entry.prev_hash.clone()}</code>
                </dd>
            </dl>
            {(!changes.is_empty())
                .then(|| {
                    view! {
                        <table class="changes">
                            <caption>"Change"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Field"</th>
                                    <th scope="col">"Before"</th>
                                    <th scope="col">"After"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {changes
                                    .into_iter()
                                    .map(|c| {
                                        view! {
                                            <tr>
                                                <th scope="row">{c.field}</th>
                                                <td class="before">{c.before}</td>
                                                <td class="after">{c.after}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                })}
            <h3>"Details"</h3>
            {if details.is_empty() {
                view! { <p class="muted">"No details recorded."</p> }.into_any()
            } else {
                view! {
                    <dl class="details-pairs">
                        {details
                            .into_iter()
                            .map(|(k, v)| view! { <dt>{k}</dt> <dd>{v}</dd> })
                            .collect_view()}
                    </dl>
                }
                    .into_any()
            }}
            <details class="raw">
                <summary>"Raw JSON"</summary>
                <pre>{raw}</pre>
            </details>
        </div>
    }
    .into_any()
}

/// The side panel beside the table; Escape or the close button closes it.
#[component]
pub fn DetailsPanel() -> impl IntoView {
    let open = expect_context::<OpenEntry>().0;
    let close_button = NodeRef::<leptos::html::Button>::new();
    // The entry the panel was opened for, so that focus can return to its row.
    let opened_for = StoredValue::new(None::<String>);
    Effect::new(move |_| {
        if let Some(id) = open.with(|e| e.as_ref().map(|e| e.id.clone())) {
            opened_for.set_value(Some(id));
            if let Some(button) = close_button.get() {
                let _ = button.focus();
            }
        }
    });
    let close = move || {
        open.set(None);
        if let Some(id) = opened_for.get_value() {
            focus_details_link(&id);
        }
    };
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && open.with_untracked(Option::is_some) {
            close();
        }
    });
    on_cleanup(move || escape.remove());
    view! {
        <Show when=move || open.with(Option::is_some)>
            <aside class="details-panel" role="dialog" aria-labelledby="details-title">
                <header>
                    <h2 id="details-title">"Entry details"</h2>
                    <button type="button" class="close" aria-label="Close details" node_ref=close_button on:click=move |_| close()>
                        "×"
                    </button>
                </header>
                {move || open.get().map(|entry| view! { <EntryDetails entry/> })}
            </aside>
        </Show>
    }
    .into_any()
}

/// Puts focus back on the "Details" link of an entry's row.
fn focus_details_link(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let link = document()
            .get_element_by_id(id)
            .and_then(|row| row.query_selector("a.open-details").ok().flatten())
            .and_then(|a| a.dyn_into::<leptos::web_sys::HtmlElement>().ok());
        if let Some(link) = link {
            let _ = link.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// `/audit/{id}`: one entry on its own page.
#[component]
pub fn EntryPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let entry = Resource::new(move || id.get(), get_entry);
    view! {
        <section class="audit-entry">
            <p>
                <a href="/audit">"← Audit log"</a>
            </p>
            <h1>"Audit entry " {move || id.get()}</h1>
            <Suspense fallback=|| view! { <p class="state loading" role="status">"Loading the entry…"</p> }>
                {move || Suspend::new(async move {
                    match entry.await {
                        Ok(entry) => view! { <EntryDetails entry/> }.into_any(),
                        Err(error @ AuditError::NotFound(_)) => {
                            view! { <p class="state empty">{error.to_string()}</p> }.into_any()
                        }
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn settings_changes_show_before_and_after() {
        let d = map(json!({"setting": "audit.retention_days", "old_value": 90, "new_value": 180, "modified_by": "a"}));
        assert_eq!(
            changes(&d),
            vec![Change { field: "audit.retention_days".into(), before: "90".into(), after: "180".into() }]
        );
        let d = map(json!({"old_role": "viewer", "new_role": "admin", "old_team": null}));
        assert_eq!(changes(&d), vec![Change { field: "role".into(), before: "viewer".into(), after: "admin".into() }]);
        assert!(changes(&map(json!({"old_value": 1}))).is_empty());
        let nested = changes(&map(json!({"changes": {"role": {"old": "auditor", "new": "admin"}, "x": {"old": 1}}})));
        assert_eq!(nested, vec![Change { field: "role".into(), before: "auditor".into(), after: "admin".into() }]);
    }
}
