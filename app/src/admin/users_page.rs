//! The users page (admins): every user with their role, status, last sign-in and lock; a
//! form to add one; and per user: edit (display name, role, password reset, disable or
//! enable), unlock and delete. Every change is recorded by the server, with the admin
//! signed in as the actor.

use super::api::{list_users, AddUser, EditUser, RemoveUser};
use super::{Confirmed, Outcome, Problem};
use crate::accounts::{Role, User, UserStatus};
use crate::audit::time::Clock;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let edit = ServerAction::<EditUser>::new();
    let remove = ServerAction::<RemoveUser>::new();
    // The list is read again after every change, whoever's it was.
    let users =
        Resource::new(move || (add.version().get(), edit.version().get(), remove.version().get()), |_| list_users());
    let editing = RwSignal::new(None::<User>);
    let outcome = Outcome::new();
    // Browser tests wait for this before they click.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Effect::new(move |_| {
        if let Some(result) = add.value().get() {
            outcome.show(result.map(|u| format!("Created user {} ({}).", u.username, u.role)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = edit.value().get() {
            if result.is_ok() {
                editing.set(None);
            }
            outcome.show(result.map(|u| format!("Saved the changes to {}.", u.username)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            outcome.show(result.map(|u| format!("Deleted user {}.", u.username)));
        }
    });
    view! {
        <Title text="Users · CertifyClouds Audit"/>
        <section class="admin users" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Users"</h1>
            <Problem outcome/>
            <Transition fallback=|| view! { <p class="state loading visible">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UserTable users=list editing edit remove/> }.into_any(),
                        Err(error) => view! { <p class="state error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            {move || editing.get().map(|user| view! { <EditForm user editing edit/> })}
            <AddForm add/>
        </section>
    }
}

#[component]
fn UserTable(
    users: Vec<User>,
    editing: RwSignal<Option<User>>,
    edit: ServerAction<EditUser>,
    remove: ServerAction<RemoveUser>,
) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let now = chrono::Utc::now();
    let rows = users
        .into_iter()
        .map(|user| {
            let status = user.status(now);
            let id = user.id;
            let name = user.username.clone();
            let locked = user.locked_until.filter(|t| *t > now).map(|t| clock.show(t));
            let last = user.last_login_at.map_or_else(|| "never".to_owned(), |t| clock.show(t));
            let for_edit = user.clone();
            let toggle = if user.disabled { "Enable" } else { "Disable" };
            let disabled = !user.disabled;
            let (edit_label, toggle_label, unlock_label, delete_label) =
                (format!("Edit {name}"), format!("{toggle} {name}"), format!("Unlock {name}"), format!("Delete {name}"));
            let asked = name.clone();
            // Disable or enable, or unlock: the rest of the user stays as it is.
            let status_change = move |disabled: Option<bool>, unlock: bool| {
                edit.dispatch(EditUser { id, display_name: None, role: None, password: None, disabled, unlock });
            };
            view! {
                <tr>
                    <td class="username">{user.username.clone()}</td>
                    <td>{user.display_name.clone()}</td>
                    <td>{user.role.as_str()}</td>
                    <td class=format!("status {}", status.as_str())>{status.as_str()}</td>
                    <td>{last}</td>
                    <td>{locked.unwrap_or_else(|| "-".to_owned())}</td>
                    <td class="actions">
                        <button type="button" aria-label=edit_label on:click=move |_| editing.set(Some(for_edit.clone()))>
                            "Edit"
                        </button>
                        <button type="button" aria-label=toggle_label on:click=move |_| status_change(Some(disabled), false)>
                            {toggle}
                        </button>
                        <Show when=move || status == UserStatus::Locked>
                            <button
                                type="button"
                                aria-label=unlock_label.clone()
                                on:click=move |_| status_change(None, true)
                            >
                                "Unlock"
                            </button>
                        </Show>
                        <Confirmed
                            label=delete_label
                            text="Delete"
                            question=format!("Delete {asked}? ")
                            confirm="Confirm delete"
                            on_confirm=Callback::new(move |()| {
                                remove.dispatch(RemoveUser { id });
                            })
                        />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="users">
            <thead>
                <tr>
                    <th scope="col">"Username"</th>
                    <th scope="col">"Display name"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Last sign-in"</th>
                    <th scope="col">"Locked until"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The role chooser of both forms.
#[component]
fn RoleSelect(id: &'static str, role: RwSignal<Role>) -> impl IntoView {
    view! {
        <select
            id=id
            on:change=move |ev| {
                if let Ok(chosen) = event_target_value(&ev).parse() {
                    role.set(chosen);
                }
            }
        >
            {Role::ALL
                .into_iter()
                .map(|r| view! { <option value=r.as_str() selected=move || role.get() == r>{r.as_str()}</option> })
                .collect_view()}
        </select>
    }
}

#[component]
fn AddForm(add: ServerAction<AddUser>) -> impl IntoView {
    let (username, display_name, password) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let role = RwSignal::new(Role::Auditor);
    // A user created: the form is cleared for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            username.set(String::new());
            display_name.set(String::new());
            password.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(AddUser {
            username: username.get_untracked(),
            display_name: display_name.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        });
    };
    view! {
        <form class="admin-form" aria-label="Add a user" on:submit=submit>
            <h2>"Add a user"</h2>
            <label for="new-username">"Username"</label>
            <input id="new-username" type="text" autocomplete="off" required=true bind:value=username/>
            <label for="new-display-name">"Display name"</label>
            <input id="new-display-name" type="text" autocomplete="off" bind:value=display_name/>
            <label for="new-role">"Role"</label>
            <RoleSelect id="new-role" role/>
            <label for="new-password">"Initial password"</label>
            <input id="new-password" type="password" autocomplete="new-password" required=true bind:value=password/>
            <p class="hint">"At least 12 characters; not a common password."</p>
            <button type="submit" disabled=move || add.pending().get()>
                "Create user"
            </button>
        </form>
    }
}

#[component]
fn EditForm(user: User, editing: RwSignal<Option<User>>, edit: ServerAction<EditUser>) -> impl IntoView {
    let display_name = RwSignal::new(user.display_name.clone());
    let role = RwSignal::new(user.role);
    let password = RwSignal::new(String::new());
    let disabled = RwSignal::new(user.disabled);
    let id = user.id;
    let was = (user.display_name.clone(), user.role, user.disabled);
    // Only what was edited is sent: another admin's change made meanwhile to another
    // field is not undone by this form's old copy of it.
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let password = password.get_untracked();
        edit.dispatch(EditUser {
            id,
            display_name: edited(display_name.get_untracked(), was.0.clone()),
            role: edited(role.get_untracked(), was.1),
            password: (!password.is_empty()).then_some(password),
            disabled: edited(disabled.get_untracked(), was.2),
            unlock: false,
        });
    };
    let title = format!("Edit {}", user.username);
    let heading = title.clone();
    view! {
        <form class="admin-form" aria-label=title on:submit=submit>
            <h2>{heading}</h2>
            <label for="edit-display-name">"Display name"</label>
            <input id="edit-display-name" type="text" bind:value=display_name/>
            <label for="edit-role">"Role"</label>
            <RoleSelect id="edit-role" role/>
            <label for="edit-password">"New password"</label>
            <input id="edit-password" type="password" autocomplete="new-password" bind:value=password/>
            <p class="hint">"Leave empty to keep the current password."</p>
            <label class="check">
                <input type="checkbox" bind:checked=disabled/>
                "Disabled (cannot sign in; their sessions end)"
            </label>
            <div class="buttons">
                <button type="submit" disabled=move || edit.pending().get()>
                    "Save changes"
                </button>
                <button type="button" on:click=move |_| editing.set(None)>
                    "Cancel"
                </button>
            </div>
        </form>
    }
}

/// A field's new value, if it is not the old one.
fn edited<T: PartialEq>(now: T, before: T) -> Option<T> {
    (now != before).then_some(now)
}
