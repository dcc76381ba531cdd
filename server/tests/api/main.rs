//! Integration tests: the real router over a real SQLite file per test.

mod auth;
mod chain;
mod cli;
mod entries;
mod export;
mod export_pdf;
mod helpers;
mod ingest;
mod live;
mod pages;
