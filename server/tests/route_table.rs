//! Every server function and page of the app is in the route table, and none twice.
//!
//! A test binary of its own, so a process of its own: listing the pages
//! (`generate_route_list`) sets a process-wide flag in `leptos_server` that leaves any
//! resource first polled meanwhile pending for good, so a page rendered by a test running
//! alongside it in the same process would never be answered (leptos-rs/leptos#4773). The
//! server itself never lists its pages.

use axum::http::Method;
use server::http::routes::{Kind, ROUTES};

#[tokio::test]
async fn every_server_function_and_page_of_the_app_is_declared() {
    let declared = |kind: Kind, method: &Method, path: &str| {
        ROUTES.iter().any(|r| r.kind == kind && r.method == *method && r.path == path)
    };
    let server_fns: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
    assert!(server_fns.len() >= 4, "{server_fns:?}");
    for (path, method) in server_fns {
        assert!(declared(Kind::ServerFn, &method, path), "server function {method} {path} is not in the route table");
    }
    for listing in leptos_axum::generate_route_list(app::App) {
        assert!(
            declared(Kind::Page, &Method::GET, listing.path()),
            "page {} is not in the route table",
            listing.path()
        );
    }
    let mut seen = std::collections::HashSet::new();
    for route in ROUTES {
        assert!(seen.insert((route.method.clone(), route.path)), "{} {} is declared twice", route.method, route.path);
    }
}
