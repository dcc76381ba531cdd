//! The Audit tab: its server functions, its page and the service both the page and the
//! REST API call.

pub mod api;
mod page;
#[cfg(feature = "ssr")]
pub mod service;

pub use page::AuditPage;
