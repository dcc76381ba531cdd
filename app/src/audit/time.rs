//! Times as the reader wants them: in the browser's time zone with the offset shown, or
//! in UTC. The choice and the zone's name live in cookies, so that the server renders
//! the same text the browser would and nothing changes when the page hydrates.

use crate::dates;
use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

/// The cookie holding the reader's choice: `local` or `utc`.
pub const MODE_COOKIE: &str = "cc_time";
/// The cookie holding the browser's IANA time zone, for the server to render with.
pub const ZONE_COOKIE: &str = "cc_tz";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    Local,
    Utc,
}

/// How the page shows times, shared by every component that shows one.
#[derive(Clone, Copy)]
pub struct Clock {
    pub mode: RwSignal<TimeMode>,
    /// The zone the server renders local times in (the browser asks its own).
    zone: StoredValue<Option<String>>,
}

impl Clock {
    /// Reads the cookies of the request (on the server) or of the document (in the
    /// browser). Without a zone cookie the server cannot know the reader's zone and shows
    /// UTC; the browser then records its zone and switches to it.
    pub fn from_cookies() -> Self {
        let cookies = request_cookies();
        let zone = cookie(&cookies, ZONE_COOKIE);
        let mode = match cookie(&cookies, MODE_COOKIE).as_deref() {
            Some("utc") => TimeMode::Utc,
            _ if zone.is_some() => TimeMode::Local,
            _ => TimeMode::Utc,
        };
        Clock { mode: RwSignal::new(mode), zone: StoredValue::new(zone) }
    }

    /// The time as shown in a table cell, in the current mode.
    pub fn show(&self, t: DateTime<Utc>) -> String {
        match self.mode.get() {
            TimeMode::Utc => format!("{} UTC", dates::ymd_hms(&t, ' ')),
            TimeMode::Local => match offset_minutes(t, self.zone.get_value().as_deref()) {
                Some(offset) => with_offset(t, offset),
                None => format!("{} UTC", dates::ymd_hms(&t, ' ')),
            },
        }
    }

    /// Switches between local time and UTC, and remembers the choice.
    pub fn set(&self, mode: TimeMode) {
        self.mode.set(mode);
        set_cookie(MODE_COOKIE, if mode == TimeMode::Utc { "utc" } else { "local" });
    }

    /// In the browser: records its zone for the server, and shows local time unless the
    /// reader chose UTC.
    pub fn adopt_browser_zone(&self) {
        if let Some(zone) = browser_zone() {
            set_cookie(ZONE_COOKIE, &zone);
            let chose_utc = cookie(&document_cookies(), MODE_COOKIE).as_deref() == Some("utc");
            if !chose_utc && self.mode.get_untracked() != TimeMode::Local {
                self.mode.set(TimeMode::Local);
            }
        }
    }
}

/// The switch between local time and UTC.
#[component]
pub fn TimeZoneSwitch() -> impl IntoView {
    let clock = expect_context::<Clock>();
    let option = move |mode: TimeMode, value: &'static str, label: &'static str| {
        let checked = Signal::derive(move || clock.mode.get() == mode);
        view! {
            <label>
                <input
                    type="radio"
                    name="time-mode"
                    value=value
                    checked=checked.get_untracked()
                    prop:checked=checked
                    on:change=move |_| clock.set(mode)
                />
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="time-mode">
            <legend>"Times in"</legend>
            {option(TimeMode::Local, "local", "Local time")}
            {option(TimeMode::Utc, "utc", "UTC")}
        </fieldset>
    }
}

/// `2025-01-15 11:30:00 +01:00`: the wall-clock time and its offset from UTC.
pub fn with_offset(t: DateTime<Utc>, offset_minutes: i32) -> String {
    let local = t + Duration::minutes(i64::from(offset_minutes));
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let m = offset_minutes.unsigned_abs();
    format!("{} {sign}{:02}:{:02}", dates::ymd_hms(&local, ' '), m / 60, m % 60)
}

fn cookie(cookies: &str, name: &str) -> Option<String> {
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The offset from UTC of the reader's zone at instant `t`, in minutes.
#[cfg(feature = "hydrate")]
fn offset_minutes(t: DateTime<Utc>, _server_zone: Option<&str>) -> Option<i32> {
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&leptos::wasm_bindgen::JsValue::from_f64(t.timestamp_millis() as f64));
    // getTimezoneOffset is UTC minus local, in whole minutes.
    #[allow(clippy::cast_possible_truncation)]
    Some(-(date.get_timezone_offset() as i32))
}

#[cfg(not(feature = "hydrate"))]
fn offset_minutes(t: DateTime<Utc>, zone: Option<&str>) -> Option<i32> {
    #[cfg(feature = "ssr")]
    {
        use chrono::{Offset, TimeZone};
        let tz: chrono_tz::Tz = zone?.parse().ok()?;
        Some(tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() / 60)
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = (t, zone);
        None
    }
}

/// The cookies the page is rendered with.
fn request_cookies() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.headers.get(http::header::COOKIE)?.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document_cookies()
    }
}

#[cfg(feature = "hydrate")]
fn document_cookies() -> String {
    use leptos::wasm_bindgen::JsCast;
    document().dyn_into::<web_sys::HtmlDocument>().ok().and_then(|d| d.cookie().ok()).unwrap_or_default()
}

#[cfg(not(feature = "hydrate"))]
fn document_cookies() -> String {
    String::new()
}

#[cfg(feature = "hydrate")]
fn set_cookie(name: &str, value: &str) {
    use leptos::wasm_bindgen::JsCast;
    if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
        let _ = doc.set_cookie(&format!("{name}={value}; path=/; max-age=31536000; samesite=lax"));
    }
}

#[cfg(not(feature = "hydrate"))]
fn set_cookie(_: &str, _: &str) {}

/// The browser's IANA zone name (`Europe/Berlin`).
#[cfg(feature = "hydrate")]
fn browser_zone() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    let options = format.resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into()).ok()?.as_string().filter(|z| !z.is_empty())
}

#[cfg(not(feature = "hydrate"))]
fn browser_zone() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn local_times_carry_their_offset() {
        assert_eq!(with_offset(t("2025-01-15T10:30:00Z"), 60), "2025-01-15 11:30:00 +01:00");
        assert_eq!(with_offset(t("2025-01-15T01:30:00Z"), -330), "2025-01-14 20:00:00 -05:30");
        assert_eq!(with_offset(t("2025-01-15T10:30:00Z"), 0), "2025-01-15 10:30:00 +00:00");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let jar = "a=1; cc_tz=Europe/Berlin; cc_time=utc; empty=";
        assert_eq!(cookie(jar, ZONE_COOKIE).as_deref(), Some("Europe/Berlin"));
        assert_eq!(cookie(jar, MODE_COOKIE).as_deref(), Some("utc"));
        assert_eq!(cookie(jar, "empty"), None);
        assert_eq!(cookie(jar, "missing"), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_follows_daylight_saving_in_the_readers_zone() {
        assert_eq!(offset_minutes(t("2025-01-15T10:30:00Z"), Some("Europe/Berlin")), Some(60));
        assert_eq!(offset_minutes(t("2025-07-15T10:30:00Z"), Some("Europe/Berlin")), Some(120));
        assert_eq!(offset_minutes(t("2025-07-15T10:30:00Z"), Some("Not/AZone")), None);
    }
}
