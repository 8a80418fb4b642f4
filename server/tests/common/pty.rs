//! The terminal app in a real pseudo-terminal, its screen parsed by a
//! terminal emulator (vt100): what a person at that terminal would see.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

pub const ROWS: u16 = 40;
pub const COLS: u16 = 120;

/// What the terminal was told beyond drawing: titles set, bells rung.
#[derive(Default)]
pub struct Told {
    pub titles: Vec<Vec<u8>>,
    pub bells: usize,
}

impl vt100::Callbacks for Told {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(title.to_vec());
    }
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }
}

type Screen = vt100::Parser<Told>;

pub struct Pty {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<Screen>>,
    /// Everything the app wrote, for the failure message.
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Runs the `meshchat` binary with `args` (and `env`) in a terminal of
    /// `ROWS`×`COLS`, in `dir`.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Pty {
        let pty = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .expect("a pseudo-terminal");
        let mut cmd = CommandBuilder::new(super::exe());
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env("TZ", "UTC");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).expect("spawn in the terminal");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let size = |n| std::num::NonZeroU16::new(n).expect("a size");
        let screen =
            Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(size(ROWS), size(COLS), 0, Told::default())));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (screen.clone(), raw.clone());
        // The master must stay open while the child runs: the thread owns it.
        let master = pty.master;
        std::thread::spawn(move || {
            let _keep = master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().expect("the screen").process(&buf[..n]);
                r.lock().expect("the output").extend_from_slice(&buf[..n]);
            }
        });
        Pty { child, writer, screen, raw }
    }

    /// Types `keys` (raw bytes: "\r" is Enter, "\x1b" Esc).
    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("type");
        self.writer.flush().expect("type");
    }

    /// Esc alone: a terminal cannot tell Esc then a letter from Alt and
    /// the letter when they come together, so Esc goes, then a pause.
    pub async fn esc(&mut self) {
        self.keys("\x1b");
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }

    /// The screen's text, row by row.
    pub fn text(&self) -> String {
        self.screen.lock().expect("the screen").screen().contents()
    }

    /// The window titles the app (or a message) set.
    pub fn titles(&self) -> Vec<String> {
        self.screen
            .lock()
            .expect("the screen")
            .callbacks()
            .titles
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }

    /// How many times the bell rang.
    pub fn bells(&self) -> usize {
        self.screen.lock().expect("the screen").callbacks().bells
    }

    /// Every cell's colours are the terminal's own (no colour set).
    pub fn colourless(&self) -> bool {
        let p = self.screen.lock().expect("the screen");
        let s = p.screen();
        (0..ROWS).all(|r| {
            (0..COLS).all(|c| {
                s.cell(r, c).is_none_or(|cell| {
                    cell.fgcolor() == vt100::Color::Default && cell.bgcolor() == vt100::Color::Default
                })
            })
        })
    }

    /// Waits until the screen holds `what`; panics with the screen if not.
    pub async fn wait_for(&self, what: &str, within: Duration) -> String {
        self.wait_until(what, within, |t| t.contains(what)).await
    }

    /// Waits until `ok(screen)`; panics with `what` and the screen if not.
    pub async fn wait_until(&self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let text = self.text();
            if ok(&text) {
                return text;
            }
            if t.elapsed() > within {
                panic!("{what}: not on screen within {within:?}:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the app to end; its exit status.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<portable_pty::ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < within {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// What the app wrote, raw.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().expect("the output").clone()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
