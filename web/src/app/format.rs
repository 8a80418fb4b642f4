//! Dates and times in the viewer's locale and time zone, through JS `Date`.

use js_sys::{Date, Object, Reflect};
use wasm_bindgen::JsValue;

use crate::i18n::{lang, t};
use crate::state::timeline::day_number;

fn options(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

fn date(ts: u64) -> Date {
    Date::new(&JsValue::from_f64(ts as f64))
}

/// The local day of a timestamp (the zone's offset can differ by date).
pub fn local_day(ts: u64) -> i64 {
    let offset_east = -(date(ts).get_timezone_offset() as i64);
    day_number(ts, offset_east)
}

/// "14:05" (or "2:05 PM", as the locale has it).
pub fn time(ts: u64) -> String {
    let o = options(&[("hour", "2-digit"), ("minute", "2-digit")]);
    date(ts).to_locale_time_string_with_options(lang().tag(), &o).into()
}

/// "Friday, 20 November 2026 at 14:05:03".
pub fn full(ts: u64) -> String {
    let o = options(&[
        ("weekday", "long"),
        ("year", "numeric"),
        ("month", "long"),
        ("day", "numeric"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("second", "2-digit"),
    ]);
    date(ts).to_locale_string(lang().tag(), &o).into()
}

/// "Today", "Yesterday", or "Friday 20 November" (with the year when not this year).
pub fn day_label(ts: u64, now: u64) -> String {
    let (day, today) = (local_day(ts), local_day(now));
    if day == today {
        return t().today.into();
    }
    if day == today - 1 {
        return t().yesterday.into();
    }
    let same_year = date(ts).get_full_year() == date(now).get_full_year();
    let mut pairs = vec![("weekday", "long"), ("month", "long"), ("day", "numeric")];
    if !same_year {
        pairs.push(("year", "numeric"));
    }
    date(ts).to_locale_date_string(lang().tag(), &options(&pairs)).into()
}

/// "Today 14:05", "Friday 20 November 09:12".
pub fn when(ts: u64) -> String {
    format!("{} {}", day_label(ts, js_sys::Date::now() as u64), time(ts))
}

/// ISO 8601, for `<time datetime>`.
pub fn iso(ts: u64) -> String {
    date(ts).to_iso_string().into()
}
