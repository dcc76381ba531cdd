//! The actor field and its suggestions.

use super::super::api::suggest_actors;
use super::search::SearchInput;
use super::DEBOUNCE;
use leptos::prelude::*;
use leptos::task::spawn_local;
/// The actor field, with suggestions from the store as the reader types.
#[component]
pub(super) fn ActorInput(value: Signal<String>, on_change: impl FnMut(leptos::ev::Event) + 'static) -> impl IntoView {
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
