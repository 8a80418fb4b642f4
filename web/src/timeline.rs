//! The rows of the message list: the shared model
//! ([`meshchat_shared::client::timeline`]) in the app's language.

pub use meshchat_shared::client::timeline::{FOLLOW, MOST, Quote, Row, STEP, Span, Window, by_key, day_number};

use meshchat_shared::client::annotate::Target;
use meshchat_shared::client::room::RoomView;
use meshchat_shared::client::timeline::{self as shared, Words};
use meshchat_shared::rooms::RoomEvent;

use crate::i18n::{fill, t};

/// The app's words for the rows.
struct Local;

impl Words for Local {
    fn describe(&self, by: &str, event: &RoomEvent) -> String {
        crate::i18n::describe(by, event)
    }
    fn an_earlier_message(&self) -> String {
        t().an_earlier_message.to_owned()
    }
    fn message_deleted(&self) -> String {
        t().message_deleted.to_owned()
    }
    fn typing(&self, names: &[String]) -> Option<String> {
        match names {
            [] => None,
            [a] => Some(fill(t().typing_one, &[a])),
            [a, b] => Some(fill(t().typing_two, &[a, b])),
            [a, b, c] => Some(fill(t().typing_three, &[a, b, c])),
            _ => Some(t().typing_many.to_owned()),
        }
    }
}

/// The rows of `span` of a room for `me`, in the app's language.
pub fn rows_in(room: &RoomView, me: &str, local_day: &dyn Fn(u64) -> i64, span: &Span) -> Vec<Row> {
    shared::rows_in(room, me, local_day, span, &Local)
}

/// The rows of the thread of `root`, in the app's language.
pub fn thread_rows(room: &RoomView, me: &str, root: &Target) -> Vec<Row> {
    shared::thread_rows(room, me, root, &Local)
}

/// "bob is typing…", "bob and carol are typing…", and so on.
pub fn typing_line(names: &[String]) -> Option<String> {
    Local.typing(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshchat_shared::client::timeline::English;

    /// In English the app reads as the terminal app does.
    #[test]
    fn the_apps_english_is_the_shared_english() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for n in 0..5 {
            let who = names(&["a", "b", "c", "d"][..n]);
            assert_eq!(Local.typing(&who), English.typing(&who));
        }
        assert_eq!(Local.an_earlier_message(), English.an_earlier_message());
        assert_eq!(Local.message_deleted(), English.message_deleted());
    }
}
