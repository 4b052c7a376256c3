//! What each architecture is made of: which servers a visitor's request
//! passes through, which of them caches and on what key, and who asks
//! Personalize for the visitor's variants, and when.
//!
//! This is the one table of those facts. The real servers (the stack
//! builder, the CDN or edge proxy, the origin), real runs and the simulator
//! all read a [`Topology`] instead of matching on [`Architecture`]
//! themselves, so the simulator cannot drift from the servers it models.
//! Adding an architecture is this module alone: a variant of
//! [`Architecture`] with its name, one arm in [`Topology::of`], and its row
//! in the table test below.

/// The architectures of `docs/architecture.md`: five made of ttlab's own
/// servers, and `as-is`, the team's own app judged with nothing of ttlab's
/// in front of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Architecture {
    /// No cache; Personalize on every request.
    NoCache,
    /// Shared CDN keyed by URL only.
    CdnShared,
    /// CDN keyed by URL + visitor uid.
    CdnUser,
    /// Origin cache keyed by URL + variant aliases.
    OriginVariant,
    /// Edge calls Personalize; cache keyed by URL + variant param.
    Edge,
    /// The team's own app (`[app]`), requested directly: no ttlab layer.
    AsIs,
}

impl Architecture {
    /// Every architecture, in the order `docs/architecture.md` lists them.
    pub const ALL: [Architecture; 6] = [
        Architecture::NoCache,
        Architecture::CdnShared,
        Architecture::CdnUser,
        Architecture::OriginVariant,
        Architecture::Edge,
        Architecture::AsIs,
    ];

    /// The name scenario files and reports use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Architecture::NoCache => "ssr-nocache",
            Architecture::CdnShared => "ssr-cdn-shared",
            Architecture::CdnUser => "ssr-cdn-user",
            Architecture::OriginVariant => "ssr-origin-variant",
            Architecture::Edge => "ssr-edge",
            Architecture::AsIs => "as-is",
        }
    }

    /// By name.
    pub fn parse(name: &str) -> Option<Architecture> {
        Architecture::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Variant-key scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// Every alias of the visitor.
    All,
    /// Aliases of experiences the page's entries have variants for.
    Page,
}

/// The topology's answers on the architecture itself, for code that holds
/// only the name (summaries, `serve`). They live here, not beside the
/// architecture's name in the model, so that the model does not depend on
/// the topology that depends on it.
impl Architecture {
    /// Its servers and who does what in them (variant keys in scope
    /// `All`; [`ArchitectureConfig::topology`](crate::model::ArchitectureConfig::topology) for a configured architecture).
    pub const fn topology(self) -> Topology {
        Topology::of(self, KeyScope::All)
    }

    /// Whether the architecture has a caching layer.
    pub const fn caches(self) -> bool {
        self.topology().caches()
    }

    /// Whether the architecture may run in front of the team's own app
    /// (`[app]`) instead of ttlab's origin.
    pub const fn takes_app(self) -> bool {
        self.topology().origin_by.takes_app()
    }

    /// Whether the architecture is nothing without the team's own app.
    pub const fn needs_app(self) -> bool {
        self.topology().origin_by.needs_app()
    }

    /// The architectures that may run with `[app]`, by name, for messages.
    pub fn with_app() -> Vec<&'static str> {
        Architecture::ALL
            .into_iter()
            .filter(|a| a.takes_app())
            .map(Architecture::as_str)
            .collect()
    }

    /// What its cache key holds, for summaries.
    pub const fn key_description(self) -> &'static str {
        self.topology().key_description()
    }
}

/// Which variance a caching layer keys on, beside the URL.
///
/// It lives with the topology because it is part of what an architecture
/// is; the cache library turns it into key bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStrategy {
    /// URL only.
    Url,
    /// URL + visitor uid.
    UrlVisitor,
    /// URL + variant set in this scope.
    UrlVariants(KeyScope),
}

impl KeyStrategy {
    /// Whether one stored entry can be served to more than one visitor: a
    /// page made for one visitor must then never be stored.
    pub const fn shared(self) -> bool {
        !matches!(self, KeyStrategy::UrlVisitor)
    }

