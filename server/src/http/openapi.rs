//! The API's description: an OpenAPI 3.1 document generated from the handlers and the
//! shared types (utoipa), served at `/openapi.json`, and a page that shows it to people at
//! `/api-docs`, rendered here from the same document so that it needs nothing from the
//! internet. A test holds the document to the route table.

use super::entries::{self, EntryCount};
use super::html::escape;
use super::{admin, alert_rules, destinations, events, export, health, integrity, metrics, settings, subscriptions};
use app::accounts::{Role, User, UserStatus};
use app::catalogue::{Category, EventSpec};
use app::entry::{Actor, ActorType, AuditEntry, EntryPage, IngestToken, Resource, Severity};
use app::filter::EntryQuery;
use app::ingest::NewEntry;
use app::proof::{
    CheckpointList, CheckpointView, ConsistencyProofView, EntryWithProof, InclusionProofView, PublicKeyView,
};
use app::tokens::{Scope, TokenInfo};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::fmt::Write as _;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Object, Required, Type};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

/// What every error answers: `{"error": "…"}`; an invalid ingest batch also names the
/// entry and the field.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// The index of the invalid entry in an ingest batch.
    pub index: Option<usize>,
    /// The field of that entry, as a path (`actor.type`).
    pub field: Option<String>,
}

/// What `POST /audit/events` answers.
#[derive(Serialize, ToSchema)]
pub struct IngestReply {
    pub count: usize,
    /// The new entries' ids, in the order they were posted.
    pub ids: Vec<String>,
    /// The hash of the last entry appended (hex).
    pub head_hash: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CertifyClouds Audit API",
        description = "The audit trail of CertifyClouds: read, search and export the log, post events, and \
                       watch the service. Every route but `/healthz` needs `Authorization: Bearer <token>` with \
                       the scope it names (`certifyclouds token create --scopes read,ingest,admin`)."
    ),
    paths(
        entries::list,
        entries::count,
        entries::get_one,
        entries::event_types,
        export::export,
        events::ingest,
        document,
        metrics::serve,
        health::check,
        admin::users,
        admin::user,
        admin::create_user,
        admin::change_user,
        admin::delete_user,
        admin::tokens,
        admin::issue_token,
        admin::revoke_token,
        settings::get,
        settings::change,
        subscriptions::list,
        subscriptions::add,
        subscriptions::remove,
        destinations::list,
        destinations::create,
        destinations::get_one,
        destinations::change,
        destinations::delete,
        destinations::health,
        destinations::test,
        destinations::replay,
        alert_rules::list,
        alert_rules::create,
        alert_rules::get_one,
        alert_rules::change,
        alert_rules::delete,
        integrity::public_key,
        integrity::latest,
        integrity::list,
        integrity::sign,
        integrity::inclusion,
        integrity::consistency
    ),
    components(schemas(
        AuditEntry, EntryPage, Actor, ActorType, Resource, IngestToken, Severity, EventSpec, Category, NewEntry,
        ErrorBody, IngestReply, EntryCount, User, UserStatus, admin::UserView, Role, TokenInfo, Scope, admin::NewUserBody, admin::UserChangeBody,
        admin::NewTokenBody, admin::IssuedToken, PublicKeyView, CheckpointView, CheckpointList, InclusionProofView,
        ConsistencyProofView, EntryWithProof, app::subscriptions::Subscription, app::subscriptions::NewSubscription,
        app::subscriptions::Cloud, app::destinations::Destination, app::destinations::NewDestination,
        app::destinations::DestinationChange, app::destinations::Created, app::destinations::DestinationKind,
        app::destinations::HecOptions, app::destinations::DestinationHealth, app::destinations::Replay,
        app::destinations::Replayed, app::destinations::TestDelivery, app::alert_rules::AlertRule,
        app::alert_rules::RuleFields, app::alert_rules::RuleConfig, app::alert_rules::Threshold
    )),
    modifiers(&BearerAuth, &ExportParameters),
    tags(
        (name = "log", description = "Reading and exporting the audit log"),
        (name = "ingest", description = "Posting events from other components"),
        (name = "operations", description = "Health, metrics and this description"),
        (name = "admin", description = "Users, API tokens, settings and subscriptions, for an admin token or an admin's session"),
        (name = "delivery", description = "Where the log is delivered (Splunk HEC, signed webhooks, JSON lines on stdout) and the alert rules, for an admin token or an admin's session"),
        (name = "integrity", description = "The log's public key, its signed checkpoints and RFC 6962 proofs (docs/integrity.md)")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The export takes the list's filters (not its paging) and a format: its parameters are
/// made from the same [`EntryQuery`], so they cannot drift from what the handler reads.
struct ExportParameters;

/// The export's parameters.
pub fn export_parameters() -> Vec<Parameter> {
    let format = ParameterBuilder::new()
        .name("format")
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .description(Some(
            "`json` (an array, as the API returns entries), `ndjson`, `csv` (RFC 4180, formula cells \
             neutralised), `pdf` (a report of at most 50,000 entries) or `evidence` (a zip of the report, the \
             CSV, the JSON with each entry's inclusion proof, the signed checkpoint, the public key and a signed \
             manifest, which `certifyclouds verify-pack` checks offline; at most 50,000 entries)",
        ))
        .schema(Some(Object::with_type(Type::String)))
        .build();
    let filters = EntryQuery::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .filter(|p| !["limit", "offset", "after"].contains(&p.name.as_str()));
    std::iter::once(format).chain(filters).collect()
}

impl Modify for ExportParameters {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(get) = openapi.paths.paths.get_mut("/audit/export").and_then(|item| item.get.as_mut()) {
            get.parameters = Some(export_parameters());
        }
    }
}

