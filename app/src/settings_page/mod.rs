//! The settings page (`/settings`, sections in its own navigation): everyone signed in sees
//! the settings; only admins change them (auditors see each value read-only). **Advanced**
//! holds the audit log retention: what it means, when the next purge runs, the oldest entry
//! kept and the last purge; shortening it shows how many entries the next purge will
//! delete and asks before saving; the optional archive directory the purge writes what
//! it deletes to first. **Subscriptions** lists the cloud subscriptions
//! discovery scans; admins add and remove them.

mod alerts_section;
pub mod api;
pub mod delivery_api;
mod integrations_section;
mod subscriptions_section;

use crate::admin::{Outcome, Problem};
use crate::audit::time::Clock;
use crate::settings::{setting, ARCHIVE_DIR, RETENTION_DAYS};
use api::{retention_overview, retention_preview, PurgePreview, RetentionView, SaveSettings, SavedSetting};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// A section of the settings page: its address under `/settings/` and its name.
struct Section {
    slug: &'static str,
    label: &'static str,
}

const SECTIONS: &[Section] = &[
    Section { slug: "advanced", label: "Advanced" },
    Section { slug: "subscriptions", label: "Subscriptions" },
    Section { slug: "integrations", label: "Integrations" },
    Section { slug: "alerts", label: "Alerts" },
];

