//! The command line: `chat`, `score`, `packs`, `serve`. Configuration is layered: built-in
//! defaults, then environment variables, then flags.
//!
//! Exit status: 0 on success, 2 when the user's input (flags, an answers file) is wrong,
//! 1 when the program cannot run (a broken pack, a locked data directory).

use crate::app::{App, AppError};
use crate::core::card::{outcome_card, Basis};
use crate::core::chart::Chart;
use crate::core::ids::{ChannelId, ConversationKey, Platform, ThreadKey, UserRef, WorkspaceId};
use crate::core::pack::Pack;
use crate::core::score::{evaluate, Answers};
use crate::packs::{self, Catalog, PacksError};
use crate::store::{PackSource, SledStore};
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "tradeoff",
    version,
    about = "Helps a team choose a backend technology, in the terminal, Slack or Discord."
)]
pub struct Cli {
    /// Where the embedded store keeps conversations and results.
    #[arg(
        long,
        env = "TRADEOFF_DATA_DIR",
        default_value = "./tradeoff-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// A folder holding `data/` and `prompts/` with the decision packs. Default: the current
    /// folder if it has `data/`, else the packs built into the binary.
    #[arg(long, env = "TRADEOFF_PACKS_DIR", global = true)]
    pub packs_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Hold the whole conversation in the terminal and print the summary card. Interrupted,
    /// it resumes where it was.
    Chat {
        /// The decision pack to use.
        #[arg(long)]
        pack: Option<String>,
        /// Who is answering (recorded with each answer).
        #[arg(long, env = "USER", default_value = "you")]
        user: String,
        /// When the decision is done, also draw its chart, as a PNG, into this file.
        #[arg(long, value_name = "FILE")]
        chart: Option<PathBuf>,
    },
    /// Score a set of answers given as a JSON object of question id -> choice id.
    Score {
        /// A JSON file, or - for standard input.
        #[arg(long)]
        answers: String,
        /// The decision pack whose questions the answers are for (default: the first pack,
        /// node-vs-python when it is there).
        #[arg(long)]
        pack: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also draw the result's chart, as a PNG, into this file.
        #[arg(long, value_name = "FILE")]
        chart: Option<PathBuf>,
    },
    /// List the decisions finished in this terminal, newest first; with N, show that one's
    /// card again.
    History {
        /// The number in the list.
        show: Option<usize>,
    },
    /// List and validate the decision packs.
    Packs,
    /// Export a closed poll round from the data directory: one row per response (no ids or
    /// names in an anonymous poll), each member's own recommendation, and the team's.
    Export {
        /// The poll's id (default: the poll whose round closed last).
        #[arg(long)]
        poll: Option<String>,
        /// The round (default: the poll's latest closed round).
        #[arg(long)]
        round: Option<u32>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
    },
    /// Check that every quote in the decision packs stands verbatim in the source's text
    /// (runs of white space count as one space). Exits 0 when all do, 1 naming the file, the
    /// place and the quote of each that does not.
    CheckQuotes {
        /// The source's text, as a plain-text file.
        #[arg(long)]
        source: PathBuf,
        /// Check only this pack.
        #[arg(long)]
        pack: Option<String>,
    },
    /// Run the HTTP server (health check, and the Slack and Discord endpoints).
    Serve {
        #[arg(long, env = "TRADEOFF_ADDR", default_value = "0.0.0.0:3000")]
        addr: String,
        /// Serve Prometheus metrics on this address (its own listener, e.g. 127.0.0.1:9100);
        /// off when not given.
        #[arg(long, env = "TRADEOFF_METRICS_ADDR")]
        metrics_addr: Option<String>,
        #[command(flatten)]
        slack: crate::slack::SlackArgs,
        #[command(flatten)]
        discord: crate::discord::DiscordArgs,
    },
    /// Ask a running `serve` whether it is ready (for container and service health
    /// checks): prints each part (the store, each platform's token and connection, the
    /// outbox) and exits 0 when all are ready, 1 otherwise, saying why.
    Health {
        /// Where `serve` listens; an unspecified address (0.0.0.0, [::]) is asked on
        /// loopback. A URL (http://host:3000) works too.
        #[arg(long, env = "TRADEOFF_ADDR", default_value = "0.0.0.0:3000")]
        addr: String,
        /// Only whether the process answers (`/healthz`), not whether it can do its work.
        #[arg(long)]
        live: bool,
    },
    /// Print the Slack app manifest (JSON) to paste into "Create an app → From a manifest".
    SlackManifest {
        /// Where `tradeoff serve` is reachable from Slack, e.g. https://tradeoff.example.com.
        #[arg(
            long,
            required_unless_present = "socket_mode",
            conflicts_with = "socket_mode"
        )]
        url: Option<String>,
        /// Connect by Socket Mode instead (no public URL; needs SLACK_APP_TOKEN).
        #[arg(long)]
        socket_mode: bool,
    },
    /// Register the /tradeoff slash command with Discord (a bulk overwrite of the
    /// application's commands), globally or for one guild.
    DiscordRegister {
        /// Register for this guild only; applies at once, handy while testing.
        #[arg(long)]
        guild: Option<String>,
        #[command(flatten)]
        discord: crate::discord::DiscordArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// An architecture decision record, in the MADR layout.
    Madr,
}

