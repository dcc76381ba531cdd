//! The search field: applied as the reader types, without losing what was typed.

use leptos::html;
use leptos::prelude::*;
/// A text field that follows the URL, except while the reader is typing in it (the URL
/// then lags behind by the debounce, and must not overwrite what was typed since).
#[component]
pub(super) fn SearchInput(
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
