//! The terminal app's state, as plain Rust: the shared sans-IO chat, what
//! is on screen and selected, the composer. Keys come in through
//! [`super::keys`]; what needs the network beyond the chat's own frames
//! goes out as [`Request`]s for the driver to carry.

use std::collections::BTreeMap;

use meshchat_shared::Message;
use meshchat_shared::api::SearchHit;
use meshchat_shared::client::annotate::Target;
use meshchat_shared::client::rooms::{Notify, conversation_name, is_dm, moderates};
use meshchat_shared::client::timeline::{English, Row, Window, rows_in, thread_rows};
use meshchat_shared::client::{Chat, annotate::FileRef};
use meshchat_shared::rooms::{RoomEvent, is_redacted};

use super::compose::Composer;
use super::lines::local_day;

/// What the app asks of the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Search every room one may read.
    Search(String),
    /// Save a shared file under the downloads folder.
    Download { room: String, hash: String, name: String },
    /// Open (or make) the conversation with these people.
    Dm(Vec<String>),
    /// Share the file at `path` in `room`, as `name` (a guest's).
    /// A file to share in `room` (in the thread of `thread` if one is open).
    Upload { room: String, thread: Option<Target>, path: std::path::PathBuf, name: String },
    /// Ring the terminal's bell.
    Bell,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Writing a message.
    #[default]
    Compose,
    /// Moving over the messages to act on one.
    Browse,
    /// Ctrl-K: a room by a few of its letters.
    Jump {
        query: Composer,
        pick: usize,
    },
    /// Search the mesh; `hits` once the node answered.
    Search {
        query: Composer,
        hits: Option<Vec<SearchHit>>,
        pick: usize,
    },
    /// An emoji for the selected message.
    React,
    /// "Delete this message?"
    ConfirmDelete,
    /// Ctrl-T: the threads one follows, unread first.
    Threads {
        pick: usize,
    },
    Help,
}

/// What the bell rings for, in words.
pub fn bell_label(n: Notify) -> &'static str {
    match n {
        Notify::All => "every message",
        Notify::Mentions => "mentions",
        Notify::Nothing => "never",
    }
}

/// A room as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEntry {
    pub room: String,
    pub label: String,
    pub dm: bool,
    pub unread: u32,
    pub mentions: u32,
}

/// The selected message, as the actions need it.
#[derive(Debug, Clone)]
pub struct Selected {
    pub target: Target,
    pub msg: Message,
    pub mine: bool,
    pub file: Option<FileRef>,
    pub reactions: Vec<(String, Vec<String>)>,
}

pub struct App {
    pub chat: Chat,
    pub mode: Mode,
    pub composer: Composer,
    /// Half-written messages of the other rooms.
    drafts: BTreeMap<String, Composer>,
    /// The selected row's key (browse mode).
    pub selected: Option<String>,
    /// Which part of the current room is on screen.
    pub window: Window,
    /// The thread open beside the room: its root.
    pub thread: Option<Target>,
    pub reply_to: Option<Target>,
    pub editing: Option<Target>,
    /// A line for the user: what just happened, what failed.
    pub notice: Option<String>,
    /// A search result to show once its room holds it.
    jump_to: Option<(String, Target)>,
    bells: BTreeMap<String, Notify>,
    /// When a read marker was last considered.
    read_at: u64,
    /// Ids of our sends: this run's random prefix and a counter (an id
    /// must never repeat: a repeat is answered with the first message).
    run: String,
    next_id: u64,
    pub quit: bool,
}

impl App {
    pub fn new(chat: Chat) -> App {
        App {
            chat,
            mode: Mode::Compose,
            composer: Composer::default(),
            drafts: BTreeMap::new(),
            selected: None,
            window: Window::Follow,
            thread: None,
            reply_to: None,
            editing: None,
            notice: None,
            jump_to: None,
            bells: BTreeMap::new(),
            read_at: 0,
            run: format!("{:016x}", rand::random::<u64>()),
            next_id: 0,
            quit: false,
        }
    }

    pub fn me(&self) -> &str {
        &self.chat.name
    }

