//! `tradeoff chat` in a real pseudo-terminal, 80 columns wide: line editing (arrow keys,
//! Home), text wrapped to the width with bold headings, help that talks of no buttons,
//! `restart` confirmed before it clears anything, and Ctrl-C said and saved. Piped, the
//! same conversation is plain, unwrapped text.

use crate::common;
use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything the terminal showed so far, and a way to wait for more.
struct Screen(Arc<Mutex<String>>);

impl Screen {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `what` appears after byte `from`; the position after it.
    fn wait_for(&self, what: &str, from: usize) -> usize {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text();
            if let Some(at) = text.get(from..).and_then(|t| t.find(what)) {
                return from + at + what.len();
            }
            assert!(Instant::now() < until, "no {what:?} in {text:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The text with ANSI escape sequences taken out, split into the lines a terminal shows.
fn shown_lines(text: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&n) = chars.peek() {
                    chars.next();
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\n', '\r'])
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn chat_in_a_terminal_edits_lines_wraps_confirms_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_tradeoff"));
    cmd.args(["chat", "--user", "ada", "--data-dir"]);
    cmd.arg(dir.path().join("data"));
    cmd.cwd(common::root());
    cmd.env("TERM", "xterm");
    cmd.env_remove("NO_COLOR");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut keys = pty.master.take_writer().unwrap();
    let screen = Screen(Arc::new(Mutex::new(String::new())));
    let shared = screen.0.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            shared
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut type_ = |s: &str| {
        keys.write_all(s.as_bytes()).unwrap();
        keys.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    };

    let at = screen.wait_for("> ", 0);
    // Line editing: a typo mended with the arrow keys, and Home to type in front.
    type_("tme");
    type_("\u{1b}[D\u{1b}[D"); // Left, Left: before "m"
    type_("i");
    type_("\u{1b}[H"); // Home
    type_("real-");
    type_("\r");
    let at = screen.wait_for("✓ Real-time, chosen by ada", at);
    let at = screen.wait_for("[2/", at);

    // Help in a terminal talks of no buttons.
    type_("help\r");
    let after_help = screen.wait_for("Commands:", at);
    let help = &screen.text()[at..after_help];
    assert!(!help.contains("button"), "{help}");

    // `restart` asks first; no keeps every answer.
    type_("restart\r");
    let at = screen.wait_for("Start over and clear your 1 answer? [y/N]", after_help);
    type_("n\r");
    let at = screen.wait_for("Kept your answers.", at);
    let at = screen.wait_for("[2/", at);

    // Ctrl-C stops, says so, and keeps the answers.
    type_("\u{3}");
    screen.wait_for("Your answers are saved", at);
    let status = child.wait().unwrap();
    assert_eq!(status.exit_code(), 130);

    let text = screen.text();
    assert!(
        text.contains("\u{1b}[1m"),
        "headings are bold in a terminal"
    );
    let lines = shown_lines(&text);
    let widest = lines.iter().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 80, "a line of {widest} columns: {lines:#?}");
    // The first question's reason is longer than a line: it is wrapped, not cut.
    let why = lines
        .iter()
        .position(|l| l.contains("Why we ask:"))
        .unwrap();
    assert!(lines[why + 1].starts_with("        "), "{lines:#?}");

    // Resumed through a pipe: plain text, long lines as they are.
    let out = common::binary()
        .args(["chat", "--user", "ada", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let piped = String::from_utf8_lossy(&out.stdout);
    assert!(
        piped.contains("Resuming") && piped.contains("[2/"),
        "{piped}"
    );
    assert!(
        !piped.contains('\u{1b}'),
        "no escape codes in a pipe: {piped}"
    );
    assert!(piped.lines().any(|l| l.chars().count() > 80), "{piped}");
}