/// Where a terminal's decisions are kept: one workspace and channel for the machine.
const TERMINAL_WORKSPACE: &str = "local";
const TERMINAL_CHANNEL: &str = "terminal";

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// A failure with the exit status it deserves.
#[derive(Debug)]
struct Exit {
    code: i32,
    message: String,
}

impl Exit {
    fn usage(message: impl Into<String>) -> Self {
        Exit {
            code: 2,
            message: message.into(),
        }
    }
    fn fatal(message: impl std::fmt::Display) -> Self {
        Exit {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl From<PacksError> for Exit {
    fn from(e: PacksError) -> Self {
        Exit::fatal(format!("invalid decision pack: {e}"))
    }
}

/// Parses the command line, runs it, and returns the exit status.
pub fn main() -> i32 {
    limit_malloc_arenas();
    let dotenv = read_dotenv();
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve { .. }));
    match dotenv {
        Ok(Some(path)) => tracing::info!(
            "read settings from {} (variables set in the environment win)",
            path.display()
        ),
        Ok(None) => {}
        Err(e) => {
            eprintln!("tradeoff: {}", e.message);
            return e.code;
        }
    }
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("tradeoff: {}", e.message);
            }
            e.code
        }
    }
}

/// Reads `.env` in the working directory, if there is one, into the environment: each of
/// its variables that the environment does not set already. Its path, when it was read.
fn read_dotenv() -> Result<Option<PathBuf>, Exit> {
    match dotenvy::dotenv() {
        Ok(path) => Ok(Some(path)),
        Err(e) if e.not_found() => Ok(None),
        Err(dotenvy::Error::LineParse(line, _)) => {
            // The line may hold a secret: only the name it starts with is repeated.
            let name: String = line
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let which = if name.is_empty() {
                "a line".to_owned()
            } else {
                format!("the line of {name}")
            };
            Err(Exit::usage(format!(
                ".env: {which} cannot be read; each line is NAME=value or a # comment"
            )))
        }
        Err(e) => Err(Exit::usage(format!(".env: {e}"))),
    }
}

