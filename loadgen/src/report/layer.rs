//! What an architecture's report says about its caching layer beyond the
//! counts ([`LayerReport::new`] holds those and the hit rate).

use ttlab_reports::LayerReport;

/// The report's note of a caching layer's store outages: when, and what
/// the layer did meanwhile (`None` when the store never failed).
pub(crate) fn store_warning(l: &LayerReport, end_s: f64) -> Option<String> {
    if l.store_outages.is_empty() && l.counts.store_errors == 0 {
        return None;
    }
    let windows: Vec<String> = l
        .store_outages
        .iter()
        .map(|o| match o.until_s {
            Some(u) => format!("{:.1}–{:.1} s", o.from_s, u),
            None => format!("{:.1} s to the end ({end_s:.1} s)", o.from_s),
        })
        .collect();
    Some(format!(
        "the {} layer's {} store was unavailable ({}): {} requests bypassed the cache and were served by the origin, {} store calls failed",
        l.name,
        l.backend.as_deref().unwrap_or("cache"),
        if windows.is_empty() {
            "briefly".to_owned()
        } else {
            windows.join(", ")
        },
        l.counts.store_bypass,
        l.counts.store_errors,
    ))
}
