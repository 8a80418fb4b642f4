//! The terminal app's driver: it owns the screen, the keyboard and the
//! app state, and drives the connection loop ([`link::drive`]). Calls
//! beyond the WebSocket (search, files, the rooms one is in) run as tasks
//! whose answers come back on a channel, so nothing waits on the network
//! while keys come in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use meshchat_shared::ServerFrame;
use meshchat_shared::api::{MyRooms, SearchHit, SearchResults};
use meshchat_shared::client::Chat;
use meshchat_shared::client::annotate::Target;
use meshchat_shared::rooms::RoomInfo;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use ratatui::DefaultTerminal;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::app::{App, Mode, Request};
use super::keys;
use super::theme::Theme;
use super::view;
use crate::infra::clock::now_ms;
use crate::infra::tls::TlsClient;
use crate::tools::client::link::Driver;
use crate::tools::client::signin::{SignInError, UPLOAD_TIMEOUT, base, call, call_with};

/// At most one frame this often: a burst of messages draws once.
const FRAME: Duration = Duration::from_millis(30);
/// How often the rooms one is in are asked for (rooms one was added to).
const MY_ROOMS_EVERY: Duration = Duration::from_secs(10);

/// What a task brings back.
enum Answer {
    Hits(String, Result<Vec<SearchHit>, String>),
    Saved(Result<PathBuf, String>),
    MyRooms(Vec<RoomInfo>),
    Dm(Result<RoomInfo, String>),
    Shared(Result<String, String>),
}

/// Where HTTP calls go and as whom.
#[derive(Clone)]
struct Http {
    tls: TlsClient,
    token: Option<String>,
    /// The current node's base URL (`https://host:port`).
    base: watch::Receiver<Option<String>>,
}

impl Http {
    async fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<Vec<u8>, String> {
        let base = self.base.borrow().clone().ok_or("not connected")?;
        let r = call(&self.tls, method, &format!("{base}{path}"), self.token.as_deref(), body).await;
        r.map(|r| r.body).map_err(|e: SignInError| e.to_string())
    }
}

/// The largest file the app reads to share (the node has its own limit,
/// 25 MiB by default, and says so).
const MAX_UPLOAD: u64 = 1 << 30;

impl Http {
    /// Shares the file at `path` in `room`, or a thread of it (`name`: a
    /// guest's name).
    async fn upload(&self, (room, thread): (&str, Option<Target>), path: &Path, name: &str) -> Result<String, String> {
        let shown = path.display().to_string();
        let size = tokio::fs::metadata(path).await.map_err(|e| format!("{shown}: {e}"))?.len();
        if size > MAX_UPLOAD {
            return Err(format!("{shown} is over 1 GiB"));
        }
        let bytes = tokio::fs::read(path).await.map_err(|e| format!("{shown}: {e}"))?;
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).ok_or(format!("{shown} is no file"))?;
        let base = self.base.borrow().clone().ok_or("not connected")?;
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut url = format!("{base}/api/rooms/{}/files?id=up-{:016x}", enc(room), rand::random::<u64>());
        if self.token.is_none() {
            url += &format!("&name={}", enc(name));
        }
        if let Some((origin, seq)) = thread {
            url += &format!("&thread={origin}:{seq}");
        }
        let mime = mime_guess::from_path(path).first_or_octet_stream().to_string();
        let headers = [("Content-Type", mime.as_str()), ("X-File-Name", &enc(&file))];
        let call = call_with(&self.tls, ("POST", &url, UPLOAD_TIMEOUT), self.token.as_deref(), &headers, Some(&bytes));
        call.await.map(|_| file).map_err(|e| e.to_string())
    }
}

pub struct Term {
    pub app: App,
    theme: Theme,
    terminal: DefaultTerminal,
    keys: EventStream,
    answers: mpsc::UnboundedReceiver<Answer>,
    answer_tx: mpsc::UnboundedSender<Answer>,
    http: Http,
    base: watch::Sender<Option<String>>,
    downloads: PathBuf,
    dirty: bool,
    drawn: Instant,
}