    /// What the key holds, in words, for summaries and `ttlab serve`.
    pub const fn description(self) -> &'static str {
        match self {
            KeyStrategy::Url => "URL",
            KeyStrategy::UrlVisitor => "URL + visitor uid",
            KeyStrategy::UrlVariants(_) => "URL + variants",
        }
    }
}

/// What a server does in a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A CDN in front of the origin: caches whole URLs, never personalizes.
    Cdn,
    /// An edge in front of the origin: asks Personalize and passes the
    /// variants to the origin in the URL (`personalize_variants`).
    Edge,
    /// The SSR origin: renders pages.
    Origin,
}

impl Role {
    /// The server's name: its part of `x-cache` (`cdn=HIT`), its metrics
    /// prefix and its name in logs and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Cdn => "cdn",
            Role::Edge => "edge",
            Role::Origin => "origin",
        }
    }
}

/// One server a visitor's request passes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// What it does.
    pub role: Role,
    /// What its cache keys on, when it caches.
    pub key: Option<KeyStrategy>,
}

/// Whose server plays the origin role.
///
/// ttlab's CDN and edge only forward to an origin and cache what it
/// answers, so they stand in front of any origin; an origin cache, or no
/// layer at all, is a behaviour of ttlab's own origin, which the team's app
/// cannot take on. `as-is` is the app with nothing in front.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginBy {
    /// ttlab's reference origin only.
    Ttlab,
    /// ttlab's origin, or the team's own app (`[app]`).
    TtlabOrApp,
    /// The team's own app only.
    App,
}

impl OriginBy {
    /// Whether the team's app may play the origin.
    pub const fn takes_app(self) -> bool {
        !matches!(self, OriginBy::Ttlab)
    }

    /// Whether only the team's app can play it.
    pub const fn needs_app(self) -> bool {
        matches!(self, OriginBy::App)
    }
}

/// When Personalize answers, relative to the caching layer's lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonalizeAt {
    /// Before the lookup: every request asks, and the key may hold the
    /// variants (no cache, the origin's cache, the edge).
    BeforeLookup,
    /// When the origin behind the cache renders a fill: only fills ask
    /// (behind a CDN).
    OnFill,
}

/// The servers of one architecture and who does what in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topology {
    /// The architecture it describes.
    pub arch: Architecture,
    /// The proxy in front of the origin (a CDN or an edge), if any: the
    /// server visitors reach first.
    pub front: Option<Layer>,
    /// The origin, always there, innermost.
    pub origin: Layer,
    /// Who asks Personalize for a visitor's variants: the origin or the edge.
    pub personalize_by: Role,
    /// When that answer comes, relative to the cache lookup.
    pub personalize_at: PersonalizeAt,
    /// Whose server the origin is: ttlab's, the team's app, or either.
    pub origin_by: OriginBy,
}

impl Topology {
    /// The table: the topology of `arch`, its variant keys (if any) in `scope`.
    pub const fn of(arch: Architecture, scope: KeyScope) -> Topology {
        const fn plain(role: Role) -> Layer {
            Layer { role, key: None }
        }
        const fn caching(role: Role, key: KeyStrategy) -> Layer {
            Layer {
                role,
                key: Some(key),
            }
        }
        let (front, origin, personalize_by, personalize_at, origin_by) = match arch {
            Architecture::NoCache => (
                None,
                plain(Role::Origin),
                Role::Origin,
                PersonalizeAt::BeforeLookup,
                OriginBy::Ttlab,
            ),
            Architecture::CdnShared => (
                Some(caching(Role::Cdn, KeyStrategy::Url)),
                plain(Role::Origin),
                Role::Origin,
                PersonalizeAt::OnFill,
                OriginBy::TtlabOrApp,
            ),
            Architecture::CdnUser => (
                Some(caching(Role::Cdn, KeyStrategy::UrlVisitor)),
                plain(Role::Origin),
                Role::Origin,
                PersonalizeAt::OnFill,
                OriginBy::TtlabOrApp,
            ),
            Architecture::OriginVariant => (
                None,
                caching(Role::Origin, KeyStrategy::UrlVariants(scope)),
                Role::Origin,
                PersonalizeAt::BeforeLookup,
                OriginBy::Ttlab,
            ),
            Architecture::Edge => (
                Some(caching(Role::Edge, KeyStrategy::UrlVariants(scope))),
                plain(Role::Origin),
                Role::Edge,
                PersonalizeAt::BeforeLookup,
                OriginBy::TtlabOrApp,
            ),
            // The app asks Personalize itself (its own SDK) on every request.
            Architecture::AsIs => (
                None,
                plain(Role::Origin),
                Role::Origin,
                PersonalizeAt::BeforeLookup,
                OriginBy::App,
            ),
        };
        Topology {
            arch,
            front,
            origin,
            personalize_by,
            personalize_at,
            origin_by,
        }
    }

