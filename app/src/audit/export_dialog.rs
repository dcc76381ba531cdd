//! The export dialog: the current filters summarised, how many entries the file will
//! hold, the format, and a download that starts at once (the file is streamed, so the
//! browser's own download shows its progress).

use super::url::chips;
use crate::export::{describe, page_export_url, pdf_refusal, ExportFormat};
use crate::filter::EntryQuery;
use leptos::prelude::*;

/// Whether the dialog is open; the "Export" button and the dialog share it.
#[derive(Clone, Copy)]
pub struct ExportOpen(pub RwSignal<bool>);

/// The button that opens the dialog.
#[component]
pub fn ExportButton() -> impl IntoView {
    let open = expect_context::<ExportOpen>().0;
    view! {
        <button type="button" class="export-button" aria-haspopup="dialog" on:click=move |_| open.set(true)>
            "Export…"
        </button>
    }
}

#[component]
pub fn ExportDialog(
    /// The page's filters without paging, or `None` when the URL does not parse.
    filters: Memo<Option<String>>,
    query: Signal<EntryQuery>,
    /// How many entries match, once the page has loaded.
    total: Signal<Option<u64>>,
) -> impl IntoView {
    let open = expect_context::<ExportOpen>().0;
    let format = RwSignal::new(ExportFormat::Csv);
    let started = RwSignal::new(false);
    let first_choice = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if open.get() {
            started.set(false);
            if let Some(input) = first_choice.get() {
                let _ = input.focus();
            }
        }
    });
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && open.get_untracked() {
            open.set(false);
        }
    });
    on_cleanup(move || escape.remove());

    let summary = move || {
        let active = query.with(chips);
        if active.is_empty() {
            "All entries, no filters.".to_owned()
        } else {
            active.iter().map(|c| c.label()).collect::<Vec<_>>().join(" · ")
        }
    };
    let count = move || match total.get() {
        Some(1) => "1 entry will be exported.".to_owned(),
        Some(n) => format!("{n} entries will be exported."),
        None => "Counting the entries…".to_owned(),
    };
    // A PDF over the cap is refused here, before anything is downloaded.
    let refusal = move || (format.get() == ExportFormat::Pdf).then(|| total.get().and_then(pdf_refusal)).flatten();
    let href = move || filters.get().filter(|_| refusal().is_none()).map(|f| page_export_url(&f, format.get()));
    let status = move || {
        started.get().then(|| match format.get() {
            // A report is laid out whole before it is sent: say why nothing shows yet.
            ExportFormat::Pdf => "Preparing the PDF report: your browser's download starts when it is ready.",
            _ => "Download started: see your browser's downloads.",
        })
    };
    view! {
        <Show when=move || open.get()>
            <div class="modal-backdrop" on:click=move |_| open.set(false)></div>
            <div class="export-dialog" role="dialog" aria-modal="true" aria-labelledby="export-title">
                <h2 id="export-title">"Export audit entries"</h2>
                <p class="export-filters">
                    <strong>"Filters: "</strong>
                    {summary}
                </p>
                <p class="export-count">{count}</p>
                <fieldset class="export-format">
                    <legend>"Format"</legend>
                    {ExportFormat::ALL
                        .into_iter()
                        .enumerate()
                        .map(|(i, f)| {
                            let node = (i == 0).then_some(first_choice);
                            view! {
                                <label>
                                    <input
                                        type="radio"
                                        name="export-format"
                                        value=f.as_str()
                                        prop:checked=move || format.get() == f
                                        on:change=move |_| format.set(f)
                                        node_ref=node.unwrap_or_default()
                                    />
                                    {describe(f)}
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <p class="muted">"Every matching entry is included. JSON, NDJSON and CSV are written as they are read, and your browser shows the download's progress."</p>
                <p class="export-refusal" role="alert">{refusal}</p>
                <div class="export-actions">
                    <a
                        class="download"
                        href=href
                        aria-disabled=move || refusal().is_some().then_some("true")
                        download=""
                        on:click=move |_| {
                            if refusal().is_none() {
                                started.set(true);
                            }
                        }
                    >
                        "Download"
                    </a>
                    <button type="button" on:click=move |_| open.set(false)>"Close"</button>
                </div>
                <p class="export-status" role="status">{status}</p>
            </div>
        </Show>
    }
    .into_any()
}
