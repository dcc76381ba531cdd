//! The compliance view's server function: each control's evidence counted for the period
//! from the per-day counts (a count is cheap however large the log), with the last
//! verification and the latest checkpoint.

use super::ComplianceView;
use crate::admin::api::AdminError;
use leptos::prelude::*;

/// The period when none is given: the last 30 days, today included.
pub const DEFAULT_DAYS: i64 = 30;

/// The view for the period from `start_date` to `end_date` (dates as the Audit tab's
/// filters take them; empty: the last 30 days).
#[server(endpoint = "compliance_report")]
pub async fn compliance_report(start_date: String, end_date: String) -> Result<ComplianceView, AdminError> {
    use crate::access::{Caller, Principal};
    use crate::admin::api::answer;
    if !matches!(use_context::<Caller>().map(|c| c.principal), Some(Principal::Person(_))) {
        return Err(answer(AdminError::SignedOut));
    }
    let store = use_context::<crate::store::Store>().ok_or_else(|| answer(AdminError::Unavailable))?;
    let today = chrono::Utc::now().date_naive();
    let start_date = Some(start_date.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| (today - chrono::Duration::days(DEFAULT_DAYS - 1)).to_string());
    let end_date = Some(end_date.trim().to_owned()).filter(|d| !d.is_empty()).unwrap_or_else(|| today.to_string());
    build(&store, Some(start_date), Some(end_date)).await.map_err(|e| match e {
        ComplianceError::Invalid { field, message } => answer(AdminError::Invalid { field: field.into(), message }),
        ComplianceError::Store(e) => {
            tracing::error!(error = %e, "the compliance view failed");
            answer(AdminError::Unavailable)
        }
    })
}

/// Why the view could not be built.
#[cfg(feature = "ssr")]
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The view for the period from `start_date` to `end_date` (either open: from the first
/// entry, up to now), as the page and an evidence pack's report show it.
#[cfg(feature = "ssr")]
pub async fn build(
    store: &crate::store::Store,
    start_date: Option<String>,
    end_date: Option<String>,
) -> Result<ComplianceView, ComplianceError> {
    use super::{ControlView, EvidenceLine, Source, CONTROLS};
    use crate::filter::EntryQuery;
    let period = |types: &[&str]| EntryQuery {
        start_date: start_date.clone(),
        end_date: end_date.clone(),
        event_type: types.iter().map(|t| (*t).to_owned()).collect(),
        ..EntryQuery::default()
    };
    // The dates are checked as the Audit tab's filters are, with the same messages.
    period(&[]).validate().map_err(|e| {
        use crate::filter::FilterError;
        let field = match &e {
            FilterError::BadDate { param, .. } | FilterError::DateOutOfRange { param, .. } => *param,
            _ => "start_date",
        };
        ComplianceError::Invalid { field, message: e.to_string() }
    })?;
    let checked = |query: EntryQuery| {
        query
            .validate()
            .map(|(filter, _)| filter)
            .map_err(|e| ComplianceError::Invalid { field: "start_date", message: e.to_string() })
    };
    let purges = {
        let all_time = EntryQuery { event_type: vec!["retention.purge.completed".into()], ..EntryQuery::default() };
        store.log.count(&checked(all_time)?).await?
    };
    let last_run = crate::verify_runs::last_run(store).await?;
    let latest = store.tree.latest_checkpoint().await?;
    let earliest = store.log.earliest().await?;
    let mut controls = Vec::with_capacity(CONTROLS.len());
    for control in CONTROLS {
        let mut evidence = Vec::new();
        for source in control.evidence {
            evidence.push(match *source {
                Source::Events(label, types) => {
                    let query = period(types);
                    let count = store.log.count(&checked(query.clone())?).await?;
                    EvidenceLine {
                        label: label.into(),
                        found: format!("{count} entries ({})", types.join(", ")),
                        link: Some(format!("/audit?{}", query.to_query_string())),
                    }
                }
                Source::AllEntries(label) | Source::Notable(label) | Source::System(label) => {
                    let mut query = period(&[]);
                    match *source {
                        Source::Notable(_) => query.severity = vec!["warning".into(), "error".into()],
                        Source::System(_) => query.actor = Some("system".into()),
                        _ => {}
                    }
                    let count = store.log.count(&checked(query.clone())?).await?;
                    EvidenceLine {
                        label: label.into(),
                        found: format!("{count} entries"),
                        link: Some(format!("/audit?{}", query.to_query_string())),
                    }
                }
                Source::Verification => EvidenceLine {
                    label: "Last verification".into(),
                    found: match &last_run {
                        Some(run) if run.intact => {
                            format!(
                                "intact, {} entries and {} checkpoints, at {}",
                                run.entries, run.checkpoints_checked, run.at
                            )
                        }
                        Some(run) => format!("FAILED at {}: {} problem(s)", run.at, run.problem_count),
                        None => "never run (see the Integrity page)".into(),
                    },
                    link: last_run.as_ref().map(|run| format!("/audit/{}", run.entry_id)),
                },
                Source::Checkpoint => EvidenceLine {
                    label: "Latest signed checkpoint".into(),
                    found: match &latest {
                        Some(c) => format!(
                            "{} entries, root {}, signed at {}",
                            c.head.size,
                            crate::checkpoint::b64(&c.head.root),
                            c.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                        None => "none signed yet".into(),
                    },
                    link: Some("/integrity".into()),
                },
                Source::Retention => EvidenceLine {
                    label: "Retention".into(),
                    found: match earliest {
                        Some(at) => format!(
                            "the oldest entry kept is from {}; {purges} retention purge(s) recorded in all",
                            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                        None => "no entries yet".into(),
                    },
                    link: None,
                },
            });
        }
        controls.push(ControlView {
            framework: control.framework.into(),
            id: control.id.into(),
            title: control.title.into(),
            evidence,
        });
    }
    Ok(ComplianceView { start_date: start_date.unwrap_or_default(), end_date: end_date.unwrap_or_default(), controls })
}
