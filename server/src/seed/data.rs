//! The seed's material: plausible users, vaults, secrets, apps, subscriptions and errors,
//! and the table of event types with how often each occurs and how its parts are made.

pub const USERS: &[&str] = &[
    "admin@contoso.com",
    "alice.nguyen@contoso.com",
    "bob.schmidt@contoso.com",
    "carla.rossi@contoso.com",
    "dev.patel@contoso.com",
    "erin.okafor@contoso.com",
    "farid.haddad@contoso.com",
    "grace.lindqvist@contoso.com",
    "hiro.tanaka@contoso.com",
    "ines.moreau@contoso.com",
    "jamal.carter@contoso.com",
    "kasia.nowak@contoso.com",
    "auditor@contoso.com",
    "secops@contoso.com",
];
pub const VAULTS: &[&str] = &[
    "kv-prod-eastus-01",
    "kv-prod-westeurope-01",
    "kv-prod-payments",
    "kv-staging-eastus",
    "kv-dev-shared",
    "kv-identity-core",
    "kv-data-platform",
    "kv-edge-certs",
    "aws-sm-us-east-1",
    "gcp-sm-europe-west1",
];
pub const SECRETS: &[&str] = &[
    "sql-connection-string",
    "stripe-api-key",
    "sendgrid-api-key",
    "storage-account-key",
    "cosmos-primary-key",
    "tls-wildcard-contoso-com",
    "oauth-client-secret",
    "redis-password",
    "github-app-private-key",
    "jwt-signing-key",
    "servicebus-sas",
    "datadog-api-key",
];
pub const APPS: &[&str] =
    &["payments-api", "customer-portal", "identity-service", "data-pipeline", "billing-worker", "mobile-backend"];
pub const SUBSCRIPTIONS: &[&str] = &[
    "3f2b8c1e-5d4a-4b9e-8f1c-2a6d7e9b0c11",
    "8a1d2e3f-4b5c-4d6e-9f70-81a2b3c4d5e6",
    "c0ffee00-1234-4abc-8def-0123456789ab",
    "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
];
pub const SETTINGS: &[&str] =
    &["audit_retention_days", "rotation_window_days", "scan_schedule", "alert_email", "session_timeout_minutes"];
pub const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];
pub const TASKS: &[&str] = &["nightly-discovery", "expiry-report", "retention-purge", "license-check", "siem-delivery"];
pub const ERRORS: &[&str] = &[
    "403 Forbidden: the identity lacks get/list permission",
    "timeout after 30s contacting the vault endpoint",
    "429 Too Many Requests: throttled by the provider",
    "certificate chain validation failed",
];
