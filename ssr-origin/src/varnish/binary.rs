//! `varnishd` itself: where it is, what version it is, and whether a VCL
//! compiles (`varnishd -C`). A run with Varnish asks these first, so a
//! missing Varnish or a VCL Varnish refuses fails at once and says why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

/// How to install what a run with Varnish needs, on Debian and Ubuntu.
pub const INSTALL_HINT: &str = "install Varnish and its modules (for xkey): `apt-get install -y varnish varnish-modules` (Debian, Ubuntu), then run again; or run with `--cdn ttlab`";

/// Why Varnish cannot be used.
#[derive(Debug, Error)]
pub enum BinaryError {
    /// No `varnishd` on `PATH` or in the system folders.
    #[error(
        "varnishd was not found (looked at $TTLAB_VARNISHD, else on PATH and in /usr/sbin, /usr/local/sbin): {INSTALL_HINT}"
    )]
    Missing,
    /// `varnishd` could not be run.
    #[error("cannot run {path}: {source}")]
    Run {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The VCL does not compile.
    #[error("Varnish does not compile the generated VCL ({file}):\n{message}{hint}", hint = vmod_hint(.message))]
    Compile {
        /// Varnish's error.
        message: String,
        /// Where the generated VCL is kept.
        file: PathBuf,
    },
    /// A working folder could not be made or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn vmod_hint(message: &str) -> String {
    if message.contains("VMOD") || message.contains("vmod") {
        format!("\n({INSTALL_HINT})")
    } else {
        String::new()
    }
}

/// The variable that names the `varnishd` to use, when it is not the one
/// on `PATH` (a build of one's own, another version).
pub const VARNISHD_VAR: &str = "TTLAB_VARNISHD";

/// The `varnishd` binary: the one [`VARNISHD_VAR`] names, else on `PATH`,
/// or where Debian installs it (`/usr/sbin`, often not on a user's `PATH`).
pub fn installed() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os(VARNISHD_VAR) {
        let path = PathBuf::from(named);
        return path.is_file().then_some(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("varnishd"))
        .find(|p| p.is_file())
}

/// `varnishd`, or why there is none.
///
/// # Errors
///
/// [`BinaryError::Missing`], whose message says how to install it.
pub fn require() -> Result<PathBuf, BinaryError> {
    installed().ok_or(BinaryError::Missing)
}

/// The first line of `varnishd -V`, e.g. `varnishd (varnish-7.1.1 revision
/// 7cee1c…)`, for reports.
///
/// # Errors
///
/// When there is no `varnishd` or it cannot run.
pub fn version() -> Result<String, BinaryError> {
    let path = require()?;
    let out = Command::new(&path)
        .arg("-V")
        .output()
        .map_err(|source| BinaryError::Run { path, source })?;
    // varnishd prints its version on stderr.
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("varnishd").trim().to_owned())
}

/// A folder of its own under the system's temporary folder, removed on drop
/// unless [`TempDir::keep`] is called.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A new empty folder named after `what`, this process and a counter.
    ///
    /// # Errors
    ///
    /// When it cannot be made.
    pub fn new(what: &str) -> Result<TempDir, BinaryError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ttlab-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|source| BinaryError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(TempDir { path, keep: false })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves it on disk when dropped (its files are named in an error).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes `vcl` to `dir/ttlab.vcl` and compiles it with `varnishd -C`
/// (working folder `dir/compile`). Returns the file's path.
///
/// # Errors
///
/// No `varnishd`, a folder that cannot be written, or Varnish's own error
/// when the VCL does not compile (with the file's path, which the caller
/// keeps).
pub fn compile(vcl: &str, dir: &Path) -> Result<PathBuf, BinaryError> {
    let varnishd = require()?;
    let file = dir.join("ttlab.vcl");
    std::fs::write(&file, vcl).map_err(|source| BinaryError::Write {
        path: file.clone(),
        source,
    })?;
    let out = Command::new(&varnishd)
        .arg("-C")
        .arg("-f")
        .arg(&file)
        .arg("-n")
        .arg(dir.join("compile"))
        .output()
        .map_err(|source| BinaryError::Run {
            path: varnishd.clone(),
            source,
        })?;
    if out.status.success() {
        return Ok(file);
    }
    // On failure varnishd prints the error (and no C source) on stderr.
    let message = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    Err(BinaryError::Compile { message, file })
}
