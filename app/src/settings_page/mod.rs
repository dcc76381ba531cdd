//! The settings page (`/settings`, sections in its own navigation): everyone signed in sees
//! the settings; only admins change them (auditors see each value read-only). **Advanced**
//! holds the audit log retention: what it means, when the next purge runs, the oldest entry
//! kept and the last purge; shortening it shows how many entries the next purge will
//! delete and asks before saving.

pub mod api;

use crate::admin::{Outcome, Problem};
use crate::audit::time::Clock;
use crate::settings::{setting, RETENTION_DAYS};
use api::{retention_overview, retention_preview, RetentionView, SaveSetting};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// A section of the settings page: its address under `/settings/` and its name.
struct Section {
    slug: &'static str,
    label: &'static str,
}

const SECTIONS: &[Section] = &[Section { slug: "advanced", label: "Advanced" }];

#[component]
pub fn SettingsPage() -> impl IntoView {
    let params = use_params_map();
    // `/settings` opens the first section.
    let slug = move || params.with(|p| p.get("section")).unwrap_or_else(|| SECTIONS[0].slug.to_owned());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let links = SECTIONS
        .iter()
        .map(|section| {
            let current = move || (slug() == section.slug).then_some("page");
            view! {
                <a href=format!("/settings/{}", section.slug) aria-current=current>
                    {section.label}
                </a>
            }
        })
        .collect_view();
    view! {
        <Title text="Settings · CertifyClouds Audit"/>
        <section class="settings" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Settings"</h1>
            <nav class="sections" aria-label="Settings sections">
                {links}
            </nav>
            {move || match slug().as_str() {
                "advanced" => view! { <Advanced/> }.into_any(),
                _ => view! { <p class="not-found">"No such settings section."</p> }.into_any(),
            }}
        </section>
    }
}

