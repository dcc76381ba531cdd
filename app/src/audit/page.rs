//! The `/audit` page: the newest entries, server-rendered, then paged in the browser.

use super::api::{list_entries, AuditError};
use crate::entry::{ActorType, AuditEntry, EntryPage};
use crate::filter::EntryQuery;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn AuditPage() -> impl IntoView {
    let location = use_location();
    // The URL is the state: the query string is read as `GET /audit/entries` reads it.
    let query = Memo::new(move |_| location.search.get().trim_start_matches('?').to_owned());
    let page = Resource::new(move || query.get(), list_entries);

    // Browser tests wait for this before they click.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <section class="audit" data-hydrated=move || hydrated.get().then_some("true")>
            <h1>"Audit log"</h1>
            <Transition fallback=|| view! { <p class="state loading">"Loading entries…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! { <EntryTable page/> }.into_any(),
                        Err(error) => view! { <ErrorState error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ErrorState(error: AuditError) -> impl IntoView {
    view! {
        <p class="state error" role="alert">
            {error.to_string()}
        </p>
    }
}

#[component]
fn EntryTable(page: EntryPage) -> impl IntoView {
    let first = page.offset + 1;
    let last = page.offset + page.entries.len() as u64;
    let summary = if page.total == 0 {
        "No audit entries match.".to_owned()
    } else if page.entries.is_empty() {
        format!("No entries on this page ({} in all)", page.total)
    } else {
        format!("Showing {first}–{last} of {}", page.total)
    };
    view! {
        <p class="summary" aria-live="polite">{summary}</p>
        <div class="table-scroll">
            <table class="entries">
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
                    {page.entries.iter().map(|e| view! { <EntryRow entry=e.clone()/> }).collect_view()}
                </tbody>
            </table>
        </div>
        <Pager page/>
    }
}

#[component]
fn EntryRow(entry: AuditEntry) -> impl IntoView {
    let actor_class = match entry.actor.kind {
        ActorType::User => "actor user",
        ActorType::System => "actor system",
        ActorType::Service => "actor service",
    };
    let details = serde_json::to_string(&entry.details).unwrap_or_default();
    let severity = entry.severity.as_str();
    view! {
        <tr id=entry.id.clone() class=format!("entry severity-{severity}")>
            <td class="time">
                <time datetime=entry.timestamp.to_rfc3339()>
                    {entry.timestamp.format("%Y-%m-%d %H:%M:%S UTC").to_string()}
                </time>
            </td>
            <td class="event-type">
                <code>{entry.event_type.clone()}</code>
            </td>
            <td class=actor_class title=entry.actor.id.clone()>
                <span class="actor-kind">{entry.actor.kind.as_str()}</span>
                " "
                {entry.actor.name.clone()}
            </td>
            <td class="description">{entry.description.clone()}</td>
            <td class="details">
                <code>{details}</code>
            </td>
            <td class="severity">
                <span class=format!("badge {severity}")>{severity}</span>
            </td>
        </tr>
    }
}

/// Previous/next links: plain links, so paging works before hydration and without script;
/// once hydrated the router follows them in the page and only the table is re-fetched.
#[component]
fn Pager(page: EntryPage) -> impl IntoView {
    let location = use_location();
    let base =
        EntryQuery::from_query_string(location.search.get_untracked().trim_start_matches('?')).unwrap_or_default();
    let link = move |offset: u64| {
        let mut q = base.clone();
        q.offset = (offset > 0).then(|| offset.to_string());
        let qs = q.to_query_string();
        if qs.is_empty() {
            "/audit".to_owned()
        } else {
            format!("/audit?{qs}")
        }
    };
    let limit = u64::from(page.limit);
    let prev = (page.offset > 0).then(|| link(page.offset.saturating_sub(limit)));
    let next = (page.offset + limit < page.total).then(|| link(page.offset + limit));
    view! {
        <nav class="pager" aria-label="Pages">
            {match prev {
                Some(href) => view! { <a class="prev" rel="prev" href=href>"← Newer"</a> }.into_any(),
                None => view! { <span class="prev disabled">"← Newer"</span> }.into_any(),
            }}
            {match next {
                Some(href) => view! { <a class="next" rel="next" href=href>"Older →"</a> }.into_any(),
                None => view! { <span class="next disabled">"Older →"</span> }.into_any(),
            }}
        </nav>
    }
}