#[component]
pub fn SettingsPage() -> impl IntoView {
    let params = use_params_map();
    // `/settings` opens the first section.
    let slug = Memo::new(move |_| params.with(|p| p.get("section")).unwrap_or_else(|| SECTIONS[0].slug.to_owned()));
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let links = SECTIONS
        .iter()
        .map(|section| {
            let current = move || (slug.get() == section.slug).then_some("page");
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
            {move || match slug.get().as_str() {
                "advanced" => view! { <Advanced/> }.into_any(),
                "subscriptions" => view! { <subscriptions_section::Subscriptions/> }.into_any(),
                "integrations" => view! { <integrations_section::Integrations/> }.into_any(),
                "alerts" => view! { <alerts_section::Alerts/> }.into_any(),
                _ => view! { <p class="not-found">"No such settings section."</p> }.into_any(),
            }}
        </section>
    }
}

/// Settings > Advanced.
#[component]
fn Advanced() -> impl IntoView {
    let save = ServerAction::<SaveSettings>::new();
    // Read again only after a change was made: a refused one keeps the form as typed.
    let changed = RwSignal::new(0u32);
    let overview = Resource::new(move || changed.get(), |_| retention_overview());
    let outcome = Outcome::new();
    Effect::new(move |_| {
        if let Some(result) = save.value().get() {
            if result.is_ok() {
                changed.update(|n| *n += 1);
            }
            outcome.show(result.map(|saved| said(&saved)));
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
fn Retention(view: RetentionView, save: ServerAction<SaveSettings>) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let saved = view.days;
    let may_change = view.may_change;
    let text = RwSignal::new(saved.to_string());
    // What the form holds, checked by the server's own rule, with its message.
    let typed = move || {
        let rule = setting(RETENTION_DAYS).map_err(|e| e.to_string())?;
        rule.whole(&serde_json::Value::String(text.get())).map_err(|e| match e {
            crate::settings::SettingError::Invalid { message, .. } => format!("{}: {message}", rule.label),
            e => e.to_string(),
        })
    };
    let problem = RwSignal::new(None::<String>);
    // Which field the problem is about.
    let problem_field = RwSignal::new(RETENTION_DAYS);
    // Shorter than the saved value: how many entries the next purge would then delete,
    // asked once typing pauses (in the browser only: the server renders none).
    let shorter = Memo::new(move |_| typed().ok().filter(|days| *days < saved));
    let preview = RwSignal::new(None::<PurgePreview>);
    Effect::new(move |_| {
        let Some(days) = shorter.get() else { return };
        set_timeout(
            move || {
                if shorter.get_untracked() == Some(days) {
                    leptos::task::spawn_local(async move {
                        if let Ok(p) = retention_preview(days.to_string()).await {
                            preview.set(Some(p));
                        }
                    });
                }
            },
            std::time::Duration::from_millis(250),
        );
    });
    // The preview of the value now typed, not of one typed before.
    let due_now = move || preview.get().filter(|p| Some(p.days) == shorter.get());
    let confirming = RwSignal::new(false);
    let confirm_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if confirming.get() {
            if let Some(button) = confirm_button.get() {
                let _ = button.focus();
            }
        }
    });
    let saved_archive = view.archive_dir.clone().unwrap_or_default();
    let archive = RwSignal::new(saved_archive.clone());
    let saved_archive = StoredValue::new(saved_archive);
    let archive_typed = move || {
        let rule = setting(ARCHIVE_DIR).map_err(|e| e.to_string())?;
        rule.parse(&serde_json::Value::String(archive.get())).map(|_| ()).map_err(|e| match e {
            crate::settings::SettingError::Invalid { message, .. } => format!("{}: {message}", rule.label),
            e => e.to_string(),
        })
    };
    let send = move || {
        confirming.set(false);
        // The directory first (a retention shortened only once the archive it is to
        // write is in place), and only when it changed: the server checks it can write
        // there.
        let mut values = Vec::new();
        let dir = archive.get_untracked();
        if saved_archive.with_value(|saved| dir.trim() != saved.trim()) {
            values.push((ARCHIVE_DIR.to_owned(), dir));
        }
        values.push((RETENTION_DAYS.to_owned(), text.get_untracked()));
        save.dispatch(SaveSettings { values });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let checked = typed()
            .map_err(|m| (RETENTION_DAYS, m))
            .and_then(|days| archive_typed().map(|()| days).map_err(|m| (ARCHIVE_DIR, m)));
        match checked {
            Err((field, message)) => {
                problem_field.set(field);
                problem.set(Some(message));
            }
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
    let entries = |n: u64| if n == 1 { "1 entry".to_owned() } else { format!("{n} entries") };
    let due_text = move || {
        due_now().map(|p| {
            format!(
                "With {} days, the next purge will delete {} (everything before {}).",
                p.days,
                entries(p.due),
                clock.show(p.cutoff)
            )
        })
    };
    let next_purge = view.next_purge_at;
    let meaning = move || {
        let when = next_purge.map(|at| format!(", at {}", hour_minute(&clock.show(at)))).unwrap_or_default();
        format!("Entries older than {saved} days are deleted at the next purge{when}.")
    };
    let every = view.purge_every_minutes.map(|m| match m {
        60 => "The purge runs every hour, in small steps that do not hold up the log.".to_owned(),
        m if m % 60 == 0 => {
            format!("The purge runs every {} hours, in small steps that do not hold up the log.", m / 60)
        }
        m => format!("The purge runs every {m} minutes, in small steps that do not hold up the log."),
    });
    let oldest_entry = view.oldest_entry;
    let oldest = move || oldest_entry.map_or_else(|| "none (the log is empty)".to_owned(), |t| clock.show(t));
    let last_purge = view.last_purge;
    let last = move || match last_purge.clone() {
        None => "never".to_owned(),
        Some(run) if run.completed && run.stopped_early => format!(
            "{}: stopped early as the server stopped, {} deleted ({}); the rest goes at the next purge",
            clock.show(run.at),
            entries(run.deleted),
            run.entry_id
        ),
        Some(run) if run.completed => {
            format!("{}: completed, {} deleted ({})", clock.show(run.at), entries(run.deleted), run.entry_id)
        }
        Some(run) => format!(
            "{}: failed after deleting {} ({}): {}",
            clock.show(run.at),
            entries(run.deleted),
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
                aria-invalid=move || (problem.get().is_some() && problem_field.get() == RETENTION_DAYS).to_string()
                aria-describedby="retention-problem retention-meaning retention-bounds"
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
            {move || {
                problem
                    .get()
                    .map(|message| {
                        view! {
                            <p id="retention-problem" class="outcome problem" role="alert">
                                {message}
                            </p>
                        }
                    })
            }}
            <p class="due" role="status">
                {due_text}
            </p>
            <h4>"Archive before purge"</h4>
            <label for="archive-dir">"Archive directory"</label>
            <input
                id="archive-dir"
                name="audit_archive_dir"
                type="text"
                autocomplete="off"
                spellcheck="false"
                placeholder="/var/lib/certifyclouds/archive"
                disabled=!may_change
                aria-invalid=move || (problem.get().is_some() && problem_field.get() == ARCHIVE_DIR).to_string()
                aria-describedby="retention-problem archive-meaning"
                bind:value=archive
                on:input=move |_| problem.set(None)
            />
            <p class="hint" id="archive-meaning">
                "Optional: a directory on the server. Before each purge the entries it deletes are written there \
                 (gzip NDJSON with their inclusion proofs and the checkpoint); if that fails, nothing is purged. \
                 Empty: no archive."
            </p>
            <Show when=move || confirming.get()>
                <div class="confirm-box" role="alertdialog" aria-labelledby="retention-confirm-question">
                    <p id="retention-confirm-question">
                        {move || {
                            let days = shorter.get().unwrap_or(saved);
                            match due_now() {
                                Some(p) => format!(
                                    "Shorten the retention from {saved} to {days} days? The next purge will delete {}, for good.",
                                    entries(p.due)
                                ),
                                None => format!(
                                    "Shorten the retention from {saved} to {days} days? Older entries are deleted for good at the next purge."
                                ),
                            }
                        }}
                    </p>
                    <button type="button" class="danger" node_ref=confirm_button on:click=move |_| send()>
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

/// What a save did, as the page says it.
fn said(saved: &[SavedSetting]) -> String {
    let parts: Vec<String> = saved
        .iter()
        .map(|s| match (s.name.as_str(), &s.new) {
            (RETENTION_DAYS, new) => format!("audit log retention changed from {} to {new} days", s.old),
            (ARCHIVE_DIR, serde_json::Value::String(dir)) => format!("archive directory set to {dir}"),
            (ARCHIVE_DIR, _) => "archive directory removed: purges archive nothing".to_owned(),
            (name, new) => format!("{name} changed from {} to {new}", s.old),
        })
        .collect();
    if parts.is_empty() {
        "Nothing to save: the settings already have these values.".to_owned()
    } else {
        format!("Saved: {}.", parts.join("; "))
    }
}

/// `14:05 (2026-12-07, +01:00)` from a time as the clock shows it
/// (`2026-12-07 14:05:09 +01:00`, or `… UTC`).
fn hour_minute(shown: &str) -> String {
    let mut parts = shown.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(date), Some(time), Some(zone)) if time.len() >= 5 => format!("{} ({date}, {zone})", &time[..5]),
        _ => shown.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_purge_is_said_as_hours_and_minutes_with_its_day() {
        assert_eq!(super::hour_minute("2026-12-07 14:05:09 +01:00"), "14:05 (2026-12-07, +01:00)");
        assert_eq!(super::hour_minute("2026-12-07 00:31:05 UTC"), "00:31 (2026-12-07, UTC)");
        assert_eq!(super::hour_minute("odd"), "odd");
    }
}
