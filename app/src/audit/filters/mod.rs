//! The filter bar (its search, date presets, event type picker and actor field in modules
//! of their own) and the chips of the active filters. The bar is a plain GET form whose
//! fields carry the API's parameter names, so it works before (and without) script;
//! once hydrated, every change is applied in the page and pushed to the history.

mod actor;
mod chips;
mod event_types;
mod presets;
mod search;

use super::url::{self, datetime_local, PAGE_SIZES};
use crate::entry::Severity;
use crate::filter::{EntryQuery, DEFAULT_LIMIT};
use actor::ActorInput;
use chips::ActiveFilters;
use event_types::EventTypePicker;
use leptos::html;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use presets::Presets;
use search::SearchInput;
use std::time::Duration;

/// Typing pauses this long before a search or suggestion runs.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Reads the form as the browser would submit it, keeping a date bound the reader did not
/// touch exactly as the URL had it (the field shows it only to the second).
#[cfg(feature = "hydrate")]
fn form_query(form: &leptos::web_sys::HtmlFormElement, before: &EntryQuery) -> Option<EntryQuery> {
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::{FormData, UrlSearchParams};
    let data = FormData::new_with_form(form).ok()?;
    let params = UrlSearchParams::new_with_str_sequence_sequence(data.unchecked_ref()).ok()?;
    let mut query = url::parse(&String::from(params.to_string())).ok()?;
    let keep = |now: &mut Option<String>, was: &Option<String>, end: bool| {
        // Browsers leave ":00" seconds out of a datetime-local value; put them back.
        if let Some(n) = now.as_mut().filter(|n| n.len() == "YYYY-MM-DDTHH:MM".len()) {
            n.push_str(":00");
        }
        let unchanged = now.as_ref().zip(was.as_ref()).is_some_and(|(n, w)| *n == datetime_local(w, end));
        if unchanged {
            now.clone_from(was);
        } else if let Some(n) = now.as_mut().filter(|n| end && n.len() == "YYYY-MM-DDTHH:MM:SS".len()) {
            // An end typed to the second means the whole of that second.
            n.push_str(".999999");
        }
    };
    keep(&mut query.start_date, &before.start_date, false);
    keep(&mut query.end_date, &before.end_date, true);
    Some(query)
}

#[cfg(not(feature = "hydrate"))]
fn form_query(_: &leptos::web_sys::HtmlFormElement, _: &EntryQuery) -> Option<EntryQuery> {
    None
}

#[component]
pub fn FilterBar(query: Signal<EntryQuery>) -> impl IntoView {
    let form = NodeRef::<html::Form>::new();
    let navigate = use_navigate();
    let go = move |next: EntryQuery| {
        if next != query.get_untracked() {
            navigate(&url::href(&next), NavigateOptions::default());
        }
    };
    let apply = {
        let go = go.clone();
        move || {
            if let Some(next) = form.get_untracked().and_then(|f| form_query(&f, &query.get_untracked())) {
                go(url::first_page(next));
            }
        }
    };
    let on_submit = {
        let apply = apply.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            apply();
        }
    };
    let apply_on_change = {
        let apply = apply.clone();
        move |_: leptos::ev::Event| apply()
    };
    let pending = StoredValue::new(None::<TimeoutHandle>);
    // A search typed just before leaving the page must not apply to the next one.
    on_cleanup(move || {
        if let Some(Some(h)) = pending.try_get_value() {
            h.clear();
        }
    });
    let apply_later = {
        let apply = apply.clone();
        move |_: leptos::ev::Event| {
            if let Some(h) = pending.get_value() {
                h.clear();
            }
            let apply = apply.clone();
            pending.set_value(set_timeout_with_handle(apply, DEBOUNCE).ok());
        }
    };

    let field =
        move |pick: fn(&EntryQuery) -> Option<String>| Signal::derive(move || query.with(pick).unwrap_or_default());
    let start = field(|q| q.start_date.as_deref().map(|v| datetime_local(v, false)));
    let end = field(|q| q.end_date.as_deref().map(|v| datetime_local(v, true)));
    let actor = field(|q| q.actor.clone());
    let search = field(|q| q.q.clone());
    let limit = field(|q| q.limit.clone());

    view! {
        <form
            node_ref=form
            class="filters"
            method="get"
            action="/audit"
            role="search"
            aria-label="Filter audit entries"
            on:submit=on_submit
        >
            <div class="filter search">
                <label for="filter-q">"Search"</label>
                <SearchInput
                    id="filter-q"
                    name="q"
                    value=search
                    placeholder="event, actor, description or resource"
                    on_input=apply_later.clone()
                    on_change=|_| ()
                />
            </div>
            <fieldset class="filter dates">
                <legend>"Date range"</legend>
                <Presets query go=go.clone()/>
                <label>
                    "From (UTC) "
                    <input type="datetime-local" step="1" name="start_date" value=start.get_untracked() prop:value=start on:change=apply_on_change.clone()/>
                </label>
                <label>
                    "To (UTC) "
                    <input type="datetime-local" step="1" name="end_date" value=end.get_untracked() prop:value=end on:change=apply_on_change.clone()/>
                </label>
            </fieldset>
            <EventTypePicker query go=go.clone()/>
            <div class="filter actor">
                <label for="filter-actor">"Actor"</label>
                <ActorInput value=actor on_change=apply_on_change.clone()/>
            </div>
            <fieldset class="filter severity">
                <legend>"Severity"</legend>
                {Severity::ALL
                    .into_iter()
                    .map(|s| {
                        let checked = Signal::derive(move || query.with(|q| q.severity.iter().any(|v| v == s.as_str())));
                        view! {
                            <label class=format!("severity-choice {}", s.as_str())>
                                <input type="checkbox" name="severity" value=s.as_str() checked=checked.get_untracked() prop:checked=checked on:change=apply_on_change.clone()/>
                                {s.as_str()}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <div class="filter limit">
                <label for="filter-limit">"Per page"</label>
                <select id="filter-limit" name="limit" on:change=apply_on_change.clone()>
                    {PAGE_SIZES
                        .into_iter()
                        .map(|n| {
                            let selected = Signal::derive(move || {
                                let value = limit.get();
                                if value.is_empty() { n == DEFAULT_LIMIT } else { value == n.to_string() }
                            });
                            // The API's default size has no value, so that it stays out of the URL.
                            let value = if n == DEFAULT_LIMIT { String::new() } else { n.to_string() };
                            view! { <option value=value selected=selected.get_untracked() prop:selected=selected>{n}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class="apply">"Apply"</button>
        </form>
        <ActiveFilters query/>
    }
    .into_any()
}