impl Term {
    /// Takes the screen (alternate screen, raw mode, bracketed paste).
    pub fn start(app: App, tls: TlsClient, token: Option<String>, downloads: PathBuf) -> std::io::Result<Term> {
        let terminal = ratatui::try_init()?;
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste)?;
        let (answer_tx, answers) = mpsc::unbounded_channel();
        let (base, base_rx) = watch::channel(None);
        let http = Http { tls, token, base: base_rx };
        let t = Term {
            app,
            theme: Theme::from_env(),
            terminal,
            keys: EventStream::new(),
            answers,
            answer_tx,
            http,
            base,
            downloads,
            dirty: true,
            drawn: Instant::now(),
        };
        t.watch_my_rooms();
        Ok(t)
    }

    /// Gives the screen back as it was.
    pub fn stop(self) {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
        ratatui::restore();
    }

    fn draw(&mut self) {
        let (app, theme, now) = (&self.app, &self.theme, now_ms());
        // A terminal gone away ends the app at the next key read.
        let _ = self.terminal.draw(|f| view::draw(f, app, theme, now));
        self.dirty = false;
        self.drawn = Instant::now();
    }

    /// Asks for the rooms of the account every little while: a room one
    /// was added to appears live (guests have none).
    fn watch_my_rooms(&self) {
        if self.http.token.is_none() {
            return;
        }
        let (mut http, tx) = (self.http.clone(), self.answer_tx.clone());
        tokio::spawn(async move {
            // Not before a node is reached: then at once.
            if http.base.wait_for(Option::is_some).await.is_err() {
                return;
            }
            loop {
                if let Ok(body) = http.call("GET", "/api/me/rooms", None).await
                    && let Ok(mine) = serde_json::from_slice::<MyRooms>(&body)
                    && tx.send(Answer::MyRooms(mine.rooms)).is_err()
                {
                    return;
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(MY_ROOMS_EVERY).await;
            }
        });
    }

    /// Carries the app's requests out.
    fn carry(&mut self, requests: Vec<Request>) {
        for r in requests {
            let (http, tx) = (self.http.clone(), self.answer_tx.clone());
            match r {
                Request::Bell => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                }
                Request::Search(q) => drop(tokio::spawn(async move {
                    let path = format!("/api/search?order=new&q={}", utf8_percent_encode(&q, NON_ALPHANUMERIC));
                    let hits = http.call("GET", &path, None).await.and_then(|b| {
                        serde_json::from_slice::<SearchResults>(&b).map(|r| r.results).map_err(|e| e.to_string())
                    });
                    let _ = tx.send(Answer::Hits(q, hits));
                })),
                Request::Download { room, hash, name } => {
                    let dir = self.downloads.clone();
                    self.app.notice = Some("Saving…".into());
                    drop(tokio::spawn(async move {
                        let path = format!("/api/rooms/{}/files/{hash}", utf8_percent_encode(&room, NON_ALPHANUMERIC));
                        let saved = match http.call("GET", &path, None).await {
                            Ok(bytes) => save(&dir, &name, &bytes).map_err(|e| e.to_string()),
                            Err(e) => Err(e),
                        };
                        let _ = tx.send(Answer::Saved(saved));
                    }));
                }
                Request::Upload { room, thread, path, name } => drop(tokio::spawn(async move {
                    let _ = tx.send(Answer::Shared(http.upload((&room, thread), &path, &name).await));
                })),
                Request::Dm(people) => drop(tokio::spawn(async move {
                    let body = serde_json::json!({ "users": people }).to_string();
                    let info = http
                        .call("POST", "/api/dm", Some(body))
                        .await
                        .and_then(|b| serde_json::from_slice::<RoomInfo>(&b).map_err(|e| e.to_string()));
                    let _ = tx.send(Answer::Dm(info));
                })),
            }
        }
    }

    fn answer(&mut self, a: Answer) {
        match a {
            Answer::Hits(q, hits) => {
                if let Mode::Search { query, hits: shown, pick } = &mut self.app.mode
                    && query.text.trim() == q
                {
                    match hits {
                        Ok(h) => (*shown, *pick) = (Some(h), 0),
                        Err(e) => self.app.notice = Some(format!("Search failed: {e}")),
                    }
                }
            }
            Answer::Saved(Ok(path)) => self.app.notice = Some(format!("Saved to {}", path.display())),
            Answer::Saved(Err(e)) => self.app.notice = Some(format!("Not saved: {e}")),
            Answer::MyRooms(rooms) => self.app.my_rooms(rooms),
            Answer::Dm(Ok(info)) => {
                let room = info.room.clone();
                self.app.my_rooms(vec![info]);
                self.app.switch_to(&room);
            }
            Answer::Dm(Err(e)) => self.app.notice = Some(format!("No conversation: {e}")),
            Answer::Shared(Ok(file)) => self.app.notice = Some(format!("Shared {file}")),
            Answer::Shared(Err(e)) => self.app.notice = Some(format!("Not shared: {e}")),
        }
    }

    /// Takes one terminal event; false when the terminal is gone.
    fn terminal_event(&mut self, ev: Option<std::io::Result<TermEvent>>) -> bool {
        match ev {
            Some(Ok(TermEvent::Key(k))) => {
                let requests = keys::key(&mut self.app, k, now_ms());
                self.carry(requests);
            }
            Some(Ok(TermEvent::Paste(text))) if matches!(self.app.mode, Mode::Compose) => {
                self.app.composer.insert_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return false,
        }
        self.dirty = true;
        true
    }
}