/// glibc gives each thread that meets contention a malloc arena of its own, up to eight per
/// core, and an arena keeps what it once held. For a server whose threads hand buffers to
/// one another, two arenas keep peak memory about a third lower at no cost in speed (one
/// would make the threads queue for it). `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only reads its two integers; nothing has been allocated by other
        // threads yet (this runs first in main).
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn init_tracing(serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Writes `text` to standard output. A reader that stopped reading (`tradeoff score … |
/// head`) is not an error: what it wanted, it has.
fn print(text: &str) -> Result<(), Exit> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Exit::fatal(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The packs to use, from `--packs-dir`, `./data`, or the binary.
fn load_packs(dir: Option<&Path>) -> Result<Vec<(PackSource, Pack)>, PacksError> {
    packs_and_origin(dir).map(|(packs, _)| packs)
}

/// [`load_packs`], and whether they are the ones built into the binary.
fn packs_and_origin(dir: Option<&Path>) -> Result<(Vec<(PackSource, Pack)>, bool), PacksError> {
    match dir {
        Some(d) => Ok((packs::read_dir(d)?, false)),
        None if Path::new("data").is_dir() => Ok((packs::read_dir(Path::new("."))?, false)),
        None => Ok((packs::builtin(), true)),
    }
}

/// Opens the store and loads the packs into it.
pub fn open_app(data_dir: &Path, packs_dir: Option<&Path>) -> Result<App, String> {
    let sources = load_packs(packs_dir).map_err(|e| format!("invalid decision pack: {e}"))?;
    let store: Arc<dyn crate::store::Store> =
        Arc::new(SledStore::open(data_dir).map_err(|e| e.to_string())?);
    let catalog = Catalog::load(store.clone(), sources).map_err(|e| e.to_string())?;
    Ok(App::new(store, catalog))
}

fn run(cli: Cli) -> Result<(), Exit> {
    let packs_dir = cli.packs_dir.as_deref();
    match cli.command {
        Command::Chat { pack, user, chart } => {
            let app = open_app(&cli.data_dir, packs_dir).map_err(Exit::fatal)?;
            if let Some(p) = &pack {
                app.pack(Some(p)).map_err(|e| Exit::usage(e.to_string()))?;
            }
            let key = ConversationKey {
                platform: Platform::Terminal,
                workspace: WorkspaceId::new(TERMINAL_WORKSPACE),
                channel: ChannelId::new(TERMINAL_CHANNEL),
                thread: ThreadKey::new(pack.clone().unwrap_or_else(|| packs::DEFAULT_PACK.into())),
                user: Some(user.as_str().into()),
            };
            let who = UserRef::new(user.clone(), user);
            let mut stdout = std::io::stdout();
            let (mut input, look): (Box<dyn crate::terminal::Prompter>, _) =
                if std::io::stdin().is_terminal() && stdout.is_terminal() {
                    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                    let editor = crate::terminal::Editor::new().map_err(Exit::fatal)?;
                    let look = crate::terminal::Look::terminal(textwrap::termwidth(), color);
                    (Box::new(editor), look)
                } else {
                    let piped = crate::terminal::Piped(std::io::stdin().lock().lines());
                    (Box::new(piped), crate::terminal::Look::PLAIN)
                };
            let ending = crate::terminal::chat(
                &app,
                &key,
                &who,
                pack.as_deref(),
                input.as_mut(),
                &mut stdout,
                look,
                chart.as_deref(),
                now,
            );
            match ending {
                // Ctrl-C: the conversation said so; the status says it too.
                Ok(crate::terminal::Ending::Interrupted) => Err(Exit {
                    code: 130,
                    message: String::new(),
                }),
                Ok(_) => Ok(()),
                Err(crate::terminal::ChatError::Io(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Ok(())
                }
                Err(e) => Err(Exit::fatal(e)),
            }
        }
        Command::Score {
            answers,
            pack,
            format,
            chart,
        } => score(
            packs_dir,
            &answers,
            pack.as_deref(),
            format,
            chart.as_deref(),
        ),
        Command::History { show } => {
            let app = open_app(&cli.data_dir, packs_dir).map_err(Exit::fatal)?;
            let here = (
                Platform::Terminal,
                WorkspaceId::new(TERMINAL_WORKSPACE),
                ChannelId::new(TERMINAL_CHANNEL),
            );
            let text = match show {
                Some(n) => app
                    .history_card(here.0, &here.1, &here.2, n)
                    .map(|card| card.to_text())
                    .map_err(|e| match e {
                        AppError::User(_) => Exit::usage(format!(
                            "no decision {n} in the history: `tradeoff history` lists them"
                        )),
                        e => Exit::fatal(e.user_text()),
                    })?,
                None => {
                    let past = app
                        .history(here.0, &here.1, &here.2)
                        .map_err(|e| Exit::fatal(e.user_text()))?;
                    let lines = app
                        .history_lines(&past)
                        .map_err(|e| Exit::fatal(e.user_text()))?;
                    if lines.is_empty() {
                        format!("{}\n", crate::core::messages::HISTORY_EMPTY)
                    } else {
                        format!(
                            "{}\n{}\n",
                            lines.join("\n"),
                            crate::core::messages::history_hint("tradeoff")
                        )
                    }
                }
            };
            print(&text)
        }
        Command::Export {
            poll,
            round,
            format,
        } => {
            let app = open_app(&cli.data_dir, packs_dir).map_err(Exit::fatal)?;
            let poll = match poll {
                Some(p) => crate::core::ids::PollId::new(p),
                None => app
                    .store
                    .rounds()
                    .map_err(Exit::fatal)?
                    .into_iter()
                    .max_by_key(|r| r.closed_at)
                    .map(|r| r.poll)
                    .ok_or_else(|| {
                        Exit::fatal("no poll round has closed in this data directory")
                    })?,
            };
            let (export, csv) = app.export(&poll, round).map_err(|e| match e {
                AppError::User(_) => Exit::usage(format!("poll {poll}: no such closed round")),
                e => Exit::fatal(e.user_text()),
            })?;
            match format {
                ExportFormat::Csv => print(&csv),
                ExportFormat::Json => print(&format!("{}\n", export.to_json())),
            }
        }
        Command::Packs => {
            let (loaded, built_in) = packs_and_origin(packs_dir)?;
            let mut text = String::new();
            for (source, pack) in &loaded {
                text.push_str(&format!("{pack}\n"));
                if built_in {
                    text.push_str("    built into tradeoff (--packs-dir reads packs from files)\n");
                } else {
                    let files = format!("{} + {}", source.criteria_name, source.prompts_name);
                    text.push_str(&format!("    {files}\n"));
                }
            }
            text.push_str(&format!("{} pack(s), all valid.\n", loaded.len()));
            print(&text)
        }
        Command::CheckQuotes { source, pack } => check_quotes(packs_dir, &source, pack.as_deref()),
        Command::Serve {
            addr,
            metrics_addr,
            slack,
            discord,
        } => {
            check_addr(&addr).map_err(Exit::usage)?;
            let metrics_addr = metrics_addr
                .map(|m| {
                    m.parse::<std::net::SocketAddr>().map_err(|_| {
                        Exit::usage(format!(
                            "--metrics-addr {m:?} is not an IP address and port, like 127.0.0.1:9100"
                        ))
                    })
                })
                .transpose()?;
            let slack = slack.config().map_err(|e| Exit::usage(e.to_string()))?;
            let discord = discord.config().map_err(|e| Exit::usage(e.to_string()))?;
            // Handlers do their durable writes on the blocking pool, where concurrent
            // writes share one flush. A modest pool keeps memory bounded under load;
            // past it, requests queue instead of spawning more threads.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .max_blocking_threads(32)
                .build()
                .map_err(Exit::fatal)?;
            if let Some(at) = metrics_addr {
                let _in_runtime = runtime.enter();
                crate::telemetry::install(at).map_err(Exit::fatal)?;
                tracing::info!(%at, "metrics are served at http://{at}/metrics");
            }
            let app = Arc::new(open_app(&cli.data_dir, packs_dir).map_err(Exit::fatal)?);
            if metrics_addr.is_some() {
                count_what_is_waiting(app.store.as_ref());
                runtime.spawn(sample_polls(app.store.clone()));
            }
            runtime
                .block_on(serve(app, addr, slack, discord))
                .map_err(Exit::fatal)
        }
        Command::SlackManifest { url, socket_mode } => {
            if let Some(url) = &url {
                crate::slack::manifest::check_url(url).map_err(Exit::usage)?;
            }
            let manifest = crate::slack::manifest::manifest(url.as_deref(), socket_mode);
            let json = serde_json::to_string_pretty(&manifest).map_err(Exit::fatal)?;
            use std::io::Write;
            writeln!(std::io::stdout().lock(), "{json}")
                .map_err(|e| Exit::fatal(format!("cannot print the manifest: {e}")))
        }
        Command::Health { addr, live } => health(&addr, live),
        Command::DiscordRegister { guild, discord } => {
            discord_register(packs_dir, guild.as_deref(), &discord)
        }
    }
}

/// The messages already queued when `serve` starts, for the outbox's depth.
fn count_what_is_waiting(store: &dyn crate::store::Store) {
    for platform in [Platform::Slack, Platform::Discord] {
        match store.outbox_pending(platform) {
            Ok(waiting) => crate::telemetry::outbox_moved(platform, waiting.len() as f64),
            Err(e) => tracing::warn!(%platform, "metrics: cannot count the queued messages: {e}"),
        }
    }
}

/// Every 15 s, how many team polls are open.
async fn sample_polls(store: Arc<dyn crate::store::Store>) {
    loop {
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.open_polls()).await {
            Ok(Ok(polls)) => crate::telemetry::polls_open(polls.len()),
            Ok(Err(e)) => tracing::warn!("metrics: cannot count the open polls: {e}"),
            Err(_) => return,
        }
        tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    }
}

/// How long `tradeoff health` waits for an answer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Checks an address as `--addr` takes it: an IP address and port (`127.0.0.1:3000`,
/// `[::]:3000`) or a host name and port (`localhost:3000`).
fn check_addr(addr: &str) -> Result<(), String> {
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    match addr.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && port.parse::<u16>().is_ok() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{addr:?} is not an address and port, like 127.0.0.1:3000"
        )),
    }
}

