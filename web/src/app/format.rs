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

/// What [`time`] and [`full`] show.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Time,
    Full,
}

thread_local! {
    /// Formatters made once per language and kind: `toLocaleString` with
    /// options makes one per call, and every row drawn asked twice (13 %
    /// of the page's time while a busy room filled).
    static FORMATS: std::cell::RefCell<Vec<((&'static str, Kind), js_sys::Function)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn formatted(ts: u64, kind: Kind) -> String {
    let tag = lang().tag();
    let made = FORMATS.with_borrow(|f| f.iter().find(|(k, _)| *k == (tag, kind)).map(|(_, f)| f.clone()));
    let format = made.unwrap_or_else(|| {
        let pairs: &[(&str, &str)] = match kind {
            Kind::Time => &[("hour", "2-digit"), ("minute", "2-digit")],
            Kind::Full => &[
                ("weekday", "long"),
                ("year", "numeric"),
                ("month", "long"),
                ("day", "numeric"),
                ("hour", "2-digit"),
                ("minute", "2-digit"),
                ("second", "2-digit"),
            ],
        };
        let locales = js_sys::Array::of1(&JsValue::from_str(tag));
        let f = js_sys::Intl::DateTimeFormat::new(&locales, &options(pairs)).format();
        FORMATS.with_borrow_mut(|all| all.push(((tag, kind), f.clone())));
        f
    });
    format.call1(&JsValue::NULL, &date(ts)).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

/// "14:05" (or "2:05 PM", as the locale has it).
pub fn time(ts: u64) -> String {
    formatted(ts, Kind::Time)
}

/// "Friday, 20 November 2026 at 14:05:03".
pub fn full(ts: u64) -> String {
    formatted(ts, Kind::Full)
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