/// `GET /openapi.json`: this API's description.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the `read` scope", body = ErrorBody)
    )
)]
pub async fn document() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// `GET /api-docs`: the same description as a page.
pub async fn page() -> Html<String> {
    Html(render(&ApiDoc::openapi()))
}

/// The page: every operation with its parameters and answers, then every schema.
fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let title = escape(&doc.info.title);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}}\
         code,pre{{font:13px ui-monospace,monospace;background:#f3f4f6;padding:0 .25rem;border-radius:3px}}\
         section.op{{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}}\
         .method{{font-weight:700;text-transform:uppercase;margin-right:.5rem}}\
         table{{border-collapse:collapse;width:100%;margin:.5rem 0}}th,td{{text-align:left;border-bottom:1px solid #e5e7eb;padding:.25rem .5rem;vertical-align:top}}\
         </style></head><body><h1>{title}</h1>"
    );
    if let Some(description) = &doc.info.description {
        let _ = write!(out, "<p>{}</p>", escape(description));
    }
    out.push_str("<p>Machine-readable: <a href=\"/openapi.json\"><code>/openapi.json</code></a> (OpenAPI 3.1).</p>");
    out.push_str("<h2>Operations</h2>");
    for (path, item) in &doc.paths.paths {
        let operations = [("get", &item.get), ("post", &item.post), ("put", &item.put), ("delete", &item.delete)];
        for (method, operation) in operations {
            let Some(op) = operation else { continue };
            let _ = write!(
                out,
                "<section class=\"op\"><h3><span class=\"method\">{method}</span><code>{}</code></h3>",
                escape(path)
            );
            for text in [&op.summary, &op.description].into_iter().flatten() {
                let _ = write!(out, "<p>{}</p>", escape(text));
            }
            if let Some(parameters) = op.parameters.as_ref().filter(|p| !p.is_empty()) {
                out.push_str("<table><thead><tr><th>Parameter</th><th>In</th><th>Required</th><th>Meaning</th></tr></thead><tbody>");
                for p in parameters {
                    let place = match p.parameter_in {
                        ParameterIn::Query => "query",
                        ParameterIn::Path => "path",
                        ParameterIn::Header => "header",
                        ParameterIn::Cookie => "cookie",
                    };
                    let required = if matches!(p.required, Required::True) { "yes" } else { "no" };
                    let _ = write!(
                        out,
                        "<tr><td><code>{}</code></td><td>{place}</td><td>{required}</td><td>{}</td></tr>",
                        escape(&p.name),
                        escape(p.description.as_deref().unwrap_or(""))
                    );
                }
                out.push_str("</tbody></table>");
            }
            if let Some(body) = &op.request_body {
                let _ = write!(out, "<p>Body: {}</p>", escape(body.description.as_deref().unwrap_or("JSON")));
            }
            out.push_str("<table><thead><tr><th>Answer</th><th>Meaning</th></tr></thead><tbody>");
            for (status, response) in &op.responses.responses {
                let text = match response {
                    utoipa::openapi::RefOr::T(r) => r.description.clone(),
                    utoipa::openapi::RefOr::Ref(r) => r.ref_location.clone(),
                };
                let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", escape(status), escape(&text));
            }
            out.push_str("</tbody></table></section>");
        }
    }
    if let Some(components) = &doc.components {
        out.push_str("<h2>Schemas</h2>");
        for (name, schema) in &components.schemas {
            let json = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(
                out,
                "<section class=\"op\" id=\"schema-{0}\"><h3><code>{0}</code></h3><pre>{1}</pre></section>",
                escape(name),
                escape(&json)
            );
        }
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_every_operation_and_schema() {
        let doc = ApiDoc::openapi();
        let html = render(&doc);
        for path in doc.paths.paths.keys() {
            assert!(html.contains(&format!("<code>{}</code>", escape(path))), "{path}");
        }
        assert!(html.contains("schema-AuditEntry"));
        assert!(!html.contains("<script"), "no script, nothing fetched");
    }
}
