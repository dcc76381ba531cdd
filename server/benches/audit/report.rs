//! docs/benchmarks.md is made of sections, each written by one kind of run (the 1M and
//! 10M runs of `make bench` on each engine, the browser's first-load figures): a run
//! replaces its own section and keeps the others.

const HEADER: &str = "# Benchmarks\n\n\
Written by `make bench` (`cargo bench -p server --bench audit`, the same with `BENCH_ENGINE=postgres` \
under `PG_DURABLE=1 scripts/with-postgres.sh`, both again with `BENCH_ENTRIES=10000000 BENCH_ONLY=store` \
for the 10M sections, then `scripts/bench-ui.sh`). Each section is replaced by the run that wrote it. \
Do not edit by hand.\n\n";

pub fn write_section(marker: &str, content: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/benchmarks.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let doc = if doc.starts_with(HEADER) { doc } else { format!("{HEADER}{}", strip_unmarked(&doc)) };
    let (open, close) = (format!("<!-- {marker} -->\n"), format!("<!-- /{marker} -->\n"));
    let section = format!("{open}{content}\n{close}");
    let doc = match (doc.find(&open), doc.find(&close)) {
        (Some(start), Some(end)) if start < end => format!("{}{section}{}", &doc[..start], &doc[end + close.len()..]),
        _ => match doc.find("<!-- first-load -->") {
            Some(at) => format!("{}{section}\n{}", &doc[..at], &doc[at..]),
            None => format!("{doc}{section}"),
        },
    };
    std::fs::write(path, doc).expect("write docs/benchmarks.md");
    eprintln!("wrote the {marker} section of docs/benchmarks.md");
}

/// A report from before the sections: only its marked parts are kept.
fn strip_unmarked(doc: &str) -> String {
    match doc.find("<!-- ") {
        Some(at) => doc[at..].to_owned(),
        None => String::new(),
    }
}
