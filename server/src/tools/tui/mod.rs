//! `meshchat tui`: the full-screen terminal app (and `meshchat client` at a
//! terminal). The same shared client state as the web app
//! ([`meshchat_shared::client`]: rooms, resume, outbox, rows of the
//! timeline) on ratatui and crossterm.
//!
//! # Layout
//! - [`app`]: the state as plain Rust: the chat, the mode, what is selected,
//!   the composer's target; requests out for the network. Unit-tested.
//! - [`keys`]: the key map, mode by mode, and the help it shows.
//! - [`compose`]: the text being written, its cursor, `@` completion.
//! - [`view`]: draws the state; [`lines`]: timeline rows as wrapped, safe
//!   terminal lines; [`theme`]: colours that follow the terminal.
//! - [`term`]: the driver: screen, keyboard, HTTP tasks, and the
//!   connection loop the line client uses too.

pub mod app;
pub mod compose;
pub mod keys;
pub mod lines;
pub mod term;
pub mod theme;
pub mod view;

use std::path::PathBuf;

use meshchat_shared::client::Chat;

use super::client::link::drive;
use super::client::signin::{Identity, SignIn, sign_in};
use crate::infra::tls::TlsClient;

/// Signs in (at the prompt, before the screen is taken), then runs the app
/// until the user quits or the session ends.
pub async fn run(signin: SignIn, rooms: Vec<String>, tls: TlsClient, downloads: PathBuf) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!("the terminal app needs a terminal: in pipes and scripts use `meshchat client --lines`");
    }
    for room in &rooms {
        meshchat_shared::limits::validate_room(room)?;
    }
    let (name, token) = match sign_in(&signin, &tls).await? {
        Identity::Token(t) => (String::new(), Some(t)),
        Identity::Guest(name) => (name, None),
    };
    let mut chat = Chat::new(&name, &rooms, rooms.first().map(String::as_str));
    chat.token = token.clone();
    let mut term = term::Term::start(app::App::new(chat), tls.clone(), token, downloads)?;
    drive(&mut term, &signin.nodes, &tls).await;
    let chat = &term.app.chat;
    let signed_out = chat.signed_out;
    let unsent: usize = chat.rooms.values().map(|r| r.pending.len()).sum();
    term.stop();
    if signed_out {
        eprintln!("Signed out: the session has ended; sign in again.");
    }
    if unsent > 0 {
        eprintln!("{unsent} message(s) were not sent.");
    }
    Ok(())
}
