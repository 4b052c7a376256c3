//! Where a run's report goes: one folder per run with the JSON report and
//! what is rendered from it (HTML with charts, a Markdown summary, `JUnit` XML).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use ttlab_reports::{Report, html, junit, markdown};

/// Writes `report.json`, `report.html`, `summary.md` and `junit.xml` into a
/// new folder `<out>/<name>-<UTC time>`; returns the JSON report's path.
pub fn write_report(out: &Path, name: &str, report: &Report) -> anyhow::Result<PathBuf> {
    let dir = report_dir(out, name);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the report folder {}", dir.display()))?;
    let path = dir.join("report.json");
    write(&path, &(serde_json::to_string_pretty(report)? + "\n"))?;
    write(&dir.join("report.html"), &html::render(report))?;
    write(&dir.join("summary.md"), &markdown::render(report))?;
    write(
        &dir.join("junit.xml"),
        &junit::render(std::slice::from_ref(report)),
    )?;
    Ok(path)
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

/// Writes `text` to `path`, naming the file in the error.
pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a saved report, or says which file is not one and where.
pub fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
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