/// Writes a file under `dir` by its name made safe (no folders, no hidden
/// file, no control characters), never over an existing one.
fn save(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let clean: String = name.chars().map(|c| if c.is_control() || matches!(c, '/' | '\\') { '_' } else { c }).collect();
    let clean = clean.trim_start_matches('.').trim();
    let clean = if clean.is_empty() { "file" } else { clean };
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (clean.to_owned(), String::new()),
    };
    std::fs::create_dir_all(dir)?;
    for n in 0..1000 {
        let candidate = if n == 0 { dir.join(clean) } else { dir.join(format!("{stem} ({n}){ext}")) };
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(mut f) => {
                f.write_all(bytes)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many files of that name"))
}

impl Driver for Term {
    fn chat(&mut self) -> &mut Chat {
        &mut self.app.chat
    }

    fn frame(&mut self, frame: ServerFrame) {
        let requests = self.app.frame(frame, now_ms());
        self.carry(requests);
        self.dirty = true;
    }

    fn changed(&mut self) {
        self.app.read_current(now_ms());
        self.dirty = true;
    }

    /// An idle app draws nothing: only what time changed on screen.
    fn ticked(&mut self, visible: bool) {
        self.app.read_current(now_ms());
        self.dirty |= visible;
    }

    async fn input(&mut self) -> bool {
        loop {
            if self.app.quit {
                return false;
            }
            let due = self.dirty.then_some(self.drawn + FRAME);
            if due.is_some_and(|d| d <= Instant::now()) {
                self.draw();
            }
            let due = self.dirty.then_some(self.drawn + FRAME);
            tokio::select! {
                ev = self.keys.next() => return self.terminal_event(ev) && !self.app.quit,
                a = self.answers.recv() => {
                    if let Some(a) = a {
                        self.answer(a);
                    }
                    self.dirty = true;
                    return true;
                }
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => self.draw(),
            }
        }
    }

    fn on_node(&mut self, url: &str) {
        let _ = self.base.send(base(url));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_stays_in_its_folder_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let a = save(dir.path(), "../../etc/passwd", b"1").unwrap();
        assert_eq!(a, dir.path().join("_.._etc_passwd"));
        let b = save(dir.path(), "report.pdf", b"1").unwrap();
        let c = save(dir.path(), "report.pdf", b"2").unwrap();
        assert_eq!(c, dir.path().join("report (1).pdf"));
        assert_eq!(std::fs::read(b).unwrap(), b"1");
        assert_eq!(save(dir.path(), ".hidden\u{1b}", b"x").unwrap(), dir.path().join("hidden_"));
    }
}
