//! Colours that follow the terminal: its own palette (the 16 named
//! colours its theme defines) on its own background, a set for dark and
//! one for light backgrounds, and none at all with `NO_COLOR`, where
//! bold, underline and reverse video carry the meaning alone.

use ratatui::style::{Color, Modifier, Style};

/// What a piece of the screen is, for its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Times, notices, what is secondary.
    Dim,
    /// The user's own name.
    Me,
    /// A message that mentions the user.
    Mention,
    /// The selected message, the current room.
    Selected,
    /// Something failed.
    Error,
    /// Unread counts, the "new" line.
    Unread,
    /// Titles, keys in the help, the focused box.
    Accent,
    /// The status bar.
    Bar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub dark: bool,
}

impl Theme {
    /// From the environment: `NO_COLOR` (any value but empty) turns colour
    /// off; `MESHCHAT_THEME=light|dark` chooses, else `COLORFGBG` (set by
    /// many terminals: "15;0" is light text on a dark background) does,
    /// else dark.
    pub fn from_env() -> Theme {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let color = var("NO_COLOR").is_none();
        let dark = match var("MESHCHAT_THEME").as_deref() {
            Some("light") => false,
            Some("dark") => true,
            _ => var("COLORFGBG").and_then(|v| background_is_dark(&v)).unwrap_or(true),
        };
        Theme { color, dark }
    }

    pub fn style(&self, role: Role) -> Style {
        let s = Style::default();
        if !self.color {
            return match role {
                Role::Dim | Role::Bar => s,
                Role::Me | Role::Accent => s.add_modifier(Modifier::BOLD),
                Role::Mention | Role::Unread | Role::Error => s.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                Role::Selected => s.add_modifier(Modifier::REVERSED),
            };
        }
        let (dim, accent, warn) = if self.dark {
            (Color::DarkGray, Color::Cyan, Color::Yellow)
        } else {
            (Color::Gray, Color::Blue, Color::Magenta)
        };
        match role {
            Role::Dim => s.fg(dim),
            Role::Me => s.fg(Color::Green).add_modifier(Modifier::BOLD),
            Role::Mention => s.fg(warn).add_modifier(Modifier::BOLD),
            Role::Selected => s.add_modifier(Modifier::REVERSED),
            Role::Error => s.fg(Color::Red).add_modifier(Modifier::BOLD),
            Role::Unread => s.fg(Color::Red).add_modifier(Modifier::BOLD),
            Role::Accent => s.fg(accent).add_modifier(Modifier::BOLD),
            Role::Bar => s.add_modifier(Modifier::REVERSED),
        }
    }

    /// A person's name, in a colour of their own (the same everywhere).
    pub fn person(&self, name: &str) -> Style {
        let s = Style::default().add_modifier(Modifier::BOLD);
        if !self.color {
            return s;
        }
        let palette: [Color; 5] = if self.dark {
            [Color::LightBlue, Color::LightMagenta, Color::LightCyan, Color::LightYellow, Color::LightRed]
        } else {
            [Color::Blue, Color::Magenta, Color::Cyan, Color::DarkGray, Color::Red]
        };
        let h = name.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
        s.fg(palette[h as usize % palette.len()])
    }
}

/// `COLORFGBG` is "fg;bg" (sometimes "fg;default;bg"): a background of
/// 0–6 or 8 is dark, 7 or 9–15 light.
fn background_is_dark(v: &str) -> Option<bool> {
    let bg: u8 = v.rsplit(';').next()?.parse().ok()?;
    Some(matches!(bg, 0..=6 | 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_background_decides_and_no_color_means_none() {
        assert_eq!(background_is_dark("15;0"), Some(true));
        assert_eq!(background_is_dark("0;default;15"), Some(false));
        assert_eq!(background_is_dark("junk"), None);
        let plain = Theme { color: false, dark: true };
        for role in [Role::Dim, Role::Me, Role::Mention, Role::Selected, Role::Error, Role::Accent] {
            let s = plain.style(role);
            assert_eq!((s.fg, s.bg), (None, None), "{role:?}");
        }
        assert_eq!(plain.person("bob").fg, None);
        let dark = Theme { color: true, dark: true };
        assert_eq!(dark.person("bob"), dark.person("bob"));
    }
}
