//! Variant aliases, the one place that writes and reads them.
//!
//! Contentstack names a variant of an experience by its alias,
//! `cs_personalize_<experience>_<variant>` (the `x-cs-variant-uid` header,
//! content tokens, publish details), and the Personalize SDK's URL param by
//! the short form `<experience>_<variant>`. The world writes them, the mock
//! Delivery API and the checker read them; all of them go through here so a
//! written alias always reads back as the variant it names.
//!
//! The uids in an alias are letters and digits only ([`is_uid`], enforced by
//! validation), so the first `_` after the prefix separates them. Parsing
//! borrows from its input: the checker reads an alias per content token, on
//! the simulator's hot path, and must not allocate.

/// The query parameter the SDK's `getVariantParam()` value travels in, and
/// ttlab's edge passes the visitor's variants to the origin in (an app's
/// `[app] variant_param` by default).
pub const VARIANT_PARAM: &str = "personalize_variants";

/// What every alias starts with.
pub const PREFIX: &str = "cs_personalize_";

/// Separates experience and variant uid, in aliases and short forms.
const SEPARATOR: char = '_';

/// Whether `s` may be an experience or variant uid inside an alias: letters
/// and digits only, since `_` separates the uids of an alias and `,` the
/// items of a header or URL param.
pub fn is_uid(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The alias of variant `variant` of experience `experience`:
/// `cs_personalize_<experience>_<variant>`.
pub fn format(experience: &str, variant: &str) -> String {
    format!("{PREFIX}{experience}{SEPARATOR}{variant}")
}

/// The short form of a variant, as the SDK's URL param lists it:
/// `<experience>_<variant>`.
pub fn format_short(experience: &str, variant: &str) -> String {
    format!("{experience}{SEPARATOR}{variant}")
}

/// The (experience uid, variant uid) an alias names; `None` when `alias`
/// is not shaped like one.
pub fn parse(alias: &str) -> Option<(&str, &str)> {
    parse_short(alias.strip_prefix(PREFIX)?)
}

/// The (experience uid, variant uid) a short form names; `None` when `short`
/// has no separator.
pub fn parse_short(short: &str) -> Option<(&str, &str)> {
    short.split_once(SEPARATOR)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn writes_the_contentstack_shape() {
        assert_eq!(format("0", "1"), "cs_personalize_0_1");
        assert_eq!(format_short("a", "2"), "a_2");
    }

    #[test]
    fn rejects_what_is_not_an_alias() {
        assert_eq!(parse("0_1"), None);
        assert_eq!(parse("cs_personalize_01"), None);
        assert_eq!(parse("cs_personalize0_1"), None);
        assert_eq!(parse_short("01"), None);
        assert!(!is_uid(""));
        assert!(!is_uid("a_b"));
        assert!(!is_uid("a,b"));
    }

    proptest! {
        #[test]
        fn parse_reads_back_what_format_wrote(
            experience in "[a-zA-Z0-9]{1,8}",
            variant in "[a-zA-Z0-9]{1,8}",
        ) {
            prop_assert!(is_uid(&experience) && is_uid(&variant));
            let alias = format(&experience, &variant);
            prop_assert_eq!(parse(&alias), Some((experience.as_str(), variant.as_str())));
            let short = format_short(&experience, &variant);
            prop_assert_eq!(parse_short(&short), Some((experience.as_str(), variant.as_str())));
            prop_assert_eq!(alias.strip_prefix(PREFIX), Some(short.as_str()));
        }
    }
}
