//! The team's own app in a real run (`[app]`): started once per
//! architecture, after that architecture's mocks and pointed at them, in a
//! process group of its own; polled until it answers; stopped with its
//! whole group when the architecture's run ends, fails or is dropped.
//!
//! `output` keeps what it writes (the log file and its last lines);
//! `super::process` signals its process group.

mod output;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use thiserror::Error;
use ttlab_mock_apis::{MockConfig, RunningMocks};
use ttlab_scenarios::app::{App, Values};

use super::process as group;
pub use super::process::running_members;
use output::Output;

/// How long the app has to stop after `SIGTERM` before its group is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// The bound of one request polling the app's `ready` path: short, so a
/// request to an app still busy starting is retried rather than waited on.
const READY_REQUEST: Duration = Duration::from_secs(2);
/// Pause between two polls.
const READY_PAUSE: Duration = Duration::from_millis(100);

/// Why the team's app could not be used.
#[derive(Debug, Error)]
pub enum AppError {
    /// No free port could be found for it.
    #[error("cannot find a free port on 127.0.0.1 for the app: {0}")]
    Port(std::io::Error),
    /// Its log file could not be made.
    #[error("cannot write the app's output to {path}: {source}")]
    Log {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `sh` could not be started.
    #[error("cannot start the app `{command}` in {dir}: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// Its folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It exited (every process of its group) before it answered.
    #[error("the app `{}` exited ({}) before it answered {}{}", .0.command, .0.what, .0.url, tail(&.0.last_lines, .0.log.as_deref()))]
    Exited(Box<Failure>),
    /// It did not answer within `ready_timeout`.
    #[error("the app `{}` did not answer {} within {}{}", .0.command, .0.url, .0.what, tail(&.0.last_lines, .0.log.as_deref()))]
    NotReady(Box<Failure>),
}

/// An app that did not come up: what it was, and what it said.
#[derive(Debug)]
pub struct Failure {
    /// The command.
    pub command: String,
    /// What was polled.
    pub url: String,
    /// How it ended, or the bound and what the last poll got.
    pub what: String,
    /// Its last output lines.
    pub last_lines: Vec<String>,
    /// Its whole output, when kept.
    pub log: Option<PathBuf>,
}

/// The app's last lines (or that it printed none), and where its whole
/// output is.
fn tail(lines: &[String], log: Option<&Path>) -> String {
    let mut out = if lines.is_empty() {
        "; it printed nothing".to_owned()
    } else {
        "; its last output lines:".to_owned()
    };
    for l in lines {
        let _ = write!(out, "\n  | {l}");
    }
    if let Some(log) = log {
        let _ = write!(out, "\n(all of its output: {})", log.display());
    }
    out
}

/// The placeholders' values for an app pointed at `mocks` (started with
/// `config`), in `locale`, answering on `port`.
pub fn values(mocks: &RunningMocks, config: &MockConfig, locale: &str, port: u16) -> Values {
    let delivery = reqwest::Url::parse(&mocks.delivery_url).ok();
    Values {
        api_key: config.api_key.clone(),
        delivery_token: config.delivery_token.clone(),
        environment: config.environment.clone(),
        project_uid: config.project_uid.clone(),
        personalize_url: mocks.personalize_url.trim_end_matches('/').to_owned(),
        delivery_url: mocks.delivery_url.trim_end_matches('/').to_owned(),
        delivery_host: delivery
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| config.delivery_addr.ip().to_string()),
        delivery_port: delivery
            .as_ref()
            .and_then(reqwest::Url::port_or_known_default)
            .unwrap_or(0),
        port,
        locale: locale.to_owned(),
    }
}

/// A port for the app ([`super::process::free_port`]).
pub fn free_port() -> Result<u16, AppError> {
    group::free_port().map_err(AppError::Port)
}

/// The team's app, running.
pub struct RunningApp {
    command: String,
    url: String,
    child: tokio::process::Child,
    /// Its process group, until it is stopped.
    pgid: Option<i32>,
    /// How the command's shell ended, once it has.
    exited: Option<ExitStatus>,
    output: Arc<Output>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    log: Option<PathBuf>,
}