/// Where to ask a `serve` listening on `addr` (as `--addr` takes it, or a URL such as
/// `http://host:3000`): on loopback when `addr` is unspecified (listening everywhere).
fn health_url(addr: &str) -> Result<String, String> {
    let (scheme, addr) = match addr.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest.trim_end_matches('/')),
        Some(_) => return Err(format!("{addr:?}: only http:// and https:// can be asked")),
        None => ("http", addr),
    };
    check_addr(addr)?;
    let Ok(mut at) = addr.parse::<std::net::SocketAddr>() else {
        return Ok(format!("{scheme}://{addr}"));
    };
    if at.ip().is_unspecified() {
        at.set_ip(match at {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(format!("{scheme}://{at}"))
}

/// `tradeoff health`: asks `serve`'s `/readyz` (or with `live`, `/healthz`), without
/// touching the store (which the running `serve` holds).
fn health(addr: &str, live: bool) -> Result<(), Exit> {
    let base = health_url(addr).map_err(Exit::usage)?;
    let url = format!("{base}{}", if live { "/healthz" } else { "/readyz" });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Exit::fatal)?;
    let answer: Result<(u16, serde_json::Value), String> = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(HEALTH_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(&url).send().await.map_err(|e| {
            // reqwest's own text repeats the address; the cause is in its sources.
            let mut cause: &dyn std::error::Error = &e;
            while let Some(source) = cause.source() {
                cause = source;
            }
            cause.to_string()
        })?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    });
    let (status, body) =
        answer.map_err(|e| Exit::fatal(format!("tradeoff at {url} does not answer: {e}")))?;
    if live {
        return if status == 200 && body["status"] == "ok" {
            print(&format!("tradeoff at {base} is up\n"))
        } else {
            Err(Exit::fatal(format!(
                "tradeoff at {url} answered {status}: {body}"
            )))
        };
    }
    let parts = body["parts"].as_object().cloned().unwrap_or_default();
    let mut report = String::new();
    for (name, part) in &parts {
        let state = if part["ready"] == true {
            "ready"
        } else {
            "NOT READY"
        };
        let detail = part["detail"].as_str().unwrap_or("");
        report.push_str(&format!("  {name}: {state}: {detail}\n"));
    }
    if status == 200 && body["status"] == "ready" {
        print(&format!("tradeoff at {base} is ready\n{report}"))
    } else if parts.is_empty() {
        Err(Exit::fatal(format!(
            "tradeoff at {url} answered {status}: {body}"
        )))
    } else {
        Err(Exit::fatal(format!(
            "tradeoff at {base} is not ready\n{}",
            report.trim_end()
        )))
    }
}

