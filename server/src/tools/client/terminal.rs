//! `meshchat client`: read lines, send them; print messages as they come.

use std::time::Duration;

use meshchat_shared::Message;

use crate::core::names::for_terminal;
use meshchat_shared::client::Status;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::signin::{Identity, SignIn, sign_in};
use super::{ClientConfig, ClientHandle, Event};
use crate::infra::tls::TlsClient;

/// `HH:MM:SS` (UTC) of a timestamp.
fn clock(ts: u64) -> String {
    let s = ts / 1000;
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// A message as a line of the terminal: nothing in it can act on the
/// terminal (escape sequences, bells, bidi overrides show as text). A reply
/// in a thread says whose: `/thread <origin>:<seq> text` answers there.
fn line(m: &Message) -> String {
    let thread = match meshchat_shared::rooms::thread_root(m) {
        Some(((origin, seq), _)) => format!(" (thread {}:{seq})", for_terminal(&origin)),
        None => String::new(),
    };
    // Room events (this client asks for them as they are) read as notices,
    // which name who acted: "* alice reacted 👍", not "alice: alice reacted 👍".
    let notice = !meshchat_shared::rooms::is_chat(m);
    let m = meshchat_shared::rooms::present(m);
    if notice {
        return format!("[{}] * {}", clock(m.ts), for_terminal(&m.body));
    }
    format!("[{}] {}{thread}: {}", clock(m.ts), for_terminal(&m.author), for_terminal(&m.body))
}

/// `/thread n1:42 text`: a reply in the thread of `n1:42`.
fn thread_reply(line: &str) -> Option<meshchat_shared::rooms::RoomEvent> {
    let rest = line.strip_prefix("/thread ")?;
    let (place, body) = rest.trim_start().split_once(' ')?;
    let (origin, seq) = place.split_once(':')?;
    let (body, seq) = (body.trim(), seq.parse().ok()?);
    let reply = meshchat_shared::rooms::RoomEvent::Reply {
        origin: origin.to_owned(),
        seq,
        body: body.to_owned(),
        thread: true,
        also: false,
    };
    (!body.is_empty()).then_some(reply)
}

pub async fn run(signin: SignIn, room: String, tls: TlsClient) -> anyhow::Result<()> {
    meshchat_shared::limits::validate_room(&room)?;
    if let Some(name) = &signin.name {
        meshchat_shared::limits::validate_name(name)?;
    }
    let (name, token) = match sign_in(&signin, &tls).await? {
        Identity::Token(t) => (String::new(), Some(t)),
        Identity::Guest(name) => (name, None),
    };
    let config = ClientConfig { name, token, nodes: signin.nodes, rooms: vec![room.clone()], tls };
    let (client, mut events) = ClientHandle::start(config);
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    // At a terminal a typed line is on screen already (its echo): its ack
    // prints nothing more. A pipe's lines were never shown: they print.
    let echoed = std::io::IsTerminal::is_terminal(&std::io::stdin());
    loop {
        tokio::select! {
            l = input.next_line(), if input_open => match l {
                Ok(Some(text)) if text.trim() == "/quit" => break,
                Ok(Some(text)) if text.trim().is_empty() => {}
                Ok(Some(text)) if text.starts_with("/thread ") => match thread_reply(&text) {
                    Some(reply) => drop(client.act(&room, reply)),
                    None => eprintln!("* /thread <origin>:<seq> <text>, as a thread line shows it"),
                },
                Ok(Some(text)) => {
                    client.send(&room, &text);
                }
                // End of input: deliver what is in the outbox, then leave.
                _ => input_open = false,
            },
            e = events.recv() => match e {
                None => break,
                // Read markers are bookkeeping, not something to read.
                Some(Event::Message(m)) if !meshchat_shared::rooms::is_read_marker(&m) => println!("{}", line(&m)),
                Some(Event::Acked { msg: m, .. }) if !echoed && !meshchat_shared::rooms::is_read_marker(&m) => {
                    println!("{}", line(&m))
                }
                Some(Event::Message(_)) | Some(Event::Acked { .. }) => {}
                Some(Event::Connected(node)) => eprintln!("* connected to {node}"),
                Some(Event::Status(Status::Moving)) => eprintln!("* the node went away; moving to another"),
                Some(Event::Status(Status::Offline)) => eprintln!("* offline: no node answers; still trying"),
                Some(Event::Status(Status::SignedOut)) => {
                    eprintln!("* signed out: the session has ended; sign in again");
                    break;
                }
                Some(Event::Status(_)) | Some(Event::Synced) => {}
                Some(Event::Failed { reason, .. }) => eprintln!("* not sent: {}", for_terminal(&reason)),
                Some(Event::Error { code, message, .. }) => {
                    eprintln!("* {}", for_terminal(&meshchat_shared::client::explain(code, &message)));
                }
            },
            _ = tokio::time::sleep(Duration::from_millis(200)), if !input_open => {
                let s = client.snapshot().await;
                if s.pending == 0 {
                    break;
                }
            }
        }
    }
    client.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_notices_and_messages_as_lines() {
        let said = Message {
            ts: 3_600_000,
            author: "bob".into(),
            body: "hi\u{1b}[2J".into(),
            ..Message::sample("r", "n1", 1)
        };
        assert_eq!(line(&said), "[01:00:00] bob: hi\\u{1b}[2J");
        let reacted = r#"{"event":"reacted","origin":"n1","seq":1,"emoji":"👍","on":true}"#;
        let event = Message { id: "§r1".into(), author: "alice".into(), body: reacted.into(), ..said.clone() };
        assert_eq!(line(&event), "[01:00:00] * alice reacted 👍");
    }
}
