//! The date presets.

use super::super::url::{self, preset_start, PRESETS};
use crate::filter::EntryQuery;
use leptos::prelude::*;
/// "Last 24 hours" … "Last 90 days": links (so they work without script) whose start is
/// worked out again at the moment of the click.
#[component]
pub(super) fn Presets(query: Signal<EntryQuery>, go: impl Fn(EntryQuery) + Clone + 'static) -> impl IntoView {
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