/// Sends `/tradeoff`, with the loaded packs as the choices of `start`, to Discord.
fn discord_register(
    packs_dir: Option<&Path>,
    guild: Option<&str>,
    args: &crate::discord::DiscordArgs,
) -> Result<(), Exit> {
    use crate::discord::commands;
    let config = args
        .config()
        .map_err(|e| Exit::usage(e.to_string()))?
        .filter(|c| c.token.is_some())
        .ok_or_else(|| {
            Exit::usage("discord-register needs DISCORD_TOKEN and DISCORD_APPLICATION_ID")
        })?;
    let packs: Vec<(String, String)> = load_packs(packs_dir)?
        .into_iter()
        .map(|(_, p)| (p.id.to_string(), p.title.clone()))
        .collect();
    let body = commands::command_definitions(&packs);
    let rest = crate::discord::rest::Rest::new(&config.api_url, config.token.clone());
    let runtime = tokio::runtime::Runtime::new().map_err(Exit::fatal)?;
    runtime
        .block_on(commands::register(
            &rest,
            &config.application_id,
            guild,
            &body,
        ))
        .map_err(Exit::fatal)?;
    match guild {
        Some(g) => println!("Registered /{} in guild {g}.", commands::COMMAND),
        None => println!(
            "Registered /{} globally (it can take a while to show up everywhere).",
            commands::COMMAND
        ),
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `docker stop` and service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

async fn serve(
    app: Arc<App>,
    addr: String,
    slack: Option<crate::slack::SlackConfig>,
    discord: Option<crate::discord::DiscordConfig>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let background = crate::background::Background::start()
        .map_err(|e| format!("cannot start the background runtime: {e}"))?;
    let slack = match slack {
        Some(config) => Some(
            crate::slack::start(app.clone(), config, stopped.clone(), background.handle()).await?,
        ),
        None => {
            tracing::info!(
                "Slack is off: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN to turn it on"
            );
            None
        }
    };
    let discord = match &discord {
        Some(config) => {
            let mut stopped = stopped.clone();
            Some(crate::discord::spawn(
                app.clone(),
                config,
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
                background.handle(),
            ))
        }
        None => {
            tracing::info!("Discord is off: set DISCORD_TOKEN and DISCORD_APPLICATION_ID (and DISCORD_PUBLIC_KEY for the interactions endpoint) to turn it on");
            None
        }
    };
    // Delivery ids (Slack event ids, clicks, Discord messages) are remembered for an hour:
    // Slack's last retry comes about five minutes after the first delivery.
    let store = app.store.clone();
    let mut cleanup_stop = stopped.clone();
    background.spawn(async move {
        loop {
            tokio::select! {
                _ = cleanup_stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
            }
            let store = store.clone();
            let forgotten =
                tokio::task::spawn_blocking(move || store.forget_seen(now() - 3600)).await;
            if let Ok(Err(e)) = forgotten {
                tracing::warn!("cannot forget old delivery ids: {e}");
            }
        }
    });
    // One scheduler for every platform's polls: deadlines, reminders, recurring rounds.
    let mut poll_platforms = Vec::new();
    if let Some(bot) = &discord {
        poll_platforms.push(bot.scheduler_entry());
    }
    if let Some(running) = &slack {
        poll_platforms.push(running.scheduler_entry());
    }
    if !poll_platforms.is_empty() {
        let mut stopped = stopped.clone();
        background.spawn(crate::polls::run_scheduler(
            app.clone(),
            poll_platforms,
            Arc::new(crate::outbox::SystemClock),
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ));
    }
    tracing::info!(%addr, packs = ?app.catalog.ids(), "tradeoff is listening");
    let router = crate::http::router(crate::http::HttpState {
        app,
        slack: slack.as_ref().and_then(|s| s.http.clone()),
        discord: discord.clone(),
    });
    // In-flight requests finish; a connection slow to send its request, or idle, is closed
    // after crate::http's timeouts, so neither holds the stop up for long.
    crate::http::serve(listener, router, shutdown_signal()).await;
    // Every request has had its acknowledgement. Answers still being prepared for those
    // acknowledged "still working" are queued before the outboxes stop: both platforms'
    // at once, so the stop waits one limit at most.
    let limit = crate::deadline::FINISH_WITHIN;
    tokio::join!(
        async {
            if let Some(s) = &slack {
                s.finish_late_answers(limit).await;
            }
        },
        async {
            if let Some(bot) = &discord {
                bot.finish_late_answers(limit).await;
            }
        },
    );
    let _ = stop.send(true);
    if let Some(s) = slack {
        s.shutdown().await;
    }
    // Dropping the runtime waits for its thread; do that off the async workers.
    let _ = tokio::task::spawn_blocking(move || drop(background)).await;
    Ok(())
}

fn check_quotes(packs_dir: Option<&Path>, source: &Path, only: Option<&str>) -> Result<(), Exit> {
    let text = std::fs::read_to_string(source)
        .map_err(|e| Exit::usage(format!("{}: cannot read: {e}", source.display())))?;
    let loaded = load_packs(packs_dir)?;
    let chosen: Vec<&(PackSource, Pack)> = loaded
        .iter()
        .filter(|(_, p)| only.is_none_or(|id| p.id.as_str() == id))
        .collect();
    if chosen.is_empty() {
        let known: Vec<&str> = loaded.iter().map(|(_, p)| p.id.as_str()).collect();
        return Err(Exit::usage(format!(
            "no pack {:?} (available: {})",
            only.unwrap_or_default(),
            known.join(", ")
        )));
    }
    let mut missing = Vec::new();
    for (files, pack) in &chosen {
        let quotes = pack.quotes().len();
        let unquoted = crate::core::pack::unquoted(pack, &text);
        for (place, quote) in &unquoted {
            missing.push(format!(
                "{}: {place}.quotes: not found in {}: “{quote}”",
                files.criteria_name,
                source.display()
            ));
        }
        print(&format!(
            "{}: {} of {quotes} quotes found in {}\n",
            pack.id,
            quotes - unquoted.len(),
            source.display()
        ))?;
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Exit::fatal(missing.join("\n")))
    }
}

fn score(
    packs_dir: Option<&Path>,
    answers: &str,
    pack: Option<&str>,
    format: Format,
    chart: Option<&Path>,
) -> Result<(), Exit> {
    let loaded = load_packs(packs_dir)?;
    let wanted = pack.unwrap_or(packs::DEFAULT_PACK);
    let pack = loaded
        .iter()
        .map(|(_, p)| p)
        .find(|p| p.id.as_str() == wanted)
        .or_else(|| {
            if pack.is_none() {
                loaded.first().map(|(_, p)| p)
            } else {
                None
            }
        })
        .ok_or_else(|| {
            let known: Vec<&str> = loaded.iter().map(|(_, p)| p.id.as_str()).collect();
            Exit::usage(format!(
                "no pack {wanted:?} (available: {})",
                known.join(", ")
            ))
        })?;
    let text = if answers == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Exit::usage(format!("cannot read answers from standard input: {e}")))?;
        s
    } else {
        std::fs::read_to_string(answers)
            .map_err(|e| Exit::usage(format!("{answers}: cannot read: {e}")))?
    };
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
        Exit::usage(format!(
            "{answers}: expected a JSON object of question id -> choice id: {e}"
        ))
    })?;
    let mut pairs = Vec::with_capacity(map.len());
    for (q, v) in &map {
        let choice = v.as_str().ok_or_else(|| {
            Exit::usage(format!(
                "{answers}: question {q:?}: the answer must be a choice id string, not {v}"
            ))
        })?;
        pairs.push((q.as_str(), choice));
    }
    let answers_set =
        Answers::from_ids(pack, pairs).map_err(|e| Exit::usage(format!("{answers}: {e}")))?;
    let outcome = evaluate(pack, &answers_set);
    if let Some(file) = chart {
        write_chart(file, &Chart::of_decision(pack, 0, &outcome))?;
    }
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&outcome.to_json(pack)).map_err(Exit::fatal)?;
            print(&format!("{json}\n"))?;
        }
        Format::Text | Format::Madr => {
            let basis = Basis {
                by: Vec::new(),
                at: chrono::Utc::now().timestamp(),
            };
            let card = outcome_card(pack, 0, &outcome, &basis);
            if let Format::Madr = format {
                print(&crate::core::record::of_decision(
                    pack, &card, &outcome, &basis,
                ))?;
            } else {
                print(&card.to_text())?;
            }
        }
    }
    Ok(())
}