impl RunningApp {
    /// Starts `app` with `values`: `sh -c COMMAND` in its folder, in a
    /// process group of its own, with ttlab's variables and its `env` map
    /// over the inherited environment; its output goes to `log` (if given)
    /// and a ring of its last lines.
    pub fn start(app: &App, values: &Values, log: Option<&Path>) -> Result<RunningApp, AppError> {
        use std::os::unix::process::CommandExt as _;
        let output = Arc::new(Output::new(log).map_err(|source| AppError::Log {
            path: log.map(Path::to_path_buf).unwrap_or_default(),
            source,
        })?);
        let url = app.url_for(values);
        output.note(&format!(
            "starting `{}` in {} for {url}",
            app.command,
            app.dir.display()
        ));
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&app.command)
            .current_dir(&app.dir)
            .envs(app.environment(values))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = tokio::process::Command::from(command)
            .spawn()
            .map_err(|source| AppError::Spawn {
                command: app.command.clone(),
                dir: app.dir.clone(),
                source,
            })?;
        let pgid = child.id().map(|id| id as i32);
        if let Some(g) = pgid {
            output.note(&format!("process group {g}"));
        }
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(output::pump(out, output.clone())));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(output::pump(err, output.clone())));
        }
        tracing::info!(command = %app.command, pgid, %url, "started the app");
        Ok(RunningApp {
            command: app.command.clone(),
            url,
            child,
            pgid,
            exited: None,
            output,
            pumps,
            log: log.map(Path::to_path_buf),
        })
    }

    /// Where it answers, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last lines it wrote.
    pub fn last_lines(&self) -> Vec<String> {
        self.output.last_lines()
    }

    /// Notes how the command's shell ended, if it has.
    fn reap(&mut self) {
        if self.exited.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.exited = Some(status);
        }
    }

    /// Whether a process of its group still runs (its shell, or what that
    /// started: an app may leave its shell behind and run on).
    fn running(&mut self) -> bool {
        self.reap();
        self.pgid.is_some_and(group::alive)
    }

    /// Polls `app.ready` until the app answers with a status below 500,
    /// for at most `app.ready_timeout`. When its processes have all exited
    /// first, or the time is up, its group is stopped and the error holds
    /// its last output lines.
    pub async fn wait_ready(&mut self, app: &App) -> Result<(), AppError> {
        let target = format!("{}{}", self.url, app.ready);
        let timeout = app.ready_timeout.to_duration();
        let deadline = Instant::now() + timeout;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client without TLS builds");
        let mut last_try = "no answer yet".to_owned();
        loop {
            if !self.running() {
                self.stop().await;
                let what = self
                    .exited
                    .map_or("its processes ended".to_owned(), |s| s.to_string());
                return Err(AppError::Exited(Box::new(self.failure(target, what))));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.stop().await;
                let what = format!(
                    "{} (ready_timeout; last try: {last_try})",
                    app.ready_timeout
                );
                return Err(AppError::NotReady(Box::new(self.failure(target, what))));
            }
            match http
                .get(&target)
                .timeout(READY_REQUEST.min(left))
                .send()
                .await
            {
                Ok(r) if r.status().as_u16() < 500 => {
                    self.output
                        .note(&format!("answered {target} with {}", r.status()));
                    return Ok(());
                }
                Ok(r) => last_try = format!("it answered {}", r.status()),
                Err(e) if e.is_timeout() => "the request timed out".clone_into(&mut last_try),
                Err(e) if e.is_connect() => {
                    "nothing accepted the connection".clone_into(&mut last_try);
                }
                Err(e) => last_try = e.to_string(),
            }
            tokio::time::sleep(READY_PAUSE.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }

    /// What a failure to come up shows.
    fn failure(&self, url: String, what: String) -> Failure {
        Failure {
            command: self.command.clone(),
            url,
            what,
            last_lines: self.last_lines(),
            log: self.log.clone(),
        }
    }

    /// Whether the app had ended by itself (every process of its group), for
    /// the report: a run whose app died part way measured errors, not it.
    pub fn ended_early(&mut self) -> Option<String> {
        if self.running() {
            return None;
        }
        Some(format!(
            "the app `{}` ended during the run ({}): the answers after that are errors; its last output lines: {}",
            self.command,
            self.exited
                .map_or("its processes ended".to_owned(), |s| s.to_string()),
            self.last_lines().join(" | ")
        ))
    }

    /// Stops the whole group: `SIGTERM`, up to [`STOP_GRACE`] for every
    /// process of it to end, then `SIGKILL`. Then takes the rest of its
    /// output (bounded: a process that left the group may hold the pipes).
    pub async fn stop(&mut self) {
        let Some(pgid) = self.pgid else {
            return;
        };
        self.output.note("stopping (SIGTERM to its process group)");
        group::signal(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while self.running() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.running() {
            tracing::warn!(command = %self.command, pgid, "the app did not stop within 5 s of SIGTERM; killing its group");
            self.output.note("still running 5 s after SIGTERM: SIGKILL");
            group::signal(pgid, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.running() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.pgid = None;
        for pump in std::mem::take(&mut self.pumps) {
            let abort = pump.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), pump)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.output.note("stopped");
    }

    /// [`RunningApp::stop`] without a runtime to wait on, for `Drop`: the
    /// thread blocks until the group has ended (at most [`STOP_GRACE`] and a
    /// little), as no process of the app may outlive the run.
    fn stop_blocking(&mut self) {
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        let alive = |child: &mut tokio::process::Child| {
            let _ = child.try_wait();
            group::alive(pgid)
        };
        group::signal(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while alive(&mut self.child) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(&mut self.child) {
            group::signal(pgid, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(2);
            while alive(&mut self.child) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        for pump in &self.pumps {
            pump.abort();
        }
        self.output.note("stopped (the run ended early)");
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.stop_blocking();
    }
}
