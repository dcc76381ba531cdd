//! The event type picker.

use super::super::url::{self, categories, category_types};
use crate::catalogue::{self, Category};
use crate::filter::EntryQuery;
use leptos::html;
use leptos::prelude::*;
/// Event types grouped by category; a category's own box selects all of its types.
#[component]
pub(super) fn EventTypePicker(query: Signal<EntryQuery>, go: impl Fn(EntryQuery) + Clone + 'static) -> impl IntoView {
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
