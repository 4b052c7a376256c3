//! The scenarios ttlab ships, embedded so the binary runs them from anywhere
//! (`ttlab run quickstart` works without the repository).

/// A shipped scenario.
#[derive(Clone, Copy, Debug)]
pub struct Shipped {
    /// Name (the file stem).
    pub name: &'static str,
    /// Path in the repository.
    pub path: &'static str,
    /// The file's text.
    pub source: &'static str,
}

macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        /// Every shipped scenario, in the order `ttlab scenarios` lists them.
        pub const SHIPPED: &[Shipped] = &[$(Shipped {
            name: $name,
            path: concat!("scenarios/", $name, ".toml"),
            source: include_str!(concat!("../../", $name, ".toml")),
        }),*];
    };
}

shipped!(
    "quickstart",
    "ab-home",
    "geo-segments",
    "login-storm",
    "flash-sale",
    "experiment-rollout",
    "upstream-faults",
    "redis-replicas",
);

/// A shipped scenario by name.
pub fn get(name: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|s| s.name == name)
}

/// The question a shipped scenario answers: the first paragraph of its comment header.
pub fn question(s: &Shipped) -> String {
    s.source
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
