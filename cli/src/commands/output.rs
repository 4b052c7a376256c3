//! Where a run's report goes: one folder per run with the JSON report and
//! what is rendered from it (HTML with charts, a Markdown summary, `JUnit` XML).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use ttlab_reports::{Report, SCHEMA_VERSION, html, junit, markdown};

/// Writes `report.json`, `report.html`, `summary.md` and `junit.xml` into a
/// new folder `<out>/<name>-<UTC time>`; returns the JSON report's path.
///
/// The files are written into a hidden folder beside it (`.<name>-<time>.partial`)
/// that is renamed to its final name only when all four are complete, so
/// a run killed while writing never leaves a normally named folder with a
/// truncated report for a CI glob to pick up.
pub fn write_report(out: &Path, name: &str, report: &Report) -> anyhow::Result<PathBuf> {
    let dir = report_dir(out, name);
    let leaf = dir
        .file_name()
        .expect("a report folder has a name")
        .to_string_lossy();
    let partial = out.join(format!(".{leaf}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create the report folder {}", partial.display()))?;
    write_files(&partial, report)?;
    std::fs::rename(&partial, &dir).with_context(|| {
        format!(
            "cannot move the finished report from {} to {}",
            partial.display(),
            dir.display()
        )
    })?;
    Ok(dir.join("report.json"))
}

/// Makes the folder a run's report will go into, `<out>/<name>-<UTC time>`,
/// before the run, for what the run writes as it goes (the team's app's
/// output); [`write_report_in`] adds the report at the end.
pub fn reserve_report_dir(out: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = report_dir(out, name);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the report folder {}", dir.display()))?;
    Ok(dir)
}

/// Writes the report's four files into `dir`, a folder made before the run
/// ([`reserve_report_dir`]); returns the JSON report's path. They are
/// written into a hidden folder inside it first and moved in when all four
/// are complete, `report.json` last, so the folder never holds a truncated
/// report and a `report.json` found there is a whole run's.
pub fn write_report_in(dir: &Path, report: &Report) -> anyhow::Result<PathBuf> {
    let partial = dir.join(".report.partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    write_files(&partial, report)?;
    for name in ["report.html", "summary.md", "junit.xml", "report.json"] {
        std::fs::rename(partial.join(name), dir.join(name))
            .with_context(|| format!("cannot move {name} into {}", dir.display()))?;
    }
    let _ = std::fs::remove_dir(&partial);
    Ok(dir.join("report.json"))
}

/// The report's four files, in `dir`.
fn write_files(dir: &Path, report: &Report) -> anyhow::Result<()> {
    write(
        &dir.join("report.json"),
        &(serde_json::to_string_pretty(report)? + "\n"),
    )?;
    write(&dir.join("report.html"), &html::render(report))?;
    write(&dir.join("summary.md"), &markdown::render(report))?;
    write(
        &dir.join("junit.xml"),
        &junit::render(std::slice::from_ref(report)),
    )
}

/// Checks, before a run starts, that reports can be written under `out`:
/// it is (or can be made) a folder, and a file can be created in it. A run
/// that would only find out at its end loses every result.
pub fn check_out_dir(out: &Path) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "{}: not a folder; -o/--out names the folder reports go into",
            out.display()
        );
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the report folder", out.display()))?;
    let probe = out.join(format!(".ttlab-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("{}: cannot write reports there", out.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Refuses to write `output` when it is the file `input` (a command must
/// never write over what it reads).
pub fn not_the_input(input: &Path, output: &Path) -> Result<(), String> {
    let same = match (input.canonicalize(), output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(format!(
            "{}: is the report being read; write to another file",
            output.display()
        ));
    }
    Ok(())
}

/// A folder for a new report, `<out>/<scenario>-<UTC time>`, with `-2`,
/// `-3`, … added when runs in the same second would share one.
fn report_dir(out: &Path, scenario: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    let mut dir = out.join(format!("{scenario}-{stamp}"));
    let mut n = 2;
    while dir.exists() {
        dir = out.join(format!("{scenario}-{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// Writes `text` to `path`, naming the file in the error. The text goes to
/// a temporary file beside it first, renamed over `path` once complete, so
/// `path` is never left half written.
pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temp = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a saved report, or says which file is not one and where.
pub fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    // The version first: a newer report's fields would otherwise fail as
    // "not a ttlab report" when the truth is "a newer ttlab wrote it".
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema_version")?.as_u64());
    if let Some(v) = version
        && !(1..=u64::from(SCHEMA_VERSION)).contains(&v)
    {
        return Err(format!(
            "{}: report schema_version {v} is not one this ttlab reads (1 to {SCHEMA_VERSION}){}",
            path.display(),
            if v > u64::from(SCHEMA_VERSION) {
                ": a newer ttlab wrote it; read it with that version"
            } else {
                ""
            }
        ));
    }
    serde_json::from_str(&text).map_err(|e| {
        // serde_json's message ends with " at line L column C": shown as a prefix instead.
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        format!(
            "{}:{}:{}: not a ttlab report: {message}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}