    pub fn current(&self) -> Option<String> {
        self.chat.current.clone()
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.run, self.next_id)
    }

    /// The rows on screen: the open thread's, else the room window's.
    pub fn rows(&self) -> Vec<Row> {
        let Some(room) = self.chat.current_room() else { return Vec::new() };
        match &self.thread {
            Some(root) => thread_rows(room, &self.chat.name, root, &English),
            None => rows_in(room, &self.chat.name, &local_day, &self.window.span(room), &English),
        }
    }

    /// Rooms first, then conversations, each by name.
    pub fn room_list(&self) -> Vec<RoomEntry> {
        let me = self.me();
        let mut list: Vec<RoomEntry> = self
            .chat
            .rooms
            .values()
            .map(|r| {
                let label = match &r.info {
                    Some(i) => conversation_name(i, me)
                        .unwrap_or_else(|| if i.title.is_empty() { r.name.clone() } else { i.title.clone() }),
                    None => r.name.clone(),
                };
                let dm = is_dm(&r.name, r.info.as_ref());
                RoomEntry { room: r.name.clone(), label, dm, unread: r.unread, mentions: r.mentioned }
            })
            .collect();
        list.sort_by(|a, b| (a.dm, &a.label).cmp(&(b.dm, &b.label)));
        list
    }

    /// Shows `room`, keeping the draft of the room left.
    pub fn switch_to(&mut self, room: &str) {
        if let Some(old) = self.current() {
            let draft = std::mem::take(&mut self.composer);
            if !draft.text.is_empty() {
                self.drafts.insert(old, draft);
            }
        }
        self.chat.select(room);
        self.composer = self.drafts.remove(room).unwrap_or_default();
        self.window = Window::Follow;
        (self.selected, self.thread, self.reply_to, self.editing) = (None, None, None, None);
        if self.mode == Mode::Browse {
            self.mode = Mode::Compose;
        }
    }

    /// The next (or previous) room of the list.
    pub fn cycle_room(&mut self, forward: bool) {
        let list = self.room_list();
        if list.is_empty() {
            return;
        }
        let at = self.current().and_then(|c| list.iter().position(|e| e.room == c)).unwrap_or(0);
        let to = if forward { (at + 1) % list.len() } else { (at + list.len() - 1) % list.len() };
        self.switch_to(&list[to].room);
    }

    /// When `room` rings the bell: as set, else as the web app's default.
    pub fn bell(&self, room: &str) -> Notify {
        let dm = is_dm(room, self.chat.room(room).and_then(|r| r.info.as_ref()));
        self.bells.get(room).copied().unwrap_or(Notify::parse(None, dm))
    }

    pub fn set_bell(&mut self, room: &str, bell: Notify) {
        self.bells.insert(room.to_owned(), bell);
        self.notice = Some(format!("The bell rings for {} here.", bell_label(bell)));
    }

    /// Takes a frame from the node; the bell rings for what the rooms'
    /// settings want.
    pub fn frame(&mut self, frame: meshchat_shared::ServerFrame, now: u64) -> Vec<Request> {
        self.chat.on_frame(frame, now);
        self.settle_jump();
        let alerts = self.chat.take_alerts();
        let ring = alerts.iter().any(|a| self.bell(&a.room).alerts(a.mention));
        if ring { vec![Request::Bell] } else { Vec::new() }
    }

    /// The rooms the account is in, as a node told: the new ones join.
    pub fn my_rooms(&mut self, rooms: Vec<meshchat_shared::rooms::RoomInfo>) {
        for info in rooms {
            if !self.chat.rooms.contains_key(&info.room)
                && self.chat.add_room(&info.room).is_ok()
                && let Some(r) = self.chat.rooms.get_mut(&info.room)
            {
                r.info = Some(info);
            }
        }
    }

    /// The message of the selected row, if it is one.
    pub fn selection(&self) -> Option<Selected> {
        let key = self.selected.as_ref()?;
        self.rows().into_iter().find(|r| r.key() == *key).and_then(|r| match r {
            Row::Msg { msg, mine, file, reactions, .. } => {
                Some(Selected { target: (msg.origin.clone(), msg.seq), msg, mine, file: file.map(|f| *f), reactions })
            }
            _ => None,
        })
    }

    /// The id of the selected send still on its way (or failed).
    pub fn selected_pending(&self) -> Option<String> {
        self.selected.as_ref()?.strip_prefix("q:").map(str::to_owned)
    }

    /// May the user delete this message? Their own, or as a moderator.
    pub fn may_delete(&self, s: &Selected) -> bool {
        s.mine || moderates(self.chat.current_room().and_then(|r| r.info.as_ref()))
    }

    /// Sends what the composer holds: a command, an edit, a reply (in the
    /// open thread, or to the message chosen), or a message.
    pub fn submit(&mut self, now: u64) -> Vec<Request> {
        if self.composer.is_blank() {
            return Vec::new();
        }
        let text = self.composer.take();
        let body = text.trim_end().to_owned();
        if let Some(cmd) = body.strip_prefix('/').filter(|c| !c.starts_with('/')) {
            return self.command(cmd);
        }
        let body = body.strip_prefix('/').map(str::to_owned).unwrap_or(body);
        let Some(room) = self.current() else {
            self.notice = Some("No room yet: /join a room first.".into());
            return Vec::new();
        };
        let action = if let Some((origin, seq)) = self.editing.take() {
            RoomEvent::Edited { origin, seq, body }
        } else if let Some((origin, seq)) = self.thread.clone() {
            RoomEvent::Reply { origin, seq, body, thread: true, also: false }
        } else if let Some((origin, seq)) = self.reply_to.take() {
            RoomEvent::Reply { origin, seq, body, thread: false, also: false }
        } else {
            let id = self.new_id();
            if let Err(e) = self.chat.send(&room, &id, &body, now) {
                self.notice = Some(format!("Not sent: {e}"));
                self.composer.set(&text);
            }
            return Vec::new();
        };
        self.act(action, now);
        Vec::new()
    }

    /// A reply, an edit, a reaction or a delete in the current room.
    pub fn act(&mut self, action: RoomEvent, now: u64) {
        let Some(room) = self.current() else { return };
        let id = self.new_id();
        if let Err(e) = self.chat.act(&room, &id, action, now) {
            self.notice = Some(format!("Not sent: {e}"));
        }
    }

    /// `/join room`, `/leave`, `/dm name…`, `/upload PATH`, `/bell
    /// all|mentions|off`, `/quit`.
    fn command(&mut self, cmd: &str) -> Vec<Request> {
        if let Some(path) = cmd.strip_prefix("upload ").map(str::trim).filter(|p| !p.is_empty()) {
            let Some(room) = self.current() else { return Vec::new() };
            let path = match path.strip_prefix("~/") {
                Some(rest) => std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default().join(rest),
                None => std::path::PathBuf::from(path),
            };
            self.notice = Some("Sharing…".into());
            return vec![Request::Upload { room, thread: self.thread.clone(), path, name: self.me().to_owned() }];
        }
        let mut words = cmd.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let args: Vec<String> = words.map(|w| w.trim_start_matches(['#', '@']).to_owned()).collect();
        match (verb, args.as_slice()) {
            ("join", [room]) => match self.chat.join(room) {
                Ok(()) => self.switch_to(&room.clone()),
                Err(e) => self.notice = Some(format!("Cannot join: {e}")),
            },
            ("leave", []) => {
                if let Some(room) = self.current() {
                    self.chat.leave(&room);
                    self.notice = Some(format!("You left {room}."));
                }
            }
            ("dm", people) if !people.is_empty() => return vec![Request::Dm(people.to_vec())],
            ("bell", [what]) => {
                let bell = match what.as_str() {
                    "all" => Notify::All,
                    "mentions" => Notify::Mentions,
                    "off" => Notify::Nothing,
                    _ => {
                        self.notice = Some("/bell all, /bell mentions or /bell off".into());
                        return Vec::new();
                    }
                };
                if let Some(room) = self.current() {
                    self.set_bell(&room, bell);
                }
            }
            ("quit", []) => self.quit = true,
            ("help", []) => self.mode = Mode::Help,
            _ => {
                self.notice = Some(format!(
                    "Unknown command /{}: /join ROOM, /leave, /dm NAME, /upload PATH, /bell all|mentions|off, /quit (// sends a slash)",
                    super::lines::safe(verb)
                ))
            }
        }
        Vec::new()
    }

    /// Opens the room of a search result at the message (its thread if it
    /// is a thread's reply), bringing older pages in until it is held.
    pub fn jump(&mut self, hit: &SearchHit) {
        if !self.chat.rooms.contains_key(&hit.room) {
            let _ = self.chat.add_room(&hit.room);
        }
        self.switch_to(&hit.room);
        self.thread = hit.thread.clone();
        self.jump_to = Some((hit.room.clone(), (hit.origin.clone(), hit.seq)));
        self.mode = Mode::Browse;
        self.settle_jump();
    }

    /// Shows the message a jump waits for once it is held; else asks for
    /// the page before the oldest held.
    fn settle_jump(&mut self) {
        let Some((room, (origin, seq))) = self.jump_to.clone() else { return };
        let Some(view) = self.chat.room(&room) else { return };
        if let Some(m) = view.get(&origin, seq) {
            if self.thread.is_none() {
                self.window = Window::around(view, &m.cursor());
            }
            self.selected = Some(format!("m:{origin}:{seq}"));
            self.jump_to = None;
        } else if view.synced && !view.more {
            self.notice = Some("That message is no longer in the room.".into());
            self.jump_to = None;
        } else {
            self.chat.load_older(&room);
        }
    }

    /// Keys of the rows one can select.
    fn selectable(rows: &[Row]) -> Vec<String> {
        rows.iter().filter(|r| matches!(r, Row::Msg { .. } | Row::Pending { .. })).map(Row::key).collect()
    }

    /// Moves the selection `delta` rows (negative: up). Past the top, older
    /// entries come in (from what is held, else from the node); past the
    /// bottom of a window scrolled back, newer ones.
    pub fn step(&mut self, delta: isize) {
        let keys = Self::selectable(&self.rows());
        if keys.is_empty() {
            if delta < 0 {
                self.older();
            }
            return;
        }
        let to = self.selected_in(&keys).unwrap_or(keys.len()) as isize + delta;
        if (0..keys.len() as isize).contains(&to) {
            self.selected = Some(keys[to as usize].clone());
            return;
        }
        // Past the top, older rows come in above; past the bottom of a
        // window scrolled back, newer ones below: step again from where
        // the selection now is among them.
        if to < 0 {
            self.older();
        } else if self.thread.is_none()
            && let Some(view) = self.chat.current_room()
            && let Some(w) = self.window.down(view)
        {
            self.window = w;
        }
        let keys = Self::selectable(&self.rows());
        let at = self.selected_in(&keys).unwrap_or(0) as isize;
        let moved = if to < 0 { to } else { delta };
        let to = (at + moved).min(keys.len() as isize - 1).max(0) as usize;
        self.selected = keys.get(to).cloned();
    }

    /// Where the selection is among `keys`.
    fn selected_in(&self, keys: &[String]) -> Option<usize> {
        self.selected.as_ref().and_then(|k| keys.iter().position(|x| x == k))
    }

    /// Older entries into the window: from what is held, else a page
    /// from the node.
    pub fn older(&mut self) {
        if self.thread.is_some() {
            return;
        }
        let Some(room) = self.current() else { return };
        let Some(view) = self.chat.room(&room) else { return };
        match self.window.up(view) {
            // At the first entry held: the page before it is asked for
            // already, so scrolling on finds it there.
            Some(w) => {
                let at_first = matches!(&w, Window::At(span) if span.from.is_none());
                self.window = w;
                if at_first {
                    self.chat.load_older(&room);
                }
            }
            None => self.chat.load_older(&room),
        }
    }

    /// Looking at the newest of a room reads it: a read marker goes out
    /// (one at a time, every 2 s at most), so the user's other devices
    /// and the web app count it read.
    /// An open thread is read the same way (its own marker).
    pub fn read_current(&mut self, now: u64) {
        if now < self.read_at + 2_000 {
            return;
        }
        let Some(room) = self.current() else { return };
        if let Some(root) = self.thread.clone() {
            self.read_at = now;
            self.chat.read_thread(&room, &root, now);
        } else if self.window == Window::Follow {
            self.read_at = now;
            self.chat.mark_read(&room, now);
        }
    }

    /// Back to the newest, following.
    pub fn follow(&mut self) {
        self.window = Window::Follow;
        self.selected = None;
    }

    /// Back to writing, at the newest messages.
    pub fn compose(&mut self) {
        self.follow();
        self.mode = Mode::Compose;
    }

    /// Starts an edit of the selected message (one's own).
    pub fn begin_edit(&mut self) {
        match self.selection() {
            Some(s) if s.mine && !is_redacted(&s.msg.body) && s.file.is_none() => {
                self.composer.set(&s.msg.body);
                self.editing = Some(s.target);
                self.reply_to = None;
                self.compose();
            }
            Some(_) => self.notice = Some("Only your own messages can be edited.".into()),
            None => {}
        }
    }

    pub fn begin_reply(&mut self) {
        if let Some(s) = self.selection() {
            self.reply_to = Some(s.target);
            self.editing = None;
            self.compose();
        }
    }

    pub fn open_thread(&mut self) {
        if self.thread.is_some() {
            return;
        }
        if let Some(s) = self.selection() {
            self.thread = Some(s.target);
            (self.reply_to, self.editing) = (None, None);
            self.compose();
        }
    }

    /// Puts `emoji` on the selected message, or takes it off if it is on.
    pub fn react(&mut self, emoji: &str, now: u64) {
        let Some(s) = self.selection() else { return };
        let me = self.me().to_owned();
        let on = !s.reactions.iter().any(|(e, who)| e == emoji && who.contains(&me));
        let (origin, seq) = s.target;
        self.act(RoomEvent::Reacted { origin, seq, emoji: emoji.to_owned(), on }, now);
    }

    pub fn delete_selected(&mut self, now: u64) {
        if let Some(s) = self.selection().filter(|s| self.may_delete(s)) {
            let (origin, seq) = s.target;
            self.act(RoomEvent::Deleted { origin, seq }, now);
        }
    }

    /// Names to complete after `@`: the room's members and recent authors.
    pub fn names(&self) -> Vec<String> {
        let Some(room) = self.chat.current_room() else { return Vec::new() };
        let mut names: Vec<String> = room.members.iter().cloned().collect();
        if let Some(info) = &room.info {
            names.extend(info.members.iter().map(|m| m.name.clone()));
        }
        names.extend(room.entries().rev().take(200).filter_map(|(_, e)| match e {
            meshchat_shared::client::room::Entry::Msg(m) => Some(m.author.clone()),
            _ => None,
        }));
        names.sort();
        names.dedup();
        names.retain(|n| n != self.me());
        names
    }

    /// The rooms matching a jump's letters, best first: every letter in
    /// order (any case), earlier and tighter matches first.
    pub fn jump_matches(&self, query: &str) -> Vec<RoomEntry> {
        let q: Vec<char> = query.to_lowercase().chars().collect();
        let mut scored: Vec<(usize, RoomEntry)> = self
            .room_list()
            .into_iter()
            .filter_map(|e| {
                let hay = format!("{} {}", e.label, e.room).to_lowercase();
                fuzzy(&hay, &q).map(|s| (s, e))
            })
            .collect();
        scored.sort_by_key(|(s, e)| (*s, e.label.clone()));
        scored.into_iter().map(|(_, e)| e).collect()
    }
}

/// How well `q` matches `hay` as a subsequence: lower is better (where the
/// match starts plus the gaps inside it); `None` if it does not.
fn fuzzy(hay: &str, q: &[char]) -> Option<usize> {
    let chars: Vec<char> = hay.chars().collect();
    let Some(first) = q.first() else { return Some(0) };
    (0..chars.len())
        .filter(|&s| chars[s] == *first)
        .filter_map(|s| {
            let (mut i, mut gaps) = (s + 1, 0);
            for c in &q[1..] {
                let found = chars.get(i..)?.iter().position(|h| h == c)?;
                gaps += found;
                i += found + 1;
            }
            Some(s + gaps * 2)
        })
        .min()
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
