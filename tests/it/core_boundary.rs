//! Keeps `src/core` platform-neutral and pure: no platform crate, no async runtime, no
//! storage, no network, no clock, no file system.

use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "serenity",
    "slack_morphism",
    "sled",
    "reqwest",
    "axum",
    "hyper",
    "tower",
    "async fn",
    ".await",
    "std::fs",
    "std::net",
    "SystemTime",
    "Instant::now",
    "crate::store",
    "crate::app",
    "crate::http",
    "crate::slack",
    "crate::discord",
    "crate::outbox",
    "crate::packs",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_names_no_platform_runtime_storage_or_io() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
        &mut files,
    );
    assert!(files.len() >= 5, "found the core's files: {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {word}: {line}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the core must stay pure:\n{}",
        offences.join("\n")
    );
}
