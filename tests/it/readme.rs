//! The README's shell commands work as written. Each command line in its `sh` blocks is
//! either run here, offline, with the built binary as `tradeoff` (in an empty folder, with
//! nothing on standard input), or named below with where it is exercised instead; a command
//! that is neither fails the test, so a README change cannot leave a command untried.

use crate::common;
use std::path::Path;

/// Commands that need what a test here cannot give them (a build, a platform, a server
/// that keeps running), and where they are exercised.
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "cargo run --release -- chat",
        "run here as `tradeoff chat` (the same binary)",
    ),
    ("cargo test --locked", ".ci/run"),
    (
        "cargo install --locked --path .",
        ".ci/run, which then runs the installed --help",
    ),
    ("cargo fmt --all -- --check", ".ci/run"),
    ("cargo clippy --all-targets -- -D warnings", ".ci/run"),
    (
        "tradeoff discord-register --guild <SERVER_ID>",
        "discord_conversation::discord_register_*, against a stand-in",
    ),
    ("tradeoff serve", "cli::serve_*, and every endpoint test"),
];

/// The command lines of every `sh` block (indented ones too), without comments.
fn sh_commands(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            inside = !inside && trimmed == "```sh";
            continue;
        }
        if inside {
            let command = match trimmed.find(" #") {
                Some(at) => trimmed[..at].trim_end(),
                None => trimmed,
            };
            if !command.is_empty() && !command.starts_with('#') {
                out.push(command.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_command_in_the_readme_runs_or_is_exercised_elsewhere() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let commands = sh_commands(&readme);
    assert!(commands.len() >= 8, "the README's commands: {commands:?}");
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tradeoff"), bin.path().join("tradeoff"))
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    for command in &commands {
        if let Some((_, where_)) = ELSEWHERE.iter().find(|(c, _)| c == command) {
            assert!(!where_.is_empty());
            continue;
        }
        let work = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(work.path())
            .env("PATH", &path)
            .env_remove("TRADEOFF_DATA_DIR")
            .env_remove("TRADEOFF_PACKS_DIR")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{command}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        check_output(command, &out.stdout, work.path());
        ran.push(command.clone());
    }
    // The named commands are still in the README (a stale entry hides nothing).
    for (command, _) in ELSEWHERE {
        assert!(
            commands.iter().any(|c| c == command),
            "{command} is no longer in the README"
        );
    }
    assert!(ran.len() >= 4, "ran {ran:?}");
}

/// What a command printed or wrote is what the README says it is.
fn check_output(command: &str, stdout: &[u8], dir: &Path) {
    if command.contains("--format json") {
        let v: serde_json::Value = serde_json::from_slice(stdout).expect("score prints JSON");
        assert_eq!(v["recommendation"], "nodejs", "{v}");
    }
    if command.contains("> manifest.json") {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            manifest["settings"]["socket_mode_enabled"], true,
            "{manifest}"
        );
    }
    if command == "tradeoff --help" {
        assert!(String::from_utf8_lossy(stdout).contains("serve"));
    }
}

/// The README's install command, as written, into a temporary prefix, then the installed
/// `tradeoff --help`. It builds the optimised binary (minutes), so it runs when
/// `TRADEOFF_TEST_INSTALL=1` (as `.ci/run` sets it); otherwise it says it was skipped.
#[test]
fn the_readme_install_command_installs_a_working_tradeoff() {
    if std::env::var("TRADEOFF_TEST_INSTALL").as_deref() != Ok("1") {
        eprintln!("skipped: set TRADEOFF_TEST_INSTALL=1 to build and install the binary");
        return;
    }
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let install = sh_commands(&readme)
        .into_iter()
        .find(|c| c.starts_with("cargo install"))
        .expect("the README says how to install");
    let prefix = tempfile::tempdir().unwrap();
    // A build directory of its own, kept between runs like the rest of the build.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| common::root().join("target"))
        .join("install-check");
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("{install} --root \"$PREFIX\"")])
        .env("PREFIX", prefix.path())
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{install}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = std::process::Command::new(prefix.path().join("bin/tradeoff"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("serve") && text.contains("chat"), "{text}");
}
