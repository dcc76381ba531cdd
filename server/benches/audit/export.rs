//! Export through the router against the database's own CSV tool over the same rows:
//! `sqlite3 -csv`, or `psql`'s `\copy … to csv`.

use crate::memory::{anon_memory_mib, peak_memory_mib, reset_peak_memory, HeapSampler};
use crate::request;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use std::fmt::Write as _;
use std::time::Instant;

/// Export through the router (the body read to its end, as a client would), against
/// `sqlite3 -csv -header` over the same rows of the same database, with the memory of
/// this process during each export.
pub async fn export_section(app: &axum::Router, token: &str, db_url: &str, day: impl Fn(i64) -> String) -> String {
    let cases = [
        ("CSV, every entry", "csv", String::new()),
        ("JSON, every entry", "json", String::new()),
        ("CSV, the last 9 days", "csv", format!("start_date={}", day(9))),
        ("PDF, one day", "pdf", format!("start_date={0}&end_date={0}", day(2))),
        ("PDF, four days (near the cap)", "pdf", format!("start_date={}&end_date={}", day(5), day(2))),
    ];
    let mut rows = String::new();
    let mut pdf_rates = Vec::new();
    for (name, format, filters) in cases {
        let entries = request(app, token, &format!("/audit/entries?limit=1&{filters}")).await;
        let entries: serde_json::Value =
            serde_json::from_slice(&entries.into_body().collect().await.expect("body").to_bytes()).expect("JSON");
        let entries = entries["total"].as_u64().unwrap_or(0);
        let query = if filters.is_empty() { format!("format={format}") } else { format!("format={format}&{filters}") };
        reset_peak_memory();
        let heap_before = anon_memory_mib().unwrap_or(0.0);
        let sampler = HeapSampler::start();
        let t = Instant::now();
        let response = request(app, token, &format!("/audit/export?{query}")).await;
        let status = response.status();
        // Read as a client would, without keeping the file.
        let mut body = response.into_body();
        let mut bytes = 0;
        while let Some(frame) = body.frame().await {
            bytes += frame.expect("frame").into_data().map_or(0, |d| d.len());
        }
        let secs = t.elapsed().as_secs_f64();
        let heap = sampler.stop().max(heap_before);
        assert_eq!(status, StatusCode::OK, "{query}");
        if format == "pdf" {
            pdf_rates.push(entries as f64 / secs);
        }
        eprintln!("export {name}: {entries} entries, {:.1} MB in {secs:.2}s", bytes as f64 / 1e6);
        let _ = writeln!(
            rows,
            "| {name} | `{query}` | {entries} | {:.1} | {secs:.2} | {:.0} | {heap_before:.0} → {heap:.0} | {} |",
            bytes as f64 / 1e6,
            entries as f64 / secs,
            peak_memory_mib().map_or("n/a".to_owned(), |m| format!("{m:.0}"))
        );
    }
    let comparison = compare_with_the_shell(app, token, db_url).await;
    let slowest_pdf = pdf_rates.iter().copied().fold(f64::INFINITY, f64::min);
    let pdf = format!(
        "PDF reports (at most {} entries each): slowest {slowest_pdf:.0} entries/s (target ≥ 20,000: {}). \
         A report is laid out whole before it is sent, so its memory grows with its entries, up to the cap.\n",
        app::export::PDF_MAX_ENTRIES,
        if slowest_pdf >= 20_000.0 { "met" } else { "**not met**" }
    );
    format!(
        "\n### Export\n\n\
         `GET /audit/export` through the router, the body read to its end. Heap is the anonymous memory \
         (RssAnon) of this benchmark process before the export → the most sampled (every 5 ms) during it. \
         Peak RSS is the high-water mark (VmHWM) during the export alone.{engine_memory}\n\n\
         | export | query | entries | MB | seconds | entries/s | heap MiB | peak RSS MiB |\n|---|---|---|---|---|---|---|---|\n\
         {rows}\n{comparison}\n{pdf}",
        engine_memory = if db_url.starts_with("sqlite:") {
            " The heap also holds SQLite's page cache, up to 32 MiB for each pooled connection an export \
             happens to use; the peak also counts the database file's pages the pooled connections map (mmap, up \
             to 256 MiB for each; the export's own scan maps none and reads through its 32 MiB cache)."
        } else {
            " The database server's memory is its own process's, not counted here."
        },
    )
}

/// Rounds of the comparison with the database's own CSV tool.
const ROUNDS: usize = 3;

/// The whole log as CSV through the router against the database's CSV tool over the same
/// rows, in turns (ours, theirs, ours, …): the machine is noisy, and the median of each
/// compares them better than one run of each.
async fn compare_with_the_shell(app: &axum::Router, token: &str, db_url: &str) -> String {
    let columns = "seq, ts, event_type, severity, actor_type, actor_id, actor_name, resource_type, resource_id, \
                   resource_name, description, details, ip_address, user_agent, received_at, ingest_token_id, \
                   ingest_token_name";
    let sql = format!("SELECT {columns} FROM audit_entries ORDER BY ts, seq");
    let tool = if db_url.starts_with("sqlite:") {
        "`sqlite3 -csv -header`"
    } else {
        "`psql -c \"\\copy (…) to stdout with csv header\"`"
    };
    let (mut ours, mut theirs, mut their_bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let response = request(app, token, "/audit/export?format=csv").await;
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame.expect("frame");
        }
        ours.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let dumped = match db_url.strip_prefix("sqlite:") {
            Some(path) => std::process::Command::new("sqlite3").args(["-csv", "-header", path, &sql]).output(),
            None => std::process::Command::new(psql())
                .args([db_url, "-c", &format!("\\copy ({sql}) to stdout with csv header")])
                .output(),
        };
        match dumped {
            Ok(out) if out.status.success() => {
                theirs.push(t.elapsed().as_secs_f64());
                their_bytes = out.stdout.len();
            }
            _ => return format!("{tool} could not be run here, so there is no comparison.\n"),
        }
    }
    let list = |v: &[f64]| v.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", ");
    let (ours_list, theirs_list) = (list(&ours), list(&theirs));
    let ratio = median(&mut ours) / median(&mut theirs);
    format!(
        "`GET /audit/export?format=csv` and {tool} over the same rows (`{sql}`, {:.1} MB), taken in turns {ROUNDS} \
         times: ours {ours_list} s, theirs {theirs_list} s. Median CSV export time / median {tool} time: \
         **{ratio:.2}** (target ≤ 1: {}).\n",
        their_bytes as f64 / 1e6,
        if ratio <= 1.0 { "met" } else { "**not met**" }
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The newest of Debian's psql (not on the PATH unless the client package is installed
/// alone), by major version.
fn psql() -> std::path::PathBuf {
    let installed = std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten();
    let mut found: Vec<(u32, std::path::PathBuf)> = installed
        .filter_map(|v| {
            let major = v.file_name().to_str()?.split('.').next()?.parse().ok()?;
            Some((major, v.path().join("bin/psql")))
        })
        .filter(|(_, p)| p.exists())
        .collect();
    found.sort();
    found.pop().map_or_else(|| "psql".into(), |(_, p)| p)
}
