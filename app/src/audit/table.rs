//! The entries table: one row an entry, newest first, search words marked.

use super::highlight::spans;
use super::live::Live;
use super::time::Clock;
use crate::entry::{ActorType, AuditEntry};
use leptos::prelude::*;

/// The entry whose details are open in the side panel, shared by the rows and the panel.
#[derive(Clone, Copy)]
pub struct OpenEntry(pub RwSignal<Option<AuditEntry>>);

#[component]
pub fn EntryTable(entries: Vec<AuditEntry>, terms: Vec<String>, busy: Signal<bool>) -> impl IntoView {
    // Entries that arrived live go above the page's rows.
    let live = use_context::<Live>();
    let fresh_terms = terms.clone();
    view! {
        <div class="table-scroll">
            <table class="entries" aria-busy=move || busy.get().to_string()>
                <caption class="visually-hidden">"Audit entries, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Timestamp"</th>
                        <th scope="col">"Event type"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Description"</th>
                        <th scope="col">"Details"</th>
                        <th scope="col">"Severity"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || live.map(|l| l.entries.get()).unwrap_or_default() key=|e| e.id.clone() let:entry>
                        <EntryRow entry terms=fresh_terms.clone() fresh=true/>
                    </For>
                    {entries.into_iter().map(|entry| view! { <EntryRow entry terms=terms.clone()/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Text with the search words wrapped in `<mark>`.
#[component]
pub fn Marked(text: String, terms: Vec<String>) -> impl IntoView {
    spans(&text, &terms)
        .into_iter()
        .map(|(s, marked)| if marked { view! { <mark>{s}</mark> }.into_any() } else { s.into_any() })
        .collect_view()
}

/// `key: value` pairs of the details, short enough for a table cell.
fn details_summary(entry: &AuditEntry) -> String {
    entry
        .details
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[component]
fn EntryRow(
    entry: AuditEntry,
    terms: Vec<String>,
    /// Arrived live: marked until the reader has seen it.
    #[prop(optional)]
    fresh: bool,
) -> impl IntoView {
    let open = use_context::<OpenEntry>();
    let actor_class = match entry.actor.kind {
        ActorType::User => "actor user",
        ActorType::System => "actor system",
        ActorType::Service => "actor service",
    };
    let severity = entry.severity.as_str();
    let clock = expect_context::<Clock>();
    let ts = entry.timestamp;
    let exact = entry.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let resource = entry.resource.as_ref().map(|r| {
        let name = r.name.clone().unwrap_or_else(|| r.id.clone());
        view! {
            <span class="resource" title=format!("{} {}", r.kind, r.id)>
                <Marked text=name terms=terms.clone()/>
            </span>
        }
    });
    let summary = details_summary(&entry);
    let href = format!("/audit/{}", entry.id);
    let id = entry.id.clone();
    // A plain closure, not a derived signal: rows live inside the page's Suspend, whose
    // signals are disposed when the next query starts while these rows still show.
    let is_open = move || open.is_some_and(|o| o.0.with(|e| e.as_ref().is_some_and(|e| e.id == id)));
    let expanded = is_open.clone();
    let for_panel = entry.clone();
    // With script the link opens the side panel; without, it is the entry's own page.
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(open) = open {
            if !(ev.ctrl_key() || ev.meta_key() || ev.shift_key()) {
                ev.prevent_default();
                open.0.set(Some(for_panel.clone()));
            }
        }
    };
    view! {
        <tr id=entry.id.clone() class=format!("entry severity-{severity}") class:open=is_open class:fresh=fresh>
            <td class="time">
                <time datetime=exact.clone() title=format!("{exact} (UTC)")>
                    {move || clock.show(ts)}
                </time>
            </td>
            <td class="event-type">
                <code>
                    <Marked text=entry.event_type.clone() terms=terms.clone()/>
                </code>
            </td>
            <td class=actor_class title=entry.actor.id.clone()>
                <span class="actor-kind">{entry.actor.kind.as_str()}</span>
                " "
                <Marked text=entry.actor.name.clone() terms=terms.clone()/>
            </td>
            <td class="description">
                <Marked text=entry.description.clone() terms=terms.clone()/>
                {resource.map(|r| view! { <br/> {r} })}
            </td>
            <td class="details">
                <span class="details-summary">{summary}</span>
                <a class="open-details" href=href aria-expanded=move || expanded().to_string() on:click=on_click>
                    "Details"
                </a>
            </td>
            <td class="severity">
                <span class=format!("badge {severity}")>{severity}</span>
            </td>
        </tr>
    }
    .into_any()
}
