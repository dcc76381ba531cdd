//! The compliance view (`/compliance`, admins and auditors): the controls of SOC 2,
//! ISO 27001 and NIST 800-53 that ask for audit logging, each with the evidence this log
//! holds for a chosen period: which event types cover it and how many entries they have
//! (each a link to those entries in the Audit tab), the last verification and the latest
//! signed checkpoint.

pub mod api;

use crate::admin::api::AdminError;
use api::compliance_report;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// How a control's evidence is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Entries of these event types (exact, or `prefix.*`) in the period.
    Events(&'static str, &'static [&'static str]),
    /// Every entry in the period.
    AllEntries(&'static str),
    /// Entries of severity warning or error in the period.
    Notable(&'static str),
    /// Entries the product recorded itself (the actor `system`) in the period.
    System(&'static str),
    /// The last verification run.
    Verification,
    /// The latest signed checkpoint.
    Checkpoint,
    /// How long entries are kept, and the oldest one kept.
    Retention,
}

/// A control, and where its evidence comes from.
pub struct Control {
    pub framework: &'static str,
    pub id: &'static str,
    pub title: &'static str,
    pub evidence: &'static [Source],
}

use Source::{AllEntries, Checkpoint, Events, Notable, Retention, System, Verification};

pub static CONTROLS: &[Control] = &[
    Control {
        framework: "SOC 2",
        id: "CC6.1",
        title: "Logical access security: who signed in, with what rights, and the accounts and API tokens behind them",
        evidence: &[
            Events("Sign-ins, sign-outs, failures and lockouts", &["auth.*"]),
            Events("Accounts created, changed and deleted", &["user.*"]),
            Events("API tokens created and revoked", &["token.*"]),
        ],
    },
    Control {
        framework: "SOC 2",
        id: "CC7.2",
        title: "Monitoring of components for anomalies that indicate malicious acts or errors",
        evidence: &[
            Events("Failed sign-ins and locked accounts", &["auth.login.failed", "auth.account.locked"]),
            Events(
                "Failed rotations, syncs, scans and vault errors",
                &["rotation.failed", "sync.failed", "discovery.scan.failed", "discovery.vault.error"],
            ),
            Events("Alert rules configured", &["alert.rule.*"]),
            Events("Integrity verification failures", &["integrity.failed"]),
        ],
    },
    Control {
        framework: "SOC 2",
        id: "CC7.5",
        title: "Recovery from identified security incidents",
        evidence: &[
            Events("Integrity failures acknowledged", &["integrity.failure.acknowledged"]),
            Events("Secrets and certificates rotated", &["rotation.completed"]),
            Events("Audit evidence exported", &["audit.exported"]),
        ],
    },
    Control {
        framework: "ISO 27001",
        id: "A.12.4.1",
        title: "Event logging: user activities, exceptions, faults and security events recorded",
        evidence: &[AllEntries("Entries recorded"), Notable("Warnings and errors recorded")],
    },
    Control {
        framework: "ISO 27001",
        id: "A.12.4.2",
        title: "Protection of log information against tampering and unauthorised access",
        evidence: &[Verification, Checkpoint, Events("Verification runs", &["integrity.verified", "integrity.failed"])],
    },
    Control {
        framework: "ISO 27001",
        id: "A.12.4.3",
        title: "Administrator and operator logs",
        evidence: &[
            Events("Accounts and API tokens administered", &["user.*", "token.*"]),
            Events(
                "Settings, subscriptions and alert rules changed",
                &["settings.updated", "subscription.*", "alert.rule.*"],
            ),
            Events("Audit log exports", &["audit.exported"]),
        ],
    },
    Control {
        framework: "NIST 800-53",
        id: "AU-2",
        title: "Event logging: the event types the system logs",
        evidence: &[AllEntries("Entries recorded")],
    },
    Control {
        framework: "NIST 800-53",
        id: "AU-3",
        title: "Content of audit records: what, when, where, source, outcome, identity",
        evidence: &[AllEntries(
            "Entries, each with its time, type, actor, severity, description and details (and the resource, source \
             address and user agent where the event has them)",
        )],
    },
    Control {
        framework: "NIST 800-53",
        id: "AU-6",
        title: "Audit record review, analysis and reporting",
        evidence: &[
            Events("Exports for review", &["audit.exported"]),
            Events("Verification runs", &["integrity.verified", "integrity.failed"]),
        ],
    },
    Control {
        framework: "NIST 800-53",
        id: "AU-9",
        title: "Protection of audit information",
        evidence: &[Verification, Checkpoint],
    },
    Control {
        framework: "NIST 800-53",
        id: "AU-11",
        title: "Audit record retention",
        evidence: &[Retention, Events("Retention purges", &["retention.purge.completed"])],
    },
    Control {
        framework: "NIST 800-53",
        id: "AU-12",
        title: "Audit record generation by the system's components",
        evidence: &[AllEntries("Entries recorded"), System("Recorded by the product itself (actor system)")],
    },
];

/// One line of evidence, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceLine {
    pub label: String,
    /// What was found: a count, a result, a date.
    pub found: String,
    /// The entries behind it in the Audit tab, when there are any.
    pub link: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlView {
    pub framework: String,
    pub id: String,
    pub title: String,
    pub evidence: Vec<EvidenceLine>,
}

/// The view for one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceView {
    pub start_date: String,
    pub end_date: String,
    pub controls: Vec<ControlView>,
}

#[component]
pub fn CompliancePage() -> impl IntoView {
    let query = use_query_map();
    let period =
        move || query.with(|q| (q.get("start_date").unwrap_or_default(), q.get("end_date").unwrap_or_default()));
    let report = Resource::new(period, |(start_date, end_date)| compliance_report(start_date, end_date));
    view! {
        <Title text="Compliance · CertifyClouds Audit"/>
        <section class="compliance">
            <h1>"Compliance"</h1>
            <p class="lead">
                "The controls that ask for audit logging, and the evidence this log holds for them in the period."
            </p>
            <form method="get" action="/compliance" aria-label="Period" class="period">
                <label for="compliance-from">"From"</label>
                <input id="compliance-from" type="date" name="start_date" value=move || period().0/>
                <label for="compliance-to">"To"</label>
                <input id="compliance-to" type="date" name="end_date" value=move || period().1/>
                <button type="submit">"Show"</button>
            </form>
            <Transition fallback=|| view! { <p class="state loading visible">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(view) => view! { <Controls view/> }.into_any(),
                        Err(AdminError::SignedOut) => view! { <crate::login::SignedOut/> }.into_any(),
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Controls(view: ComplianceView) -> impl IntoView {
    let period = format!("From {} to {}", view.start_date, view.end_date);
    let rows = view
        .controls
        .into_iter()
        .map(|control| {
            let evidence = control
                .evidence
                .into_iter()
                .map(|line| {
                    let found = match line.link {
                        Some(href) => view! { <a href=href>{line.found}</a> }.into_any(),
                        None => view! { <span>{line.found}</span> }.into_any(),
                    };
                    view! { <li><span class="label">{line.label}": "</span>{found}</li> }
                })
                .collect_view();
            view! {
                <tr>
                    <td>{control.framework}</td>
                    <th scope="row">{control.id}</th>
                    <td>{control.title}</td>
                    <td><ul>{evidence}</ul></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="period-shown">{period}</p>
        <table class="controls">
            <thead>
                <tr>
                    <th scope="col">"Framework"</th>
                    <th scope="col">"Control"</th>
                    <th scope="col">"What it asks"</th>
                    <th scope="col">"Evidence in this log"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
