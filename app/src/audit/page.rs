//! The `/audit` page: filters, the entries table, its pages and the details panel. The
//! state is the URL: the page reads it, and every control changes it.

use super::api::{list_entries, AuditError};
use super::details::DetailsPanel;
use super::export_dialog::{ExportButton, ExportDialog, ExportOpen};
use super::filters::FilterBar;
use super::live::{Live, LiveToggle};
use super::table::{EntryTable, OpenEntry};
use super::time::TimeZoneSwitch;
use super::timeline::Timeline;
use super::url::{self, chips};
use crate::entry::EntryPage;
use crate::filter::EntryQuery;
use crate::search::query_words;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn AuditPage() -> impl IntoView {
    let location = use_location();
    let parsed = Memo::new(move |_| url::parse(&location.search.get()));
    let query = Signal::derive(move || parsed.get().unwrap_or_default());
    // What the server function is asked: the tidied query, or the raw one when it does
    // not parse (the server then says what is wrong with it).
    let asked = Memo::new(move |_| match parsed.get() {
        Ok(q) => q.to_query_string(),
        Err(raw) => raw,
    });
    let page = Resource::new(move || asked.get(), list_entries);
    // Paging does not change the timeline, so it is not fetched again for a new page.
    let timeline_key =
        Memo::new(move |_| parsed.get().ok().map(|q| EntryQuery { offset: None, limit: None, ..q }.to_query_string()));
    let loading = RwSignal::new(false);
    // Made here, not in the Suspend: a signal made there is disposed when the next
    // query starts, while the rows still showing (that read it) stay until it ends.
    let busy = Signal::from(loading);
    provide_context(OpenEntry(RwSignal::new(None)));
    provide_context(Live::new());
    provide_context(ExportOpen(RwSignal::new(false)));
    // `try_get`: the export dialog's count may read this after the server rendered the page.
    let total = Signal::derive(move || page.try_get().flatten().and_then(Result::ok).map(|p| (p.total, p.total_exact)));
    let first_page = Signal::derive(move || query.with(|q| q.offset.as_deref().is_none_or(|o| o == "0")));
    // The newest entry shown: live updates continue after it.
    let newest = Signal::derive(move || {
        let page = page.get()?.ok()?;
        let seq = page.entries.iter().map(|e| e.sequence).max()?;
        let time = page.entries.iter().map(|e| e.timestamp).max()?;
        Some((seq, time))
    });

    // Browser tests wait for this before they click.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let fallback = || view! { <p class="state loading visible">"Loading entries…"</p> };
    let rows = move || {
        Suspend::new(async move {
            match page.await {
                Ok(result) => view! { <Results page=result query busy/> }.into_any(),
                Err(error) => view! { <ErrorState error/> }.into_any(),
            }
        })
    };
    // `set_pending` runs an effect on the server too, where its read of the pending set
    // can meet another worker's write and panic (leptos 0.8 reads it without waiting).
    // Nothing is pending in the server's HTML, so only the browser tracks it.
    #[cfg(feature = "hydrate")]
    let results = view! { <Transition fallback set_pending=loading.write_only()>{rows}</Transition> };
    #[cfg(not(feature = "hydrate"))]
    let results = view! { <Transition fallback>{rows}</Transition> };

    view! {
        <section class="audit" data-hydrated=move || hydrated.get().then_some("true")>
            <header class="audit-header">
                <h1>"Audit log"</h1>
                <ExportButton/>
                <LiveToggle filters=timeline_key first_page newest/>
                <TimeZoneSwitch/>
            </header>
            <FilterBar query/>
            <Timeline key=timeline_key query/>
            <p class="state loading" role="status" class:visible=move || loading.get()>
                {move || if loading.get() { "Loading entries…" } else { "" }}
            </p>
            <div class="results">
                {results}
                <DetailsPanel/>
                <ExportDialog filters=timeline_key query total/>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn ErrorState(error: AuditError) -> impl IntoView {
    if error == AuditError::SignedOut {
        return view! { <crate::login::SignedOut/> }.into_any();
    }
    let what = match &error {
        AuditError::BadQuery(_) => "This view's filters are not valid: ",
        _ => "The entries could not be loaded: ",
    };
    view! {
        <div class="state error" role="alert">
            <p>{what} {error.to_string()}</p>
            <p>
                <a href="/audit">"Show all entries"</a>
            </p>
        </div>
    }
    .into_any()
}

#[component]
fn Results(page: EntryPage, query: Signal<EntryQuery>, busy: Signal<bool>) -> impl IntoView {
    let current = query.get_untracked();
    if page.total == 0 {
        return view! { <EmptyState query=current/> }.into_any();
    }
    let terms = current.q.as_deref().map(query_words).unwrap_or_default();
    let first = page.offset + 1;
    let last = page.offset + page.entries.len() as u64;
    // A common search word is counted only so far: say so rather than guess.
    let total = if page.total_exact { page.total.to_string() } else { format!("at least {}", page.total) };
    let summary = if page.entries.is_empty() {
        format!("No entries on this page ({total} in all)")
    } else {
        format!("Showing {first}–{last} of {total}")
    };
    view! {
        <p class="summary" aria-live="polite">{summary}</p>
        <EntryTable entries=page.entries.clone() terms busy/>
        <Pager page query=current/>
    }
    .into_any()
}

/// Nothing matches: say which filters hide everything, each removable.
#[component]
fn EmptyState(query: EntryQuery) -> impl IntoView {
    let active = chips(&query);
    if active.is_empty() {
        return view! { <p class="state empty">"No audit entries have been recorded yet."</p> }.into_any();
    }
    view! {
        <div class="state empty">
            <p>"No entries match these filters:"</p>
            <ul>
                {active
                    .into_iter()
                    .map(|chip| {
                        view! {
                            <li>
                                {chip.label()} " " <a href=chip.remove>"remove"</a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <p>
                <a href=url::href(&url::cleared(&query))>"Clear all filters"</a>
            </p>
        </div>
    }
    .into_any()
}

/// First, newer and older pages: plain links, so paging works before hydration and
/// without script; once hydrated the router follows them in the page.
#[component]
fn Pager(page: EntryPage, query: EntryQuery) -> impl IntoView {
    let link = move |offset: u64| {
        let mut q = query.clone();
        q.offset = (offset > 0).then(|| offset.to_string());
        url::href(&q)
    };
    let limit = u64::from(page.limit);
    let first = (page.offset > 0).then(|| link(0));
    let prev = (page.offset > 0).then(|| link(page.offset.saturating_sub(limit)));
    let next = page.has_more().then(|| link(page.offset + limit));
    let pages = page.total.div_ceil(limit.max(1));
    let at = page.offset / limit.max(1) + 1;
    let position =
        if page.total_exact { format!("Page {at} of {pages}") } else { format!("Page {at} of at least {pages}") };
    let item = |href: Option<String>, class: &'static str, rel: &'static str, text: &'static str| match href {
        Some(href) => view! { <a class=class rel=rel href=href>{text}</a> }.into_any(),
        None => view! { <span class=format!("{class} disabled") aria-disabled="true">{text}</span> }.into_any(),
    };
    view! {
        <nav class="pager" aria-label="Pages">
            {item(first, "first", "first", "« Newest")}
            {item(prev, "prev", "prev", "← Newer")}
            <span class="position">{position}</span>
            {item(next, "next", "next", "Older →")}
        </nav>
    }
    .into_any()
}
