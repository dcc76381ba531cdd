//! The filter bar and the chips of the active filters. The bar is a plain GET form whose
//! fields carry the API's parameter names, so it works before (and without) script;
//! once hydrated, every change is applied in the page and pushed to the history.

use super::api::suggest_actors;
use super::url::{self, categories, category_types, chips, datetime_local, preset_start, PAGE_SIZES, PRESETS};
use crate::catalogue::{self, Category};
use crate::entry::Severity;
use crate::filter::{EntryQuery, DEFAULT_LIMIT};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
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

/// A text field that follows the URL, except while the reader is typing in it (the URL
/// then lags behind by the debounce, and must not overwrite what was typed since).
#[component]
fn SearchInput(
    id: &'static str,
    name: &'static str,
    value: Signal<String>,
    placeholder: &'static str,
    #[prop(optional)] list: Option<&'static str>,
    on_input: impl FnMut(leptos::ev::Event) + 'static,
    on_change: impl FnMut(leptos::ev::Event) + 'static,
) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let shown = move || {
        let url_value = value.get();
        match input.get_untracked() {
            Some(el) if is_focused(&el) => el.value(),
            _ => url_value,
        }
    };
    view! {
        <input
            node_ref=input
            type="search"
            id=id
            name=name
            list=list
            autocomplete="off"
            placeholder=placeholder
            value=value.get_untracked()
            prop:value=shown
            on:input=on_input
            on:change=on_change
        />
    }
    .into_any()
}

fn is_focused(el: &leptos::web_sys::HtmlElement) -> bool {
    let el: &leptos::web_sys::Element = el;
    document().active_element().is_some_and(|active| &active == el)
}

