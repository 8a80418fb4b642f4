//! A small emoji set with shortcodes (`:tada:`), for reactions. Kept by
//! hand and short on purpose: a full table (the `emojis` crate carries
//! every emoji) would cost the app more than all of its own code does.

/// (shortcode, emoji), the usual names (GitHub's and Slack's).
pub const EMOJI: [(&str, &str); 64] = [
    ("+1", "👍"),
    ("thumbsup", "👍"),
    ("-1", "👎"),
    ("tada", "🎉"),
    ("heart", "❤️"),
    ("smile", "😄"),
    ("joy", "😂"),
    ("laughing", "😆"),
    ("wink", "😉"),
    ("blush", "😊"),
    ("heart_eyes", "😍"),
    ("thinking", "🤔"),
    ("open_mouth", "😮"),
    ("cry", "😢"),
    ("sob", "😭"),
    ("angry", "😠"),
    ("scream", "😱"),
    ("sunglasses", "😎"),
    ("pray", "🙏"),
    ("clap", "👏"),
    ("wave", "👋"),
    ("ok_hand", "👌"),
    ("muscle", "💪"),
    ("raised_hands", "🙌"),
    ("eyes", "👀"),
    ("fire", "🔥"),
    ("rocket", "🚀"),
    ("star", "⭐"),
    ("sparkles", "✨"),
    ("100", "💯"),
    ("check", "✅"),
    ("white_check_mark", "✅"),
    ("x", "❌"),
    ("warning", "⚠️"),
    ("question", "❓"),
    ("exclamation", "❗"),
    ("bulb", "💡"),
    ("memo", "📝"),
    ("bug", "🐛"),
    ("wrench", "🔧"),
    ("hammer", "🔨"),
    ("lock", "🔒"),
    ("coffee", "☕"),
    ("pizza", "🍕"),
    ("beer", "🍺"),
    ("cake", "🍰"),
    ("party", "🥳"),
    ("gift", "🎁"),
    ("sun", "☀️"),
    ("moon", "🌙"),
    ("rainbow", "🌈"),
    ("zap", "⚡"),
    ("snowflake", "❄️"),
    ("earth", "🌍"),
    ("dog", "🐶"),
    ("cat", "🐱"),
    ("unicorn", "🦄"),
    ("crab", "🦀"),
    ("robot", "🤖"),
    ("ghost", "👻"),
    ("skull", "💀"),
    ("poop", "💩"),
    ("see_no_evil", "🙈"),
    ("shrug", "🤷"),
];

/// Emoji whose shortcode contains `query` (without its colons), the
/// ones starting with it first; each emoji once.
pub fn search(query: &str) -> Vec<(&'static str, &'static str)> {
    let q = query.trim().trim_matches(':').to_lowercase();
    let mut starts: Vec<(&str, &str)> = EMOJI.iter().copied().filter(|(n, _)| n.starts_with(&q)).collect();
    starts.extend(EMOJI.iter().copied().filter(|(n, _)| !n.starts_with(&q) && n.contains(&q)));
    let mut seen = Vec::new();
    starts.retain(|(_, e)| {
        let fresh = !seen.contains(e);
        seen.push(*e);
        fresh
    });
    starts
}

/// `:shortcode:` → its emoji, if known.
pub fn by_code(code: &str) -> Option<&'static str> {
    let c = code.trim().trim_matches(':');
    EMOJI.iter().find(|(n, _)| *n == c).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_find_emoji() {
        assert_eq!(by_code(":tada:"), Some("🎉"));
        assert_eq!(search("tad").first(), Some(&("tada", "🎉")));
        let hearts: Vec<&str> = search("heart").iter().map(|(_, e)| *e).collect();
        assert_eq!(hearts, ["❤️", "😍"]);
        assert_eq!(search(":thumbs").len(), 1, "one 👍 though two names");
        assert!(search("nothing-like-this").is_empty());
    }
}
