//! The chips of the active filters.

use super::super::url::{self, chips};
use crate::filter::EntryQuery;
use leptos::prelude::*;
/// The active filters as chips, each removing itself, and "Clear all".
#[component]
pub(super) fn ActiveFilters(query: Signal<EntryQuery>) -> impl IntoView {
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