    /// The servers a request passes through, outermost first.
    pub fn layers(self) -> impl Iterator<Item = Layer> {
        self.front.into_iter().chain(std::iter::once(self.origin))
    }

    /// The caching layer (the outermost layer that caches), if any.
    pub const fn cache(self) -> Option<Layer> {
        match self.front {
            Some(f) if f.key.is_some() => Some(f),
            _ if self.origin.key.is_some() => Some(self.origin),
            _ => None,
        }
    }

    /// What the caching layer keys on, if there is one.
    pub const fn cache_key(self) -> Option<KeyStrategy> {
        match self.cache() {
            Some(l) => l.key,
            None => None,
        }
    }

    /// The caching layer's name in `x-cache`, if there is one.
    pub const fn cache_name(self) -> Option<&'static str> {
        match self.cache() {
            Some(l) => Some(l.role.name()),
            None => None,
        }
    }

    /// Whether the architecture has a caching layer.
    pub const fn caches(self) -> bool {
        self.cache().is_some()
    }

    /// What its cache key holds, for summaries.
    pub const fn key_description(self) -> &'static str {
        match self.cache_key() {
            Some(k) => k.description(),
            None => "no cache",
        }
    }

    /// Whether every visitor request reaches the origin (nothing in front
    /// of it), rather than only the front layer's fills.
    pub const fn origin_sees_every_request(self) -> bool {
        self.front.is_none()
    }

    /// Whether the origin asks Personalize itself; otherwise it reads the
    /// variants the edge put in the URL.
    pub const fn origin_personalizes(self) -> bool {
        matches!(self.personalize_by, Role::Origin)
    }

    /// Whether the front layer asks Personalize (the edge): whoever is not
    /// the origin and asks is in front of it.
    pub const fn front_personalizes(self) -> bool {
        self.front.is_some() && !self.origin_personalizes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of the table as plain facts, to compare whole.
    #[derive(Debug, PartialEq)]
    struct Row {
        layers: Vec<(&'static str, Option<KeyStrategy>)>,
        cache: Option<&'static str>,
        key: &'static str,
        personalize_by: &'static str,
        personalize_at: PersonalizeAt,
        origin_sees_every_request: bool,
        origin_personalizes: bool,
        front_personalizes: bool,
        origin_by: OriginBy,
    }

    fn row(t: Topology) -> Row {
        Row {
            layers: t.layers().map(|l| (l.role.name(), l.key)).collect(),
            cache: t.cache_name(),
            key: t.key_description(),
            personalize_by: t.personalize_by.name(),
            personalize_at: t.personalize_at,
            origin_sees_every_request: t.origin_sees_every_request(),
            origin_personalizes: t.origin_personalizes(),
            front_personalizes: t.front_personalizes(),
            origin_by: t.origin_by,
        }
    }

    #[test]
    fn the_table_pins_every_architecture() {
        use KeyStrategy::{Url, UrlVariants, UrlVisitor};
        use PersonalizeAt::{BeforeLookup, OnFill};
        for scope in [KeyScope::All, KeyScope::Page] {
            let expected = |arch| match arch {
                Architecture::NoCache => Row {
                    layers: vec![("origin", None)],
                    cache: None,
                    key: "no cache",
                    personalize_by: "origin",
                    personalize_at: BeforeLookup,
                    origin_sees_every_request: true,
                    origin_personalizes: true,
                    front_personalizes: false,
                    origin_by: OriginBy::Ttlab,
                },
                Architecture::CdnShared => Row {
                    layers: vec![("cdn", Some(Url)), ("origin", None)],
                    cache: Some("cdn"),
                    key: "URL",
                    personalize_by: "origin",
                    personalize_at: OnFill,
                    origin_sees_every_request: false,
                    origin_personalizes: true,
                    front_personalizes: false,
                    origin_by: OriginBy::TtlabOrApp,
                },
                Architecture::CdnUser => Row {
                    layers: vec![("cdn", Some(UrlVisitor)), ("origin", None)],
                    cache: Some("cdn"),
                    key: "URL + visitor uid",
                    personalize_by: "origin",
                    personalize_at: OnFill,
                    origin_sees_every_request: false,
                    origin_personalizes: true,
                    front_personalizes: false,
                    origin_by: OriginBy::TtlabOrApp,
                },
                Architecture::OriginVariant => Row {
                    layers: vec![("origin", Some(UrlVariants(scope)))],
                    cache: Some("origin"),
                    key: "URL + variants",
                    personalize_by: "origin",
                    personalize_at: BeforeLookup,
                    origin_sees_every_request: true,
                    origin_personalizes: true,
                    front_personalizes: false,
                    origin_by: OriginBy::Ttlab,
                },
                Architecture::Edge => Row {
                    layers: vec![("edge", Some(UrlVariants(scope))), ("origin", None)],
                    cache: Some("edge"),
                    key: "URL + variants",
                    personalize_by: "edge",
                    personalize_at: BeforeLookup,
                    origin_sees_every_request: false,
                    origin_personalizes: false,
                    front_personalizes: true,
                    origin_by: OriginBy::TtlabOrApp,
                },
                Architecture::AsIs => Row {
                    layers: vec![("origin", None)],
                    cache: None,
                    key: "no cache",
                    personalize_by: "origin",
                    personalize_at: BeforeLookup,
                    origin_sees_every_request: true,
                    origin_personalizes: true,
                    front_personalizes: false,
                    origin_by: OriginBy::App,
                },
            };
            for arch in Architecture::ALL {
                let t = Topology::of(arch, scope);
                assert_eq!(t.arch, arch);
                assert_eq!(row(t), expected(arch), "{arch} with scope {scope:?}");
                // What the servers and the simulator rely on: a proxy is a
                // cache, and there is at most one caching layer (the
                // simulator models one, reports count one).
                assert!(t.front.is_none_or(|f| f.key.is_some()), "{arch}");
                assert!(
                    t.layers().filter(|l| l.key.is_some()).count() <= 1,
                    "{arch}"
                );
                assert_eq!(t.caches(), arch.caches(), "{arch}");
                assert_eq!(t.key_description(), arch.key_description(), "{arch}");
                // The team's app stands behind a front layer, or alone.
                assert!(
                    !t.origin_by.takes_app() || t.front.is_some() || t.origin_by.needs_app(),
                    "{arch}"
                );
            }
        }
    }

    #[test]
    fn the_app_runs_behind_ttlabs_cdn_or_edge_or_as_is() {
        assert_eq!(
            Architecture::with_app(),
            ["ssr-cdn-shared", "ssr-cdn-user", "ssr-edge", "as-is"]
        );
        let needs: Vec<_> = Architecture::ALL
            .into_iter()
            .filter(|a| a.needs_app())
            .map(Architecture::as_str)
            .collect();
        assert_eq!(needs, ["as-is"]);
        assert_eq!(
            Architecture::parse("as-is").map(Architecture::needs_app),
            Some(true)
        );
    }

    #[test]
    fn only_shared_keys_may_store_one_visitors_page() {
        assert!(KeyStrategy::Url.shared());
        assert!(KeyStrategy::UrlVariants(KeyScope::Page).shared());
        assert!(!KeyStrategy::UrlVisitor.shared());
    }
}
