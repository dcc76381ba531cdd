//! The Audit tab: its server functions, its pages and the service both the pages and the
//! REST API call.

pub mod api;
mod details;
mod export_dialog;
mod filters;
mod highlight;
pub mod live;
mod page;
#[cfg(feature = "ssr")]
pub mod service;
mod table;
pub mod time;
mod timeline;
pub mod url;

pub use details::EntryPage;
pub use page::AuditPage;