/// "Last 24 hours" … "Last 90 days": links (so they work without script) whose start is
/// worked out again at the moment of the click.
#[component]
fn Presets(query: Signal<EntryQuery>, go: impl Fn(EntryQuery) + Clone + 'static) -> impl IntoView {
    let with_start = |q: EntryQuery, hours: i64| {
        let mut q = url::first_page(q);
        q.start_date = Some(preset_start(chrono::Utc::now(), hours));
        q.end_date = None;
        q
    };
    view! {
        <div class="presets" role="group" aria-label="Date presets">
            {PRESETS
                .into_iter()
                .map(|(label, hours)| {
                    let go = go.clone();
                    view! {
                        <a
                            class="preset"
                            href=move || url::href(&with_start(query.get(), hours))
                            on:click=move |ev| {
                                ev.prevent_default();
                                go(with_start(query.get_untracked(), hours));
                            }
                        >
                            {label}
                        </a>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// Event types grouped by category; a category's own box selects all of its types.
#[component]
fn EventTypePicker(query: Signal<EntryQuery>, go: impl Fn(EntryQuery) + Clone + 'static) -> impl IntoView {
    let selected = move |name: &str| query.with(|q| q.event_type.iter().any(|v| v == name));
    let count = move || query.with(|q| q.event_type.len());
    let summary = move || match count() {
        0 => "All event types".to_owned(),
        1 => "1 event type".to_owned(),
        n => format!("{n} event types"),
    };
    let group = move |category: Category| {
        let types = category_types(category);
        let all = {
            let types = types.clone();
            Signal::derive(move || types.iter().all(|t| selected(t)))
        };
        let toggle_all = {
            let (go, types) = (go.clone(), types.clone());
            move |ev: leptos::ev::Event| {
                ev.prevent_default();
                let mut q = url::first_page(query.get_untracked());
                q.event_type.retain(|v| !types.contains(&v.as_str()));
                if event_target_checked(&ev) {
                    q.event_type.extend(types.iter().map(|t| t.to_string()));
                }
                go(q);
            }
        };
        let go = go.clone();
        view! {
            <fieldset class="category">
                <legend>
                    <label>
                        <input type="checkbox" name="event_type" value=types.join(",") checked=all.get_untracked() prop:checked=all on:change=toggle_all/>
                        <strong>{category.label()}</strong>
                        " (all)"
                    </label>
                </legend>
                {types
                    .into_iter()
                    .map(|name| {
                        let checked = Signal::derive(move || selected(name));
                        let title = catalogue::lookup(name).map(|s| s.summary).unwrap_or_default();
                        // Toggled in the query rather than read from the form: the
                        // category's own box, still checked, would add the type back.
                        let go = go.clone();
                        let toggle = move |ev: leptos::ev::Event| {
                            let mut q = url::first_page(query.get_untracked());
                            q.event_type.retain(|v| v != name);
                            if event_target_checked(&ev) {
                                q.event_type.push(name.to_owned());
                            }
                            go(q);
                        };
                        view! {
                            <label title=title>
                                <input type="checkbox" name="event_type" value=name checked=checked.get_untracked() prop:checked=checked on:change=toggle/>
                                <code>{name}</code>
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
        }
    };
    // Types the catalogue does not know (custom ones, prefixes) stay in the form as they are.
    let others = move || {
        query.with(|q| {
            q.event_type
                .iter()
                .filter(|v| catalogue::lookup(v).is_none())
                .map(|v| view! { <input type="hidden" name="event_type" value=v.clone()/> })
                .collect_view()
        })
    };
    // The list floats over the page: a click outside it or Escape closes it.
    let picker = NodeRef::<html::Details>::new();
    let outside_click = window_event_listener(leptos::ev::click, move |ev| close_unless_inside(picker, &ev));
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            close_unless_inside(picker, &ev);
        }
    });
    on_cleanup(move || {
        outside_click.remove();
        escape.remove();
    });
    view! {
        <details class="filter event-types" node_ref=picker>
            <summary>"Event type: " <span class="picked">{summary}</span></summary>
            <div class="categories">{categories().map(group).collect_view()}</div>
            {others}
        </details>
    }
    .into_any()
}

/// Closes the picker, unless the event happened inside it (Escape always closes).
fn close_unless_inside(picker: NodeRef<html::Details>, ev: &leptos::web_sys::Event) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let Some(details) = picker.get_untracked() else { return };
        let is_key = ev.type_() == "keydown";
        let inside = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Node>().ok())
            .is_some_and(|n| details.contains(Some(&n)));
        if details.open() && (is_key || !inside) {
            details.set_open(false);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (picker, ev);
}

/// The actor field, with suggestions from the store as the reader types.
#[component]
fn ActorInput(value: Signal<String>, on_change: impl FnMut(leptos::ev::Event) + 'static) -> impl IntoView {
    let suggestions = RwSignal::new(Vec::<String>::new());
    let pending = StoredValue::new(None::<TimeoutHandle>);
    on_cleanup(move || {
        if let Some(Some(h)) = pending.try_get_value() {
            h.clear();
        }
    });
    let suggest = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        if let Some(h) = pending.get_value() {
            h.clear();
        }
        let lookup = move || {
            spawn_local(async move {
                if let Ok(found) = suggest_actors(text).await {
                    suggestions.set(found);
                }
            })
        };
        pending.set_value(set_timeout_with_handle(lookup, DEBOUNCE).ok());
    };
    view! {
        <SearchInput
            id="filter-actor"
            name="actor"
            value
            placeholder="user, service or system"
            list="actor-suggestions"
            on_input=suggest
            on_change=on_change
        />
        <datalist id="actor-suggestions">
            <option value="system"></option>
            <For each=move || suggestions.get() key=|s| s.clone() let:name>
                <option value=name></option>
            </For>
        </datalist>
    }
    .into_any()
}

/// The active filters as chips, each removing itself, and "Clear all".
#[component]
fn ActiveFilters(query: Signal<EntryQuery>) -> impl IntoView {
    let chips = Memo::new(move |_| query.with(chips));
    view! {
        <Show when=move || chips.with(|c| !c.is_empty())>
            <div class="chips" role="group" aria-label="Active filters">
                <For each=move || chips.get() key=|c| c.remove.clone() let:chip>
                    <a class="chip" href=chip.remove.clone() aria-label=format!("Remove filter {}", chip.label())>
                        <span class="chip-name">{chip.name}</span>
                        " "
                        {chip.value.clone()}
                        <span class="chip-x" aria-hidden="true">" ×"</span>
                    </a>
                </For>
                <a class="clear-all" href=move || url::href(&url::cleared(&query.get()))>
                    "Clear all"
                </a>
            </div>
        </Show>
    }
    .into_any()
}