/// Settings > Advanced.
#[component]
fn Advanced() -> impl IntoView {
    let save = ServerAction::<SaveSetting>::new();
    let overview = Resource::new(move || save.version().get(), |_| retention_overview());
    let outcome = Outcome::new();
    Effect::new(move |_| {
        if let Some(result) = save.value().get() {
            outcome.show(result.map(|saved| match saved {
                Some(s) => format!("Saved: audit log retention changed from {} to {} days.", s.old, s.new),
                None => "Nothing to save: the retention already has that value.".to_owned(),
            }));
        }
    });
    view! {
        <section class="advanced" aria-labelledby="advanced-heading">
            <h2 id="advanced-heading">"Advanced"</h2>
            <Problem outcome/>
            <Transition fallback=|| view! { <p class="state loading visible">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(view) => view! { <Retention view save/> }.into_any(),
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Audit Log Retention: the form (admins) or the value read-only (auditors), and what the
/// purge has done.
#[component]
fn Retention(view: RetentionView, save: ServerAction<SaveSetting>) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let saved = view.days;
    let may_change = view.may_change;
    let text = RwSignal::new(saved.to_string());
    // What the form holds, checked by the same rules as the server's.
    let typed = move || {
        let rule = setting(RETENTION_DAYS).map_err(|e| e.to_string())?;
        rule.parse(&serde_json::Value::String(text.get()))
            .map_err(|_| format!("{}: enter a whole number of days from {} to {}.", rule.label, rule.min, rule.max))
    };
    let problem = RwSignal::new(None::<String>);
    // Shorter than the saved value: how many entries the next purge would then delete.
    let shorter = Memo::new(move |_| typed().ok().filter(|days| *days < saved));
    let preview = LocalResource::new(move || {
        let days = shorter.get();
        async move {
            match days {
                Some(days) => retention_preview(days.to_string()).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let confirming = RwSignal::new(false);
    let send = move || {
        confirming.set(false);
        save.dispatch(SaveSetting { name: RETENTION_DAYS.to_owned(), value: text.get_untracked() });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match typed() {
            Err(message) => problem.set(Some(message)),
            Ok(days) => {
                problem.set(None);
                if days < saved {
                    confirming.set(true);
                } else {
                    send();
                }
            }
        }
    };
    let due_text = move || {
        preview.get().and_then(|p| p.ok().flatten()).map(|p| {
            format!(
                "With {} days, the next purge will delete {} {} (everything before {}).",
                p.days,
                p.due,
                if p.due == 1 { "entry" } else { "entries" },
                clock.show(p.cutoff)
            )
        })
    };
    let next_purge = view.next_purge_at;
    let meaning = move || {
        let days = typed().unwrap_or(saved);
        let when = match next_purge {
            Some(at) => format!(", at {}", clock.show(at)),
            None => String::new(),
        };
        format!("Entries older than {days} days are deleted at the next purge{when}.")
    };
    let every = view.purge_every_minutes.map(|m| match m {
        60 => "The purge runs every hour, in small steps that do not hold up the log.".to_owned(),
        m if m % 60 == 0 => {
            format!("The purge runs every {} hours, in small steps that do not hold up the log.", m / 60)
        }
        m => format!("The purge runs every {m} minutes, in small steps that do not hold up the log."),
    });
    let oldest = view.oldest_entry.map_or_else(|| "none (the log is empty)".to_owned(), |t| clock.show(t));
    let last = match view.last_purge {
        None => "never".to_owned(),
        Some(run) if run.completed => format!(
            "{}: completed, {} {} deleted ({})",
            clock.show(run.at),
            run.deleted,
            if run.deleted == 1 { "entry" } else { "entries" },
            run.entry_id
        ),
        Some(run) => format!(
            "{}: failed after deleting {} ({}): {}",
            clock.show(run.at),
            run.deleted,
            run.entry_id,
            run.reason.unwrap_or_default()
        ),
    };
    view! {
        <form class="settings-form" aria-labelledby="retention-heading" on:submit=submit>
            <h3 id="retention-heading">"Audit Log Retention"</h3>
            <label for="retention-days">"Audit log retention (days)"</label>
            <input
                id="retention-days"
                name="audit_retention_days"
                type="text"
                inputmode="numeric"
                autocomplete="off"
                disabled=!may_change
                aria-invalid=move || problem.get().is_some().to_string()
                aria-describedby="retention-meaning retention-bounds"
                bind:value=text
                on:input=move |_| {
                    problem.set(None);
                    confirming.set(false);
                }
            />
            <p class="hint" id="retention-bounds">
                {format!("Whole days from {} to {}; the default is {}.", view.min, view.max, view.default)}
            </p>
            <p id="retention-meaning" class="meaning">
                {meaning}
                {every.map(|e| format!(" {e}"))}
            </p>
            {move || problem.get().map(|message| view! { <p class="outcome problem" role="alert">{message}</p> })}
            <p class="due" role="status">
                {due_text}
            </p>
            <Show when=move || confirming.get()>
                <div class="confirm-box" role="alertdialog" aria-labelledby="retention-confirm-question">
                    <p id="retention-confirm-question">
                        {move || {
                            let days = shorter.get().unwrap_or(saved);
                            let due = preview.get().and_then(|p| p.ok().flatten()).map(|p| p.due);
                            match due {
                                Some(due) => format!(
                                    "Shorten the retention from {saved} to {days} days? The next purge will delete {due} {}, for good.",
                                    if due == 1 { "entry" } else { "entries" }
                                ),
                                None => format!(
                                    "Shorten the retention from {saved} to {days} days? Older entries are deleted for good at the next purge."
                                ),
                            }
                        }}
                    </p>
                    <button type="button" class="danger" on:click=move |_| send()>
                        "Confirm"
                    </button>
                    <button type="button" on:click=move |_| confirming.set(false)>
                        "Cancel"
                    </button>
                </div>
            </Show>
            <button type="submit" disabled=move || !may_change || save.pending().get() || confirming.get()>
                "Save"
            </button>
            {(!may_change).then(|| view! { <p class="read-only">"Only an admin can change this setting."</p> })}
        </form>
        <dl class="purge-facts">
            <dt>"Oldest entry kept"</dt>
            <dd>{oldest}</dd>
            <dt>"Last purge"</dt>
            <dd>{last}</dd>
        </dl>
    }
}
