//! The export dialog: the current filters summarised, how many entries the file will
//! hold, the format, and a download that starts at once (the file is streamed, so the
//! browser's own download shows its progress).

use super::api::count_entries;
use super::url::chips;
use crate::export::{describe, page_export_url, pdf_refusal, ExportFormat};
use crate::filter::EntryQuery;
use leptos::prelude::*;

/// What the dialog knows of the number of entries the file will hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    /// The page has not loaded yet.
    Loading,
    /// The page's total is a bound and the exact count is on its way.
    Counting,
    Exact(u64),
    /// The exact count failed: the page's bound.
    AtLeast(u64),
}

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
    /// How many entries match once the page has loaded, and whether that is exact.
    total: Signal<Option<(u64, bool)>>,
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
    // A page's total may be a lower bound (a common search word): the dialog then counts
    // the matches exactly, once it is open, so that it states what the file will hold.
    let exact = Resource::new(
        // Read with `try_get`: on the server this resource's task can wake (the page's
        // total arrived) after the page was rendered and its values disposed; the
        // dialog is closed there, so nothing is counted either way.
        move || (open.try_get().unwrap_or(false), total.try_get().flatten(), filters.try_get().flatten()),
        |(open, total, filters)| async move {
            match (open, total, filters) {
                (true, Some((_, false)), Some(filters)) => Some(count_entries(filters).await),
                _ => None,
            }
        },
    );
    let known = move || match total.get() {
        Some((n, true)) => Count::Exact(n),
        Some((n, false)) => match exact.get().flatten() {
            Some(Ok(n)) => Count::Exact(n),
            // The page's bound still holds: the file holds at least that many.
            Some(Err(_)) => Count::AtLeast(n),
            None => Count::Counting,
        },
        None => Count::Loading,
    };
    let count = move || match known() {
        Count::Exact(1) => "1 entry will be exported.".to_owned(),
        Count::Exact(n) => format!("{n} entries will be exported."),
        Count::AtLeast(n) => format!("The entries could not be counted just now: at least {n} will be exported."),
        Count::Counting | Count::Loading => "Counting the entries…".to_owned(),
    };
    // A PDF (or a pack holding one) over the cap is refused here, before anything is downloaded.
    let refusal = move || {
        let n = match known() {
            Count::Exact(n) | Count::AtLeast(n) => Some(n),
            Count::Counting | Count::Loading => None,
        };
        n.and_then(|n| pdf_refusal(format.get(), n))
    };
    // No download while the exact count is on its way: the dialog states it first.
    let href = move || {
        filters
            .get()
            .filter(|_| refusal().is_none() && known() != Count::Counting)
            .map(|f| page_export_url(&f, format.get()))
    };
    let status = move || {
        started.get().then(|| match format.get() {
            // A report is laid out whole before it is sent: say why nothing shows yet.
            ExportFormat::Pdf => "Preparing the PDF report: your browser's download starts when it is ready.",
            ExportFormat::Evidence => {
                "Preparing the evidence pack (report, proofs, signed checkpoint): your browser's download \
                 starts when it is ready."
            }
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
                        aria-disabled=move || href().is_none().then_some("true")
                        download=""
                        on:click=move |_| {
                            if href().is_some() {
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
