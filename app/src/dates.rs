//! Dates and times as text, written and read by hand in the few shapes the product uses:
//! the page's bundle then carries none of chrono's strftime machinery (a noticeable part
//! of the WASM), and the server and the browser write them identically.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use std::fmt::Write;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `2025-01-31`
pub fn ymd<T: Datelike>(t: &T) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

/// `2025-01-31 10:30` (`sep` between date and time: ' ' or 'T').
pub fn ymd_hm<T: Datelike + Timelike>(t: &T, sep: char) -> String {
    format!("{}{sep}{:02}:{:02}", ymd(t), t.hour(), t.minute())
}

/// `2025-01-31 10:30:00` (`sep` between date and time: ' ' or 'T').
pub fn ymd_hms<T: Datelike + Timelike>(t: &T, sep: char) -> String {
    format!("{}:{:02}", ymd_hm(t, sep), t.second())
}

/// `2025-01-31T10:30:00.000001Z`: to the microsecond, in UTC.
pub fn iso_micros(t: &DateTime<Utc>) -> String {
    let mut out = ymd_hms(t, 'T');
    let _ = write!(out, ".{:06}Z", t.timestamp_subsec_micros());
    out
}

/// `Jan 31`
pub fn month_day<T: Datelike>(t: &T) -> String {
    format!("{} {:02}", MONTHS[t.month0() as usize], t.day())
}

/// Reads `2025-01-31`.
pub fn read_ymd(text: &str) -> Option<NaiveDate> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || ![y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Reads a date-time without an offset: `2025-01-31T10:30`, with seconds
/// (`T10:30:15`) and a fraction of them (`T10:30:15.5`) if given.
pub fn read_naive(text: &str) -> Option<NaiveDateTime> {
    let (date, time) = text.split_once('T')?;
    let date = read_ymd(date)?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&fields.len()) || fraction.is_some() && fields.len() != 3 {
        return None;
    }
    let number =
        |s: &str| (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten();
    let (h, m) = (number(fields[0])?, number(fields[1])?);
    let s = fields.get(2).map_or(Some(0), |s| number(s))?;
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - u32::try_from(f.len()).ok()?)
        }
        Some(_) => return None,
    };
    Some(date.and_time(NaiveTime::from_hms_nano_opt(h, m, s, nanos)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn writes_match_chrono_s_formats() {
        let at = t("2025-01-05T04:03:02.000123Z");
        assert_eq!(ymd(&at), at.format("%Y-%m-%d").to_string());
        assert_eq!(ymd_hm(&at, ' '), at.format("%Y-%m-%d %H:%M").to_string());
        assert_eq!(ymd_hms(&at, 'T'), at.format("%Y-%m-%dT%H:%M:%S").to_string());
        assert_eq!(iso_micros(&at), at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        assert_eq!(month_day(&at), at.format("%b %d").to_string());
        assert_eq!(month_day(&t("2025-12-31T00:00:00Z")), "Dec 31");
    }

    #[test]
    fn reads_the_shapes_it_writes_and_refuses_others() {
        assert_eq!(read_ymd("2025-01-31"), NaiveDate::from_ymd_opt(2025, 1, 31));
        for bad in ["2025-1-31", "2025-02-30", "20250131", "2025-01-31x", "", "+2025-01-01", "2025-01-3a"] {
            assert_eq!(read_ymd(bad), None, "{bad}");
        }
        let naive = |s: &str| read_naive(s).map(|n| n.and_utc().to_rfc3339());
        assert_eq!(naive("2025-01-31T10:30").as_deref(), Some("2025-01-31T10:30:00+00:00"));
        assert_eq!(naive("2025-01-31T10:30:15").as_deref(), Some("2025-01-31T10:30:15+00:00"));
        assert_eq!(naive("2025-01-31T10:30:15.5").as_deref(), Some("2025-01-31T10:30:15.500+00:00"));
        assert_eq!(naive("2025-01-31T23:59:59.999999").as_deref(), Some("2025-01-31T23:59:59.999999+00:00"));
        for bad in [
            "2025-01-31",
            "2025-01-31T24:00",
            "2025-01-31T10",
            "2025-01-31T10:30.5",
            "2025-01-31T1:30",
            "2025-01-31T10:30:15.",
        ] {
            assert_eq!(read_naive(bad), None, "{bad}");
        }
    }
}
