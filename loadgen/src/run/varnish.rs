//! `varnishd` as an architecture's cache in a real run (`[cdn] engine =
//! "varnish"`): started per architecture in a temporary working folder
//! (`-n`), on a free loopback port (`-a 127.0.0.1:PORT`), in the
//! foreground (`-F`) in a process group of its own, with the generated VCL
//! (`-f`, compiled first with `varnishd -C` so a VCL Varnish refuses fails
//! with Varnish's error and the file); polled until it answers; stopped
//! with its whole group at the end, or when dropped.
//!
//! The VCL is `ttlab_ssr_origin::varnish::vcl`'s; this module only runs it.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use thiserror::Error;
use ttlab_scenarios::model::ArchitectureConfig;
use ttlab_ssr_origin::varnish::binary::{self, BinaryError, TempDir};
use ttlab_ssr_origin::varnish::{
    Backend, PURGE_KEY_HEADER, PURGED_HEADER, VclError, VclSpec, generate,
};

use super::process;

/// How long varnishd may take to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long it has to stop after `SIGTERM` before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Storage when the scenario sets no `max_bytes`: ttlab's own store
/// default (`cache::store::Bounds::or_defaults`) is larger than any shipped
/// run fills.
const DEFAULT_STORAGE: u64 = 256 * 1024 * 1024;