/// Draws `chart` into `file`, as a PNG.
fn write_chart(file: &Path, chart: &Chart) -> Result<(), Exit> {
    let png = crate::chart::png(chart).map_err(Exit::fatal)?;
    std::fs::write(file, png)
        .map_err(|e| Exit::usage(format!("{}: cannot write the chart: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::health_url;

    #[test]
    fn health_is_asked_on_loopback_when_serve_listens_everywhere() {
        for (addr, url) in [
            ("0.0.0.0:3000", "http://127.0.0.1:3000"),
            ("[::]:8080", "http://[::1]:8080"),
            ("10.0.0.7:3000", "http://10.0.0.7:3000"),
            ("localhost:3000", "http://localhost:3000"),
        ] {
            assert_eq!(health_url(addr).unwrap(), url);
        }
        let error = health_url("localhost").unwrap_err();
        assert!(error.contains("\"localhost\""), "{error}");
        // A URL, as it is often written, is asked as given: never http://http://.
        assert_eq!(health_url("http://host:3000").unwrap(), "http://host:3000");
        assert_eq!(
            health_url("https://host:3000/").unwrap(),
            "https://host:3000"
        );
        assert!(health_url("ftp://host:3000").is_err());
        assert!(health_url("nonsense").is_err());
    }
}
