//! The timeline above the table: matching entries per hour or day, stacked by severity,
//! drawn as SVG on the server. Each bar is a link that narrows the date range to it
//! (so it works without script); dragging across bars narrows to the whole stretch.

use super::api::entry_timeline;
use super::url;
use crate::dates;
use crate::filter::EntryQuery;
use crate::histogram::{Bucket, Histogram, DAY_SECS};
use chrono::{DateTime, Duration, Timelike, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use std::sync::Arc;

/// Drawing units of the SVG's view box; it stretches to the width of the page.
const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 100.0;
/// Warnings and errors stay visible next to thousands of informational entries.
const MIN_MARK: f64 = 2.0;

/// The query with the date range narrowed to buckets `first..=last`, never beyond the
/// query's own range (the first bucket may start before it, the last end after it).
pub fn narrowed(query: &EntryQuery, histogram: &Histogram, first: usize, last: usize) -> EntryQuery {
    let (from, _) = histogram.bounds(first);
    let (_, to) = histogram.bounds(last);
    let mut q = url::first_page(query.clone());
    let (own_start, own_end) = query.validate().map(|(f, _)| (f.start, f.end)).unwrap_or_default();
    let midnight = |t: DateTime<Utc>| t.timestamp_micros().rem_euclid(DAY_SECS * 1_000_000) == 0;
    let whole_days = histogram.bucket_secs % DAY_SECS == 0 && midnight(from) && midnight(to);
    q.start_date = match own_start {
        Some(own) if own >= from => query.start_date.clone(),
        _ if whole_days => Some(dates::ymd(&from)),
        _ => Some(format!("{}Z", dates::ymd_hms(&from, 'T'))),
    };
    q.end_date = match own_end {
        Some(own) if own <= to => query.end_date.clone(),
        // A bare end date includes its whole day.
        _ if whole_days => Some(dates::ymd(&(to - Duration::days(1)))),
        // An end date-time is inclusive: the last microsecond before the next bucket.
        _ => Some(dates::iso_micros(&(to - Duration::microseconds(1)))),
    };
    q
}

/// `bucket` entries as the bar's tooltip says it.
fn describe(histogram: &Histogram, i: usize, bucket: &Bucket) -> String {
    let (from, _) = histogram.bounds(i);
    let when = if histogram.bucket_secs % DAY_SECS == 0 {
        format!("{} (UTC)", dates::ymd(&from))
    } else {
        format!("{} {:02}:00 UTC", dates::ymd(&from), from.hour())
    };
    format!(
        "{when}: {} entries ({} errors, {} warnings, {} info); select to show only these",
        bucket.total(),
        bucket.error,
        bucket.warning,
        bucket.info
    )
}

#[component]
pub fn Timeline(
    /// The tidied query without its paging, or `None` when the URL does not parse.
    key: Memo<Option<String>>,
    query: Signal<EntryQuery>,
) -> impl IntoView {
    // The chart is redrawn inside a Suspend whose signals are disposed when the next
    // query starts, while the old bars still show: its state lives here instead.
    let drag = DragState { svg: NodeRef::new(), over: RwSignal::new(None), dragged: StoredValue::new(false) };
    let histogram = Resource::new(
        move || key.get(),
        |key| async move {
            match key {
                Some(key) => entry_timeline(key).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="timeline" aria-label="Entries over time">
            <Transition fallback=|| view! { <div class="timeline-placeholder"></div> }>
                {move || Suspend::new(async move {
                    match histogram.await {
                        Ok(Some(h)) => view! { <Chart histogram=h query drag/> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="timeline-error">"The timeline could not be drawn: " {e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

/// A drag across the bars: the chart's element, the buckets the pointer went down on and
/// is over now, and whether the last gesture was a drag (so its click is not a bar's).
#[derive(Clone, Copy)]
struct DragState {
    svg: NodeRef<leptos::svg::Svg>,
    over: RwSignal<Option<(usize, usize)>>,
    dragged: StoredValue<bool>,
}

/// A coordinate in hundredths of the chart's units, as a whole number: finer than any
/// screen shows, a few characters instead of sixteen in every attribute of every bar, and
/// no floating-point formatting in the page's bundle.
#[allow(clippy::cast_possible_truncation)]
fn units(v: f64) -> i64 {
    (v * 100.0).round() as i64
}

#[component]
fn Chart(histogram: Histogram, query: Signal<EntryQuery>, drag: DragState) -> impl IntoView {
    let n = histogram.buckets.len().max(1);
    #[allow(clippy::cast_precision_loss)]
    let bar = WIDTH / n as f64;
    let max = histogram.buckets.iter().map(Bucket::total).max().unwrap_or(0).max(1);
    #[allow(clippy::cast_precision_loss)]
    let height = move |count: u64| {
        let h = count as f64 / max as f64 * (HEIGHT - MIN_MARK);
        if count > 0 {
            h.max(MIN_MARK)
        } else {
            0.0
        }
    };
    let by = if histogram.bucket_secs % DAY_SECS == 0 { "day" } else { "hour" };
    let total = histogram.total();
    let label = format!(
        "{total} entries by {by}, from {} to {} (UTC)",
        dates::ymd_hm(&histogram.start, ' '),
        dates::ymd_hm(&histogram.end, ' ')
    );

    let DragState { svg, over: drag, dragged } = drag;
    let bucket_at = move |x: i32| -> Option<usize> {
        #[cfg(feature = "hydrate")]
        {
            let rect = svg.get_untracked()?.get_bounding_client_rect();
            let at = (f64::from(x) - rect.left()) / rect.width().max(1.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            Some(((at * n as f64).floor().max(0.0) as usize).min(n - 1))
        }
        // Pointer events only happen in the browser.
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (x, svg);
            None
        }
    };
    let navigate = use_navigate();
    let shared = Arc::new(histogram.clone());
    let finish = {
        let shared = shared.clone();
        move |_| {
            if let Some((a, b)) = drag.get_untracked() {
                drag.set(None);
                if a != b {
                    dragged.set_value(true);
                    let next = narrowed(&query.get_untracked(), &shared, a.min(b), a.max(b));
                    navigate(&url::href(&next), NavigateOptions::default());
                }
            }
        }
    };
    let selection = move || {
        drag.get().filter(|(a, b)| a != b).map(|(a, b)| {
            #[allow(clippy::cast_precision_loss)]
            let (x, w) = (a.min(b) as f64 * bar, (a.abs_diff(b) + 1) as f64 * bar);
            view! { <rect class="selection" x=units(x) y=0 width=units(w) height=units(HEIGHT)></rect> }
        })
    };

    let bars = histogram
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            #[allow(clippy::cast_precision_loss)]
            let x = i as f64 * bar;
            let (e, w, f) = (height(b.error), height(b.warning), height(b.info));
            let shared = shared.clone();
            let href = move || url::href(&narrowed(&query.get(), &shared, i, i));
            let title = describe(&histogram, i, b);
            let label = title.clone();
            view! {
                <a
                    href=href
                    aria-label=label
                    on:click=move |ev| {
                        if dragged.get_value() {
                            ev.prevent_default();
                            dragged.set_value(false);
                        }
                    }
                >
                    <title>{title}</title>
                    <rect class="hit" x=units(x) y=0 width=units(bar) height=units(HEIGHT)></rect>
                    <rect class="error" x=units(x) y=units(HEIGHT - e) width=units(bar) height=units(e)></rect>
                    <rect class="warning" x=units(x) y=units(HEIGHT - e - w) width=units(bar) height=units(w)></rect>
                    <rect class="info" x=units(x) y=units(HEIGHT - e - w - f) width=units(bar) height=units(f)></rect>
                </a>
            }
        })
        .collect_view();

    let tick = |t: DateTime<Utc>| {
        if histogram.bucket_secs % DAY_SECS == 0 {
            dates::month_day(&t)
        } else {
            format!("{} {:02}:00", dates::month_day(&t), t.hour())
        }
    };
    let (first, middle, last) =
        (tick(histogram.start), tick(histogram.bounds(n / 2).0), tick(histogram.bounds(n - 1).0));
    view! {
        <div class="chart">
            <svg
                node_ref=svg
                viewBox=format!("0 0 {} {}", units(WIDTH), units(HEIGHT))
                preserveAspectRatio="none"
                role="group"
                aria-label=label.clone()
                on:pointerdown=move |ev| {
                    if ev.button() == 0 {
                        if let Some(i) = bucket_at(ev.client_x()) {
                            drag.set(Some((i, i)));
                        }
                    }
                }
                on:pointermove=move |ev| {
                    if let (Some((a, _)), Some(i)) = (drag.get_untracked(), bucket_at(ev.client_x())) {
                        drag.set(Some((a, i)));
                    }
                }
                on:pointerup=finish.clone()
                on:pointerleave=move |_| drag.set(None)
            >
                {bars}
                {selection}
            </svg>
            <div class="axis" aria-hidden="true">
                <span>{first}</span>
                <span>{middle}</span>
                <span>{last}</span>
            </div>
            <p class="legend">
                <span class="key info">"info"</span>
                <span class="key warning">"warning"</span>
                <span class="key error">"error"</span>
                <span class="caption">{label} " · click a bar or drag across bars to narrow the range"</span>
            </p>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Span;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn bars_narrow_to_whole_days_or_exact_hours() {
        let now = t("2025-03-10T12:30:00Z");
        let days = Histogram::empty(Span::plan(Some(t("2025-03-01T00:00:00Z")), None, None, now));
        let q = EntryQuery { severity: vec!["error".into()], offset: Some("50".into()), ..EntryQuery::default() };
        let one = narrowed(&q, &days, 2, 2);
        assert_eq!((one.start_date.as_deref(), one.end_date.as_deref()), (Some("2025-03-03"), Some("2025-03-03")));
        assert_eq!(one.offset, None);
        assert_eq!(one.severity, vec!["error"]);
        // The last day ends at "now", not at midnight: it is given to the microsecond.
        let tail = narrowed(&q, &days, 8, 9);
        assert_eq!(tail.start_date.as_deref(), Some("2025-03-09T00:00:00Z"));
        assert_eq!(tail.end_date.as_deref(), Some("2025-03-10T12:29:59.999999Z"));

        let hours = Histogram::empty(Span::plan(Some(t("2025-03-10T01:10:00Z")), None, None, now));
        let h = narrowed(&q, &hours, 1, 3);
        assert_eq!(h.start_date.as_deref(), Some("2025-03-10T02:00:00Z"));
        assert_eq!(h.end_date.as_deref(), Some("2025-03-10T04:59:59.999999Z"));

        // The first bucket starts before the query's own start: narrowing keeps that start.
        let own = EntryQuery { start_date: Some("2025-03-10T01:10:00Z".into()), ..EntryQuery::default() };
        let first = narrowed(&own, &hours, 0, 0);
        assert_eq!(first.start_date.as_deref(), Some("2025-03-10T01:10:00Z"));
        assert_eq!(first.end_date.as_deref(), Some("2025-03-10T01:59:59.999999Z"));
    }
}
