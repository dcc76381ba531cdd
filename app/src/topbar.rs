//! The bar across the top of every page: the product, the navigation (admins see the
//! admin pages, auditors do not), and who is signed in, with their role and a way out.

use crate::access::Person;
use crate::accounts::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// Who the request's session names, if anyone: read once as the page renders on the
/// server, and carried to the browser in the page.
#[server(endpoint = "signed_in")]
pub async fn signed_in() -> Result<Option<Person>, ServerFnError> {
    use crate::access::{Caller, Principal};
    Ok(use_context::<Caller>().and_then(|caller| match caller.principal {
        Principal::Person(person) => Some(person),
        Principal::Token(_) | Principal::Anonymous => None,
    }))
}

/// A page of the navigation, and the role it needs.
struct Link {
    href: &'static str,
    label: &'static str,
    role: Role,
}

const LINKS: &[Link] = &[
    Link { href: "/audit", label: "Audit", role: Role::Auditor },
    Link { href: "/integrity", label: "Integrity", role: Role::Auditor },
    Link { href: "/compliance", label: "Compliance", role: Role::Auditor },
    Link { href: "/users", label: "Users", role: Role::Admin },
    Link { href: "/tokens", label: "API tokens", role: Role::Admin },
    // Auditors see the settings read-only.
    Link { href: "/settings", label: "Settings", role: Role::Auditor },
];

#[component]
pub fn TopBar() -> impl IntoView {
    let person = Resource::new_blocking(|| (), |()| signed_in());
    // An open integrity failure, shown to whoever is signed in until an admin acknowledges it.
    let alert = Resource::new_blocking(|| (), |()| crate::integrity_page::api::integrity_alert());
    let location = use_location();
    view! {
        <header class="topbar">
            <a class="brand" href="/audit">
                "CertifyClouds"
            </a>
            <Suspense>
                {move || Suspend::new(async move {
                    let person = person.await.ok().flatten();
                    let alert = alert.await.ok().flatten();
                    let links = LINKS
                        .iter()
                        .filter(|link| person.as_ref().is_some_and(|p| p.reaches(link.role)))
                        .map(|link| {
                            let href = link.href;
                            let current = move || {
                                location.pathname.with(|path| path == href || path.starts_with(&format!("{href}/")))
                                    .then_some("page")
                            };
                            view! {
                                <a href=href aria-current=current>
                                    {link.label}
                                </a>
                            }
                        })
                        .collect_view();
                    view! {
                        <nav aria-label="Main">{links}</nav>
                        {person.map(|person| view! { <SignedIn person/> })}
                        {alert.map(|run| view! { <crate::integrity_page::FailureBanner run/> })}
                    }
                })}
            </Suspense>
        </header>
    }
}

/// Who is signed in, their role, and the sign-out button (a plain form: it works
/// without the page's script).
#[component]
fn SignedIn(person: Person) -> impl IntoView {
    let title = format!("Signed in as {} ({})", person.display_name, person.username);
    view! {
        <div class="signed-in">
            <span class="who" title=title>
                {person.display_name}
            </span>
            <span class="role">{person.role.as_str()}</span>
            <form method="post" action="/logout">
                <button type="submit">"Sign out"</button>
            </form>
        </div>
    }
}
