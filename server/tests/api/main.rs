//! Integration tests: the real router over a real SQLite file per test.

mod admin;
mod chain;
mod cli;
mod delivery;
mod destinations;
mod entries;
mod evidence;
mod export;
mod export_pdf;
mod headers;
mod helpers;
mod ingest;
mod integrity;
mod layout;
mod live;
mod login;
mod operations;
mod pages;
mod pull;
mod retention;
mod routes;
mod search;
mod site;
mod subscriptions;
mod tamper;
mod webhook;
