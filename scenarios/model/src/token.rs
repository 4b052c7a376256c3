//! Content tokens: the marks inside rendered text that say what a page was
//! built from, so that any origin rendering the mock Delivery API's fields —
//! even one ttlab did not write — produces pages the checker can judge.
//!
//! An entry token names entry, served variant and version:
//! `[[ttlab:e=home_hero;v=cs_personalize_0_1;n=3]]` (`v=base` for the base
//! entry). A visitor token marks a per-visitor fragment:
//! `[[ttlab:visitor=<uid>]]`. The characters used survive HTML escaping.

use std::fmt;

/// What one entry in a page was rendered from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntryToken {
    /// Entry uid.
    pub entry: String,
    /// The variant alias served, or `None` for the base entry.
    pub variant: Option<String>,
    /// The entry version as served.
    pub version: u32,
}

impl fmt::Display for EntryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[[ttlab:e={};v={};n={}]]",
            self.entry,
            self.variant.as_deref().unwrap_or("base"),
            self.version
        )
    }
}

/// The visitor-identity mark of a per-visitor fragment.
pub fn visitor_token(uid: &str) -> String {
    format!("[[ttlab:visitor={uid}]]")
}

/// Every token found in a text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Entry tokens, in order of appearance (duplicates kept).
    pub entries: Vec<EntryToken>,
    /// Visitor uids of per-visitor fragments.
    pub visitors: Vec<String>,
}

/// Finds the tokens in `text`. Malformed marks are skipped, not errors: a
/// page may quote text that looks like a token.
pub fn parse(text: &str) -> Tokens {
    let mut out = Tokens::default();
    let mut rest = text;
    while let Some(start) = rest.find("[[ttlab:") {
        let body_start = start + "[[ttlab:".len();
        let Some(len) = rest[body_start..].find("]]") else {
            break;
        };
        let body = &rest[body_start..body_start + len];
        rest = &rest[body_start + len + 2..];
        if let Some(uid) = body.strip_prefix("visitor=") {
            out.visitors.push(uid.to_owned());
            continue;
        }
        let mut entry = None;
        let mut variant = None;
        let mut version = None;
        for part in body.split(';') {
            match part.split_once('=') {
                Some(("e", v)) => entry = Some(v.to_owned()),
                Some(("v", "base")) => variant = Some(None),
                Some(("v", v)) => variant = Some(Some(v.to_owned())),
                Some(("n", v)) => version = v.parse().ok(),
                _ => {}
            }
        }
        if let (Some(entry), Some(variant), Some(version)) = (entry, variant, version) {
            out.entries.push(EntryToken {
                entry,
                variant,
                version,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_text() {
        let a = EntryToken {
            entry: "home_hero".into(),
            variant: Some("cs_personalize_0_1".into()),
            version: 3,
        };
        let b = EntryToken {
            entry: "footer".into(),
            variant: None,
            version: 1,
        };
        let page = format!(
            "<h1>Hi {a}</h1><p>{}</p><footer>{b} [[ttlab:broken]] [[ttlab:e=x;n=2]]",
            visitor_token("u-1")
        );
        let t = parse(&page);
        assert_eq!(t.entries, vec![a, b]);
        assert_eq!(t.visitors, vec!["u-1".to_owned()]);
        assert_eq!(parse("no tokens [[ttlab:e=x").entries, vec![]);
    }
}
