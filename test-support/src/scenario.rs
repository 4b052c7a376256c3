//! Scenario TOML built from a few calls, so a test states only what differs
//! from the next one: pages, visitors, experiences, timeline, architectures,
//! cache options, thresholds.
//!
//! It builds *text*, not the parsed scenario, on purpose: the scenario
//! crate's own tests use it too, and text needs no ttlab type. Sections come
//! out in one fixed order (scenario, traffic, attributes, experiences,
//! content, other tables, timeline, architectures); within each, in the
//! order the calls came, which is the order the parsed arrays keep.

use std::fmt::{self, Write as _};

/// A scenario under construction; [`ScenarioToml::build`] (or `Display`)
/// gives its TOML.
#[derive(Clone, Debug, Default)]
pub struct ScenarioToml {
    head: Vec<String>,
    traffic: Vec<String>,
    attributes: Vec<String>,
    experiences: Vec<String>,
    content: Vec<String>,
    entries: Vec<String>,
    pages: Vec<String>,
    page_sets: Vec<String>,
    tables: Vec<String>,
    timeline: Vec<String>,
    architectures: Vec<String>,
}

/// `["a", "b"]`: a TOML array of strings.
pub fn strings(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `{ a = 1, b = 2 }`: a TOML inline table of weights, keys kept as written.
pub fn weights(items: &[(&str, u32)]) -> String {
    let pairs: Vec<String> = items.iter().map(|(k, w)| format!("{k} = {w}")).collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// `{ "0" = 50, "1" = 50 }`: variant splits, keys quoted; shares whole
/// or fractional.
pub fn splits<W: fmt::Display>(items: &[(&str, W)]) -> String {
    let pairs: Vec<String> = items.iter().map(|(k, w)| format!("{k:?} = {w}")).collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// `{ attribute = "country", in = ["DE"] }`: an audience of one attribute.
pub fn audience_in(attribute: &str, values: &[&str]) -> String {
    format!("{{ attribute = {attribute:?}, in = {} }}", strings(values))
}

impl ScenarioToml {
    /// A scenario named `name` with `seed` lasting `duration` (e.g. `"60s"`).
    pub fn new(name: &str, seed: u64, duration: &str) -> Self {
        Self::named(name).head(&format!("seed = {seed}\nduration = {duration:?}"))
    }

    /// A scenario named `name` and nothing else set in `[scenario]`.
    pub fn named(name: &str) -> Self {
        ScenarioToml {
            head: vec![format!("name = {name:?}")],
            ..Self::default()
        }
    }

    /// More `key = value` lines in `[scenario]`.
    #[must_use]
    pub fn head(mut self, lines: &str) -> Self {
        self.head.push(lines.trim().to_owned());
        self
    }

    /// `visitors` and `users` in `[traffic]`.
    #[must_use]
    pub fn traffic(self, visitors: u32, users: u32) -> Self {
        self.traffic_lines(&format!("visitors = {visitors}\nusers = {users}"))
    }

    /// More `key = value` lines in `[traffic]` (think time, arrival rate...).
    #[must_use]
    pub fn traffic_lines(mut self, lines: &str) -> Self {
        self.traffic.push(lines.trim().to_owned());
        self
    }

    /// Sessions of `pages` page views with a think time drawn between `min`
    /// and `max`, pages picked by Zipf popularity (s = 1): the closed loop
    /// of the load tests.
    #[must_use]
    pub fn zipf_sessions(self, min: &str, max: &str, pages: u32) -> Self {
        self.traffic_lines(&format!(
            "think_time = {{ min = {min:?}, max = {max:?} }}\npages_per_session = {pages}\npopularity = \"zipf\"\nzipf_s = 1.0"
        ))
    }

    /// An attribute and its values' weights.
    #[must_use]
    pub fn attribute(mut self, name: &str, values: &[(&str, u32)]) -> Self {
        self.attributes
            .push(format!("name = {name:?}\nvalues = {}", weights(values)));
        self
    }

    /// An A/B test with its splits.
    #[must_use]
    pub fn ab<W: fmt::Display>(self, uid: &str, split: &[(&str, W)]) -> Self {
        self.ab_with(uid, split, "")
    }

    /// An A/B test with more lines (`active = false`, `tags = [...]`).
    #[must_use]
    pub fn ab_with<W: fmt::Display>(mut self, uid: &str, split: &[(&str, W)], extra: &str) -> Self {
        let mut block = format!("uid = {uid:?}\ntype = \"ab\"\nsplits = {}", splits(split));
        push_lines(&mut block, extra);
        self.experiences.push(block);
        self
    }

    /// A segmented experience: each variant's uid and audience (TOML; see
    /// [`audience_in`]).
    #[must_use]
    pub fn segmented(self, uid: &str, variants: &[(&str, &str)]) -> Self {
        self.segmented_with(uid, variants, "")
    }

    /// A segmented experience with more lines before its variants.
    #[must_use]
    pub fn segmented_with(mut self, uid: &str, variants: &[(&str, &str)], extra: &str) -> Self {
        let mut block = format!("uid = {uid:?}\ntype = \"segmented\"");
        push_lines(&mut block, extra);
        for (v, audience) in variants {
            let _ = write!(
                block,
                "\n\n[[experiences.variants]]\nuid = {v:?}\naudience = {audience}"
            );
        }
        self.experiences.push(block);
        self
    }

    /// An experience written out (the lines after `[[experiences]]`).
    #[must_use]
    pub fn experience(mut self, body: &str) -> Self {
        self.experiences.push(body.trim().to_owned());
        self
    }

    /// The usual audience: a country attribute (US, DE evenly), an A/B test
    /// (experience `0`, 50/50) and a segment of visitors in DE (experience
    /// `g`, variant `0`).
    #[must_use]
    pub fn audience(self) -> Self {
        self.attribute("country", &[("US", 50), ("DE", 50)])
            .ab("0", &[("0", 50), ("1", 50)])
            .segmented("g", &[("0", &audience_in("country", &["DE"]))])
    }

    /// More `key = value` lines in `[content]`.
    #[must_use]
    pub fn content(mut self, lines: &str) -> Self {
        self.content.push(lines.trim().to_owned());
        self
    }

    /// A content entry; `variants_for` the experiences it has variants for
    /// (none: no `variants_for` line).
    #[must_use]
    pub fn entry(self, uid: &str, content_type: &str, variants_for: &[&str]) -> Self {
        self.entry_with(uid, content_type, variants_for, "")
    }

    /// A content entry with more lines.
    #[must_use]
    pub fn entry_with(
        mut self,
        uid: &str,
        content_type: &str,
        variants_for: &[&str],
        extra: &str,
    ) -> Self {
        let mut block = format!("uid = {uid:?}\ncontent_type = {content_type:?}");
        if !variants_for.is_empty() {
            let _ = write!(block, "\nvariants_for = {}", strings(variants_for));
        }
        push_lines(&mut block, extra);
        self.entries.push(block);
        self
    }

    /// The usual entries: `hero` (variants for experience `0`), `banner`
    /// (for `g`, see [`ScenarioToml::audience`]) and a plain `footer`.
    #[must_use]
    pub fn three_entries(self) -> Self {
        self.entry("hero", "hero", &["0"])
            .entry("banner", "banner", &["g"])
            .entry("footer", "footer", &[])
    }

    /// A page at `path` showing `entries`.
    #[must_use]
    pub fn page(self, path: &str, entries: &[&str]) -> Self {
        self.page_with(path, entries, "")
    }

    /// A page with a per-visitor fragment (`visitor_fragment = true`):
    /// private, never shared.
    #[must_use]
    pub fn visitor_page(self, path: &str, entries: &[&str]) -> Self {
        self.page_with(path, entries, "visitor_fragment = true")
    }

    /// A page with more lines.
    #[must_use]
    pub fn page_with(mut self, path: &str, entries: &[&str], extra: &str) -> Self {
        let mut block = format!("path = {path:?}\nentries = {}", strings(entries));
        push_lines(&mut block, extra);
        self.pages.push(block);
        self
    }

    /// A set of `count` generated pages (`path` holds `{i}`).
    #[must_use]
    pub fn page_set(self, path: &str, count: u32, content_type: &str) -> Self {
        self.page_set_with(path, count, content_type, "")
    }

    /// A set of generated pages with more lines (`shared_entries = [...]`).
    #[must_use]
    pub fn page_set_with(
        mut self,
        path: &str,
        count: u32,
        content_type: &str,
        extra: &str,
    ) -> Self {
        let mut block =
            format!("path = {path:?}\ncount = {count}\ncontent_type = {content_type:?}");
        push_lines(&mut block, extra);
        self.page_sets.push(block);
        self
    }

    /// A table of its own, `[name]` and its lines: `cache`, `origin`,
    /// `thresholds`, `store`...
    #[must_use]
    pub fn table(mut self, name: &str, lines: &str) -> Self {
        self.tables.push(format!("[{name}]\n{}", lines.trim()));
        self
    }

    /// Tables written out (`[faults.delivery]`, `[[faults.personalize.outages]]`...),
    /// where the other tables go.
    #[must_use]
    pub fn raw(mut self, toml: &str) -> Self {
        let toml = toml.trim();
        if !toml.is_empty() {
            self.tables.push(toml.to_owned());
        }
        self
    }

    /// A timeline event written out (the lines after `[[timeline]]`).
    #[must_use]
    pub fn event(mut self, body: &str) -> Self {
        self.timeline.push(body.trim().to_owned());
        self
    }

    /// A publish of `entry` at `at` (e.g. `"10s"`).
    #[must_use]
    pub fn publish(self, entry: &str, at: &str) -> Self {
        self.event(&format!(
            "action = \"publish\"\nentry = {entry:?}\nat = {at:?}"
        ))
    }

    /// Visitors' `attribute` changing every `mean_interval` on average.
    #[must_use]
    pub fn attribute_change(self, attribute: &str, mean_interval: &str) -> Self {
        self.event(&format!(
            "action = \"attribute_change\"\nattribute = {attribute:?}\nmean_interval = {mean_interval:?}"
        ))
    }

    /// Architectures by name, in order.
    #[must_use]
    pub fn archs(mut self, names: &[&str]) -> Self {
        for name in names {
            self.architectures.push(format!("name = {name:?}"));
        }
        self
    }

    /// An architecture with more lines (`cache = { ttl = "1m" }`...).
    #[must_use]
    pub fn arch_with(mut self, name: &str, extra: &str) -> Self {
        let mut block = format!("name = {name:?}");
        push_lines(&mut block, extra);
        self.architectures.push(block);
        self
    }

    /// The TOML text.
    pub fn build(&self) -> String {
        self.to_string()
    }
}

/// Appends `extra`'s lines to a block, when there are any.
fn push_lines(block: &mut String, extra: &str) {
    let extra = extra.trim();
    if !extra.is_empty() {
        block.push('\n');
        block.push_str(extra);
    }
}

impl fmt::Display for ScenarioToml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables = |f: &mut fmt::Formatter<'_>, header: &str, blocks: &[String]| {
            blocks
                .iter()
                .try_for_each(|b| write!(f, "\n{header}\n{b}\n"))
        };
        write!(f, "[scenario]\n{}\n", self.head.join("\n"))?;
        if !self.traffic.is_empty() {
            write!(f, "\n[traffic]\n{}\n", self.traffic.join("\n"))?;
        }
        tables(f, "[[attributes]]", &self.attributes)?;
        tables(f, "[[experiences]]", &self.experiences)?;
        let has_content = !(self.content.is_empty()
            && self.entries.is_empty()
            && self.pages.is_empty()
            && self.page_sets.is_empty());
        if has_content {
            writeln!(f, "\n[content]")?;
            for lines in &self.content {
                writeln!(f, "{lines}")?;
            }
        }
        tables(f, "[[content.entries]]", &self.entries)?;
        tables(f, "[[content.pages]]", &self.pages)?;
        tables(f, "[[content.page_sets]]", &self.page_sets)?;
        for t in &self.tables {
            write!(f, "\n{t}\n")?;
        }
        tables(f, "[[timeline]]", &self.timeline)?;
        tables(f, "[[architectures]]", &self.architectures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_sections_in_order_whatever_the_call_order() {
        let toml = ScenarioToml::new("t", 3, "60s")
            .archs(&["ssr-edge"])
            .publish("hero", "10s")
            .page("/", &["hero"])
            .entry("hero", "hero", &["0"])
            .ab("0", &[("0", 50), ("1", 50)])
            .traffic(10, 1)
            .table("cache", "ttl = \"1m\"")
            .build();
        let expected = r#"[scenario]
name = "t"
seed = 3
duration = "60s"

[traffic]
visitors = 10
users = 1

[[experiences]]
uid = "0"
type = "ab"
splits = { "0" = 50, "1" = 50 }

[content]

[[content.entries]]
uid = "hero"
content_type = "hero"
variants_for = ["0"]

[[content.pages]]
path = "/"
entries = ["hero"]

[cache]
ttl = "1m"

[[timeline]]
action = "publish"
entry = "hero"
at = "10s"

[[architectures]]
name = "ssr-edge"
"#;
        assert_eq!(toml, expected);
    }

    #[test]
    fn segments_write_their_variants_after_the_experience() {
        let toml = ScenarioToml::named("s")
            .segmented_with(
                "g",
                &[("0", &audience_in("country", &["DE"]))],
                "tags = [\"geo\"]",
            )
            .build();
        assert!(
            toml.contains(
                "uid = \"g\"\ntype = \"segmented\"\ntags = [\"geo\"]\n\n[[experiences.variants]]\nuid = \"0\"\naudience = { attribute = \"country\", in = [\"DE\"] }\n"
            ),
            "{toml}"
        );
        assert!(!toml.contains("[content]"), "no content asked: {toml}");
    }
}
