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
    /// The terminal's side: open while the app runs, and its size.
    master: Box<dyn portable_pty::MasterPty + Send>,
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
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().expect("the screen").process(&buf[..n]);
                r.lock().expect("the output").extend_from_slice(&buf[..n]);
            }
        });
        Pty { child, master: pty.master, writer, screen, raw }
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

    /// The terminal changes size (the app is told by SIGWINCH).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let size = |n| std::num::NonZeroU16::new(n).expect("a size");
        self.screen.lock().expect("the screen").screen_mut().set_size(size(rows), size(cols));
        self.master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).expect("resize");
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

    /// The text colour where `needle` first shows on the screen.
    pub fn colour_of(&self, needle: &str) -> Option<vt100::Color> {
        let p = self.screen.lock().expect("the screen");
        let s = p.screen();
        let first = needle.chars().next()?.to_string();
        for r in 0..ROWS {
            let cells: Vec<String> =
                (0..COLS).map(|c| s.cell(r, c).map(|x| x.contents().to_owned()).unwrap_or_default()).collect();
            for c in 0..cells.len() {
                if cells[c] == first && cells[c..].concat().starts_with(needle) {
                    return s.cell(r, c as u16).map(|x| x.fgcolor());
                }
            }
        }
        None
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

/// A terminal's palette: the 16 named colours, then its default text
/// and background.
struct Palette {
    named: [&'static str; 16],
    fg: &'static str,
    bg: &'static str,
}

const DARK: Palette = Palette {
    named: [
        "#1e1e1e", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#a0a0a0", "#666666", "#f14c4c",
        "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#e5e5e5",
    ],
    fg: "#d4d4d4",
    bg: "#1e1e1e",
};

const LIGHT: Palette = Palette {
    named: [
        "#000000", "#cd3131", "#00bc00", "#949800", "#0451a5", "#bc05bc", "#0598bc", "#8a8a8a", "#666666", "#cd3131",
        "#14ce14", "#b5ba00", "#0451a5", "#bc05bc", "#0598bc", "#a5a5a5",
    ],
    fg: "#222222",
    bg: "#ffffff",
};

impl Pty {
    /// The screen as an SVG picture, in a dark or a light terminal's
    /// colours: what the README shows.
    pub fn svg(&self, dark: bool) -> String {
        let p = if dark { &DARK } else { &LIGHT };
        let colour = |c: vt100::Color, default: &'static str| match c {
            vt100::Color::Default => default.to_owned(),
            vt100::Color::Idx(i) if i < 16 => p.named[usize::from(i)].to_owned(),
            vt100::Color::Idx(_) => default.to_owned(),
            vt100::Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        };
        let (cw, ch) = (8.4, 17.0);
        let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let parser = self.screen.lock().expect("the screen");
        let screen = parser.screen();
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"DejaVu Sans Mono, Menlo, monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>\n",
            f64::from(COLS) * cw,
            f64::from(ROWS) * ch,
            p.bg
        );
        // Runs of cells of one style: one element each, stretched to
        // their cells so any monospace font lines up.
        for r in 0..ROWS {
            let mut c = 0;
            while c < COLS {
                let Some(cell) = screen.cell(r, c) else { break };
                let (mut fg, mut bg) = (colour(cell.fgcolor(), p.fg), colour(cell.bgcolor(), p.bg));
                if cell.inverse() {
                    std::mem::swap(&mut fg, &mut bg);
                }
                let (bold, start) = (cell.bold(), c);
                let (end, text) = run(screen, r, start);
                c = end;
                let (x, y, w) = (f64::from(start) * cw, f64::from(r) * ch, f64::from(c - start) * cw);
                if bg != p.bg {
                    out +=
                        &format!("<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{ch}\" fill=\"{bg}\"/>\n");
                }
                if !text.trim().is_empty() {
                    let weight = if bold { " font-weight=\"bold\"" } else { "" };
                    out += &format!(
                        "<text x=\"{x:.1}\" y=\"{:.1}\" fill=\"{fg}\"{weight} textLength=\"{w:.1}\" lengthAdjust=\"spacingAndGlyphs\" xml:space=\"preserve\">{}</text>\n",
                        y + ch * 0.78,
                        escape(&text)
                    );
                }
            }
        }
        out + "</svg>\n"
    }
}

/// The run of cells of one style from `(r, start)` (a wide character ends
/// it): where it ends, and its text.
fn run(screen: &vt100::Screen, r: u16, start: u16) -> (u16, String) {
    let first = screen.cell(r, start).expect("a cell");
    let same = |x: &vt100::Cell| {
        (x.fgcolor(), x.bgcolor(), x.inverse(), x.bold())
            == (first.fgcolor(), first.bgcolor(), first.inverse(), first.bold())
    };
    let (mut c, mut text) = (start, String::new());
    while let Some(cell) = screen.cell(r, c).filter(|x| same(x)) {
        if !cell.is_wide_continuation() {
            text.push_str(if cell.has_contents() { cell.contents() } else { " " });
        }
        c += if cell.is_wide() { 2 } else { 1 };
        if cell.is_wide() {
            break;
        }
    }
    (c.min(COLS).max(start + 1), text)
}