/// Why Varnish could not run.
#[derive(Debug, Error)]
pub enum VarnishError {
    /// No varnishd, a VCL it refuses, a folder that cannot be written.
    #[error(transparent)]
    Binary(#[from] BinaryError),
    /// The architecture cannot be written as VCL.
    #[error(transparent)]
    Vcl(#[from] VclError),
    /// No free port.
    #[error("cannot find a free port on 127.0.0.1 for varnishd: {0}")]
    Port(std::io::Error),
    /// varnishd could not be started.
    #[error("cannot start {path}: {source}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It exited, or did not answer in time.
    #[error("varnishd did not come up on 127.0.0.1:{port}: {what}; its last output lines:\n{tail}")]
    NotReady {
        /// The port.
        port: u16,
        /// What happened.
        what: String,
        /// Its last output lines.
        tail: String,
    },
}

/// A running varnishd.
pub struct Varnishd {
    child: Child,
    /// Its process group, until it is stopped.
    pgid: Option<i32>,
    url: String,
    version: String,
    dir: TempDir,
}

impl Varnishd {
    /// Generates the VCL for `arch` forwarding to `origin_urls` (the
    /// edge's variants in ttlab's own query parameter) and starts varnishd
    /// with it, storage bounded by the architecture's `max_bytes`. The one
    /// way a run, and a test standing in for one, puts Varnish in front of
    /// ttlab's origin.
    ///
    /// # Errors
    ///
    /// As [`Varnishd::start`], and an architecture with no cache for
    /// Varnish to be.
    pub async fn in_front_of(
        scenario: &str,
        arch: &ArchitectureConfig,
        origin_urls: &[String],
    ) -> Result<Varnishd, VarnishError> {
        let origins: Vec<Backend> = origin_urls
            .iter()
            .filter_map(|u| Backend::parse(u))
            .collect();
        let vcl = generate(&VclSpec {
            scenario,
            arch,
            origins: &origins,
            variant_param: ttlab_scenarios::alias::VARIANT_PARAM,
        })?;
        Varnishd::start(&vcl, arch.cache.max_bytes).await
    }

    /// Compiles `vcl` and starts varnishd with it, storage bounded by
    /// `max_bytes`; returns once it answers.
    ///
    /// # Errors
    ///
    /// No varnishd (the message says how to install it), a VCL it does not
    /// compile (its error and the kept file), or a daemon that does not come up.
    pub async fn start(vcl: &str, max_bytes: Option<u64>) -> Result<Varnishd, VarnishError> {
        let path = binary::require()?;
        let version = binary::version()?;
        let mut dir = TempDir::new("varnish")?;
        let file = match binary::compile(vcl, dir.path()) {
            Ok(f) => f,
            Err(e) => {
                dir.keep();
                return Err(e.into());
            }
        };
        let port = process::free_port().map_err(VarnishError::Port)?;
        let child = Self::spawn(&path, &file, &dir, port, max_bytes)?;
        let mut running = Varnishd {
            pgid: Some(child.id() as i32),
            child,
            url: format!("http://127.0.0.1:{port}"),
            version,
            dir,
        };
        // Dropped on an error: its group is stopped.
        running.wait_ready(port).await?;
        Ok(running)
    }

    fn spawn(
        path: &PathBuf,
        file: &std::path::Path,
        dir: &TempDir,
        port: u16,
        max_bytes: Option<u64>,
    ) -> Result<Child, VarnishError> {
        use std::os::unix::process::CommandExt as _;
        let log = std::fs::File::create(dir.path().join("varnishd.log")).map_err(|source| {
            VarnishError::Spawn {
                path: path.clone(),
                source,
            }
        })?;
        let err = log.try_clone().map_err(|source| VarnishError::Spawn {
            path: path.clone(),
            source,
        })?;
        let storage = max_bytes.unwrap_or(DEFAULT_STORAGE).max(16 * 1024 * 1024);
        std::process::Command::new(path)
            .arg("-F")
            .arg("-n")
            .arg(dir.path().join("n"))
            .arg("-a")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-f")
            .arg(file)
            .args(["-T", "none"])
            .arg("-s")
            .arg(format!("malloc,{storage}"))
            // A response with no lifetime of its own is not cached (the
            // VCL sets every window it caches with).
            .args([
                "-p",
                "default_ttl=0",
                "-p",
                "default_grace=0",
                "-p",
                "default_keep=0",
            ])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|source| VarnishError::Spawn {
                path: path.clone(),
                source,
            })
    }

    /// Polls with a `PURGE` of a key nothing has (answered by the VCL
    /// itself: it proves the listener, the VCL and the purge path, and
    /// stores nothing), until it answers 200.
    async fn wait_ready(&mut self, port: u16) -> Result<(), VarnishError> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        let method = reqwest::Method::from_bytes(b"PURGE").expect("a method name");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(VarnishError::NotReady {
                    port,
                    what: format!("it exited ({status})"),
                    tail: self.tail(),
                });
            }
            let probe = http
                .request(method.clone(), format!("{}/", self.url))
                .header(PURGE_KEY_HEADER, "ttlab-ready-probe")
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(r) = probe
                && r.status().is_success()
                && r.headers().contains_key(PURGED_HEADER)
            {
                tracing::info!(url = %self.url, version = %self.version, "varnishd is up");
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(VarnishError::NotReady {
                    port,
                    what: format!("no answer within {}s", READY_TIMEOUT.as_secs()),
                    tail: self.tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines varnishd wrote.
    fn tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("varnishd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Where it answers, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process group (varnishd's manager and child), until it is stopped.
    pub fn pgid(&self) -> Option<i32> {
        self.pgid
    }

    /// `varnishd -V`'s first line.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Its counters, from `varnishstat -j` (`None` when varnishstat is not
    /// there or says nothing readable).
    pub fn stats(&self) -> Option<Stats> {
        let varnishd = binary::require().ok()?;
        let varnishstat = varnishd.with_file_name("varnishstat");
        let varnishstat = if varnishstat.is_file() {
            varnishstat
        } else {
            ["/usr/bin/varnishstat", "/usr/local/bin/varnishstat"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())?
        };
        let out = std::process::Command::new(varnishstat)
            .arg("-j")
            .arg("-n")
            .arg(self.dir.path().join("n"))
            .output()
            .ok()?;
        Stats::parse(&String::from_utf8_lossy(&out.stdout))
    }

    /// Stops its whole group: `SIGTERM`, up to 5 s, then `SIGKILL`.
    pub fn stop_blocking(&mut self) {
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        process::signal(pgid, Signal::SIGTERM);
        let alive = |child: &mut Child| {
            let _ = child.try_wait();
            process::alive(pgid)
        };
        let deadline = Instant::now() + STOP_GRACE;
        while alive(&mut self.child) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(&mut self.child) {
            tracing::warn!(
                pgid,
                "varnishd did not stop within 5 s of SIGTERM; killing its group"
            );
            process::signal(pgid, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(2);
            while alive(&mut self.child) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.try_wait();
    }

    /// [`Varnishd::stop_blocking`] off the async runtime's threads.
    pub async fn stop(mut self) {
        let _ = tokio::task::spawn_blocking(move || self.stop_blocking()).await;
    }
}

impl Drop for Varnishd {
    fn drop(&mut self) {
        self.stop_blocking();
    }
}

/// Varnish's own counters that the report takes (`varnishstat -j`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `MAIN.cache_hit`: lookups that found an object (grace hits included).
    pub cache_hit: u64,
    /// `MAIN.cache_hit_grace`: hits on a stale object (grace).
    pub cache_hit_grace: u64,
    /// `MAIN.cache_miss`.
    pub cache_miss: u64,
    /// `MAIN.s_pass`: requests passed.
    pub pass: u64,
    /// `MAIN.backend_req`: requests sent to the origin.
    pub backend_req: u64,
    /// `MAIN.s_bgfetch`: background fetches (grace refreshes).
    pub bgfetch: u64,
    /// `MAIN.fetch_failed`: fetches that failed.
    pub fetch_failed: u64,
    /// `MAIN.busy_sleep`: requests that waited for another's fetch.
    pub busy_sleep: u64,
    /// `MAIN.n_lru_nuked`: objects evicted for room.
    pub lru_nuked: u64,
}

impl Stats {
    /// From `varnishstat -j`'s text (7.x: counters under `counters`; 6.x:
    /// at the top level).
    pub fn parse(json: &str) -> Option<Stats> {
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        let counters = v.get("counters").unwrap_or(&v);
        let get = |name: &str| {
            counters
                .get(name)
                .and_then(|c| c.get("value"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        Some(Stats {
            cache_hit: get("MAIN.cache_hit"),
            cache_hit_grace: get("MAIN.cache_hit_grace"),
            cache_miss: get("MAIN.cache_miss"),
            pass: get("MAIN.s_pass"),
            backend_req: get("MAIN.backend_req"),
            bgfetch: get("MAIN.s_bgfetch"),
            fetch_failed: get("MAIN.fetch_failed"),
            busy_sleep: get("MAIN.busy_sleep"),
            lru_nuked: get("MAIN.n_lru_nuked"),
        })
    }
}
