//! The admin pages: users and API tokens, for admins only (the route table refuses
//! auditors with a "not allowed" page, and their server functions with 403).

pub mod api;
pub mod tokens_page;
pub mod users_page;

use api::AdminError;
use leptos::prelude::*;

/// What the last change on a page came to: said once, as a status (done) or an alert
/// (refused, with the reason).
#[derive(Clone, Copy)]
pub struct Outcome {
    done: RwSignal<Option<String>>,
    problem: RwSignal<Option<AdminError>>,
}

impl Outcome {
    pub fn new() -> Self {
        Outcome { done: RwSignal::new(None), problem: RwSignal::new(None) }
    }

    pub fn show(&self, result: Result<String, AdminError>) {
        match result {
            Ok(message) => {
                self.problem.set(None);
                self.done.set(Some(message));
            }
            Err(error) => {
                self.done.set(None);
                self.problem.set(Some(error));
            }
        }
    }
}

impl Default for Outcome {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome's message: a status line, or an alert with the reason (and, once the
/// session has ended, the way to sign in again).
#[component]
pub fn Problem(outcome: Outcome) -> impl IntoView {
    view! {
        <p class="outcome done" role="status">
            {move || outcome.done.get()}
        </p>
        {move || {
            outcome
                .problem
                .get()
                .map(|problem| match problem {
                    AdminError::SignedOut => view! { <crate::login::SignedOut/> }.into_any(),
                    problem => {
                        view! { <p class="outcome problem" role="alert">{problem.to_string()}</p> }.into_any()
                    }
                })
        }}
    }
}

/// A button that asks before it acts (deleting a user, revoking a token): the first click
/// shows the question with a confirming and a cancelling button.
#[component]
pub fn Confirmed(
    /// The button's accessible name ("Delete ana").
    label: String,
    /// Its text ("Delete").
    text: &'static str,
    /// The question ("Delete ana? ").
    question: String,
    /// The confirming button's text ("Confirm delete").
    confirm: &'static str,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button type="button" aria-label=label.clone() on:click=move |_| asking.set(true)>
                        {text}
                    </button>
                }
            }
        >
            <span class="confirm">{question.clone()}</span>
            <button
                type="button"
                class="danger"
                on:click=move |_| {
                    asking.set(false);
                    on_confirm.run(());
                }
            >
                {confirm}
            </button>
            <button type="button" on:click=move |_| asking.set(false)>
                "Cancel"
            </button>
        </Show>
    }
}
