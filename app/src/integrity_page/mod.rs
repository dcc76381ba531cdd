//! The Integrity page (`/integrity`, admins and auditors): the last verification and a
//! button to verify now, the latest signed checkpoint (admins may sign one now), and the
//! log's public key, with which anyone checks checkpoints, proofs and evidence packs.
//! While a verification has failed and no admin has acknowledged it, every page shows a
//! banner ([`FailureBanner`]).

pub mod api;

use crate::admin::{Outcome, Problem};
use crate::proof::{CheckpointView, IntegrityOverview, PublicKeyView, RunView};
use api::{integrity_status, AcknowledgeFailure, SignCheckpoint, VerifyNow};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn IntegrityPage() -> impl IntoView {
    let verify = ServerAction::<VerifyNow>::new();
    let sign = ServerAction::<SignCheckpoint>::new();
    let acknowledge = ServerAction::<AcknowledgeFailure>::new();
    let status = Resource::new(
        move || (verify.version().get(), sign.version().get(), acknowledge.version().get()),
        |_| integrity_status(),
    );
    let outcome = Outcome::new();
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Effect::new(move |_| {
        if let Some(result) = verify.value().get() {
            outcome.show(result.map(|run| match run.intact {
                true => format!("Verified: the log is intact ({} entries).", run.entries),
                false => format!("Verification failed: {} problem(s) found.", run.problem_count),
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = sign.value().get() {
            outcome.show(result.map(|c| format!("Checkpoint of {} entries signed.", c.size)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = acknowledge.value().get() {
            outcome.show(result.map(|()| "Failure acknowledged: the banner is gone for everyone.".to_owned()));
        }
    });
    view! {
        <Title text="Integrity · CertifyClouds Audit"/>
        <section class="integrity" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Integrity"</h1>
            <p class="lead">
                "Every entry is a leaf of a Merkle tree (RFC 6962) whose root is signed in checkpoints with the log's \
                 key. Verification recomputes every entry's hash, rebuilds the tree and checks it against every \
                 signed checkpoint: a changed, removed, inserted or reordered entry, or a log cut back below a \
                 checkpoint, is named."
            </p>
            <Problem outcome/>
            <Transition fallback=|| view! { <p class="state loading visible">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => view! { <Status status verify sign acknowledge/> }.into_any(),
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Status(
    status: IntegrityOverview,
    verify: ServerAction<VerifyNow>,
    sign: ServerAction<SignCheckpoint>,
    acknowledge: ServerAction<AcknowledgeFailure>,
) -> impl IntoView {
    let may_act = status.may_act;
    let failure = status.open_failure.clone().map(|run| {
        let id = run.entry_id.clone();
        view! {
            <div class="integrity-failure" role="alert">
                <h2>"Verification failed"</h2>
                <RunSummary run/>
                {may_act
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                on:click=move |_| {
                                    acknowledge.dispatch(AcknowledgeFailure { failure_id: id.clone() });
                                }
                            >
                                "Acknowledge"
                            </button>
                        }
                    })}
            </div>
        }
    });
    view! {
        {failure}
        <section class="verification" aria-labelledby="verification-heading">
            <h2 id="verification-heading">"Verification"</h2>
            {match status.last_run {
                Some(run) => view! { <RunSummary run/> }.into_any(),
                None => view! { <p>"The log has not been verified yet."</p> }.into_any(),
            }}
            <button type="button" disabled=move || verify.pending().get() on:click=move |_| {
                verify.dispatch(VerifyNow {});
            }>"Verify now"</button>
            <span role="status" class="pending">{move || verify.pending().get().then_some("Verifying the whole log…")}</span>
        </section>
        <section class="checkpoints" aria-labelledby="checkpoint-heading">
            <h2 id="checkpoint-heading">"Latest checkpoint"</h2>
            <p>{format!("The tree holds {} entries.", status.tree_size)}</p>
            {match status.latest_checkpoint {
                Some(checkpoint) => view! { <Checkpoint checkpoint/> }.into_any(),
                None => view! { <p>"No checkpoint has been signed yet."</p> }.into_any(),
            }}
            {may_act
                .then(|| {
                    view! {
                        <button type="button" disabled=move || sign.pending().get() on:click=move |_| {
                            sign.dispatch(SignCheckpoint {});
                        }>"Sign a checkpoint now"</button>
                    }
                })}
        </section>
        <Key key=status.key/>
    }
}

#[component]
fn RunSummary(run: RunView) -> impl IntoView {
    let headline = if run.intact {
        format!("Intact: {} entries and {} checkpoints verified.", run.entries, run.checkpoints_checked)
    } else {
        format!("Failed: {} problem(s) found.", run.problem_count)
    };
    let checkpoint = match (run.checkpoint_size, &run.checkpoint_signed_at) {
        (Some(size), Some(at)) => Some(format!("Latest checkpoint matched: {size} entries, signed at {at}.")),
        _ => None,
    };
    let purged = (run.purged > 0).then(|| {
        let runs = run.purged_runs.clone().unwrap_or_default();
        format!("{} entries purged by retention, as recorded ({runs}): gone, not missing.", run.purged)
    });
    let problems = run.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view();
    view! {
        <div class="run" data-intact=run.intact.to_string()>
            <p class="headline">{headline}</p>
            {purged.map(|p| view! { <p class="purged">{p}</p> })}
            <dl>
                <dt>"When"</dt>
                <dd>{run.at.clone()}</dd>
                <dt>"How"</dt>
                <dd>{format!("{} by {}", run.trigger, run.verified_by)}</dd>
                {run.root.clone().map(|root| view! { <dt>"Root"</dt><dd><code>{root}</code></dd> })}
                <dt>"Recorded as"</dt>
                <dd><a href=format!("/audit/{}", run.entry_id)>{run.entry_id.clone()}</a></dd>
            </dl>
            {checkpoint.map(|c| view! { <p>{c}</p> })}
            {(!run.problems.is_empty()).then(|| view! { <ul class="problems">{problems}</ul> })}
        </div>
    }
}

#[component]
fn Checkpoint(checkpoint: CheckpointView) -> impl IntoView {
    view! {
        <dl>
            <dt>"Entries"</dt>
            <dd>{checkpoint.size}</dd>
            <dt>"Root"</dt>
            <dd><code>{checkpoint.root}</code></dd>
            <dt>"Signed at"</dt>
            <dd>{checkpoint.signed_at}</dd>
        </dl>
        <details>
            <summary>"The signed note"</summary>
            <pre class="note">{checkpoint.note}</pre>
        </details>
    }
}

#[component]
fn Key(key: PublicKeyView) -> impl IntoView {
    view! {
        <section class="key" aria-labelledby="key-heading">
            <h2 id="key-heading">"Public key"</h2>
            <dl>
                <dt>"Origin"</dt>
                <dd><code>{key.origin}</code></dd>
                <dt>"Key ID"</dt>
                <dd><code>{key.key_id}</code></dd>
                <dt>"Algorithm"</dt>
                <dd>{key.algorithm}</dd>
                <dt>"Verifier key"</dt>
                <dd><code class="verifier-key">{key.verifier_key}</code></dd>
            </dl>
            <details>
                <summary>"PEM"</summary>
                <pre>{key.public_key_pem}</pre>
            </details>
        </section>
    }
}

/// The banner every page shows to admins and auditors while an integrity failure is open.
#[component]
pub fn FailureBanner(run: RunView) -> impl IntoView {
    let first = run.problems.first().cloned().unwrap_or_default();
    view! {
        <div class="integrity-banner" role="alert">
            <strong>"Integrity verification failed"</strong>
            {format!(" at {}: {first} ", run.at)}
            <a href="/integrity">"Review on the Integrity page"</a>
        </div>
    }
}
