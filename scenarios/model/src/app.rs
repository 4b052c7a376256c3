//! The team's own app (`[app]`): the placeholders its settings may hold,
//! templates over them, and the environment it is started with.
//!
//! A real run starts the app once per architecture, after that
//! architecture's mocks, so the values (the mocks' URLs, the port picked
//! for the app) are only known then; the scenario holds templates, checked
//! at validation (an unknown placeholder is an error at its line and
//! column) and rendered by the run. One module writes and reads them, so
//! what `ttlab validate` accepts is exactly what a run can render.

use std::fmt;
use std::path::PathBuf;

use crate::time::Micros;

/// A value an app setting may name as `{name}`: the mocks' credentials and
/// addresses, the port ttlab picked for the app, the scenario's locale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{api_key}`: the stack API key the Delivery mock accepts.
    ApiKey,
    /// `{delivery_token}`: the delivery token it accepts.
    DeliveryToken,
    /// `{environment}`: the environment name it accepts.
    Environment,
    /// `{project_uid}`: the Personalize project uid the manifest accepts.
    ProjectUid,
    /// `{personalize_url}`: the Personalize Edge API's base URL.
    PersonalizeUrl,
    /// `{delivery_url}`: the Delivery API host's base URL (without `/v3`).
    DeliveryUrl,
    /// `{delivery_host}`: the Delivery API's host alone (`127.0.0.1`).
    DeliveryHost,
    /// `{delivery_port}`: the Delivery API's port alone.
    DeliveryPort,
    /// `{port}`: a free port on 127.0.0.1 ttlab picked for the app.
    Port,
    /// `{locale}`: the scenario's locale.
    Locale,
}

impl Placeholder {
    /// Every placeholder, in the order the docs list them.
    pub const ALL: [Placeholder; 10] = [
        Placeholder::ApiKey,
        Placeholder::DeliveryToken,
        Placeholder::Environment,
        Placeholder::ProjectUid,
        Placeholder::PersonalizeUrl,
        Placeholder::DeliveryUrl,
        Placeholder::DeliveryHost,
        Placeholder::DeliveryPort,
        Placeholder::Port,
        Placeholder::Locale,
    ];

    /// Its name between the braces.
    pub const fn name(self) -> &'static str {
        match self {
            Placeholder::ApiKey => "api_key",
            Placeholder::DeliveryToken => "delivery_token",
            Placeholder::Environment => "environment",
            Placeholder::ProjectUid => "project_uid",
            Placeholder::PersonalizeUrl => "personalize_url",
            Placeholder::DeliveryUrl => "delivery_url",
            Placeholder::DeliveryHost => "delivery_host",
            Placeholder::DeliveryPort => "delivery_port",
            Placeholder::Port => "port",
            Placeholder::Locale => "locale",
        }
    }

    /// By name.
    pub fn parse(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The `TTLAB_*` variable every app gets with this value (none for
    /// `{port}`, which is `PORT`, the name app frameworks read).
    pub const fn variable(self) -> Option<&'static str> {
        match self {
            Placeholder::ApiKey => Some("TTLAB_API_KEY"),
            Placeholder::DeliveryToken => Some("TTLAB_DELIVERY_TOKEN"),
            Placeholder::Environment => Some("TTLAB_ENVIRONMENT"),
            Placeholder::ProjectUid => Some("TTLAB_PROJECT_UID"),
            Placeholder::PersonalizeUrl => Some("TTLAB_PERSONALIZE_URL"),
            Placeholder::DeliveryUrl => Some("TTLAB_DELIVERY_URL"),
            Placeholder::DeliveryHost => Some("TTLAB_DELIVERY_HOST"),
            Placeholder::DeliveryPort => Some("TTLAB_DELIVERY_PORT"),
            Placeholder::Port => None,
            Placeholder::Locale => Some("TTLAB_LOCALE"),
        }
    }
}

/// The placeholders' names as the docs and messages list them: `{api_key}, …`.
pub fn placeholder_list() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| format!("{{{}}}", p.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values of one architecture's run: its mocks and the app's port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Values {
    /// `{api_key}`.
    pub api_key: String,
    /// `{delivery_token}`.
    pub delivery_token: String,
    /// `{environment}`.
    pub environment: String,
    /// `{project_uid}`.
    pub project_uid: String,
    /// `{personalize_url}`.
    pub personalize_url: String,
    /// `{delivery_url}`.
    pub delivery_url: String,
    /// `{delivery_host}`.
    pub delivery_host: String,
    /// `{delivery_port}`.
    pub delivery_port: u16,
    /// `{port}`.
    pub port: u16,
    /// `{locale}`.
    pub locale: String,
}

impl Values {
    /// The value of `p`, as text.
    pub fn get(&self, p: Placeholder) -> String {
        match p {
            Placeholder::ApiKey => self.api_key.clone(),
            Placeholder::DeliveryToken => self.delivery_token.clone(),
            Placeholder::Environment => self.environment.clone(),
            Placeholder::ProjectUid => self.project_uid.clone(),
            Placeholder::PersonalizeUrl => self.personalize_url.clone(),
            Placeholder::DeliveryUrl => self.delivery_url.clone(),
            Placeholder::DeliveryHost => self.delivery_host.clone(),
            Placeholder::DeliveryPort => self.delivery_port.to_string(),
            Placeholder::Port => self.port.to_string(),
            Placeholder::Locale => self.locale.clone(),
        }
    }

    /// Stand-in values, for checking a template's shape at validation.
    fn sample() -> Values {
        Values {
            api_key: "k".to_owned(),
            delivery_token: "t".to_owned(),
            environment: "e".to_owned(),
            project_uid: "p".to_owned(),
            personalize_url: "http://127.0.0.1:1".to_owned(),
            delivery_url: "http://127.0.0.1:2".to_owned(),
            delivery_host: "127.0.0.1".to_owned(),
            delivery_port: 2,
            port: 3,
            locale: "en-us".to_owned(),
        }
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// A setting's text with `{placeholder}`s; `{{` and `}}` are literal braces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// Why a template does not parse: what, and the byte offset in its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset of the fault in the template's text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl Template {
    /// Parses `text`; an unknown placeholder or a lone brace is an error.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text.char_indices().peekable();
        while let Some((i, c)) = rest.next() {
            match c {
                '{' if rest.peek().is_some_and(|(_, n)| *n == '{') => {
                    rest.next();
                    literal.push('{');
                }
                '}' if rest.peek().is_some_and(|(_, n)| *n == '}') => {
                    rest.next();
                    literal.push('}');
                }
                '{' => {
                    let Some(len) = text[i + 1..].find('}') else {
                        return Err(TemplateError {
                            offset: i,
                            message: "a `{` opens a placeholder that is never closed with `}` (write `{{` for a brace)".to_owned(),
                        });
                    };
                    let name = &text[i + 1..i + 1 + len];
                    let Some(p) = Placeholder::parse(name) else {
                        return Err(TemplateError {
                            offset: i,
                            message: format!(
                                "unknown placeholder `{{{name}}}`; known: {} (write `{{{{` for a brace)",
                                placeholder_list()
                            ),
                        });
                    };
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Value(p));
                    while rest.peek().is_some_and(|(j, _)| *j <= i + 1 + len) {
                        rest.next();
                    }
                }
                '}' => {
                    return Err(TemplateError {
                        offset: i,
                        message: "a `}` closes no placeholder (write `}}` for a brace)".to_owned(),
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template {
            source: text.to_owned(),
            parts,
        })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The text with every placeholder's value.
    pub fn render(&self, values: &Values) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value(p) => out.push_str(&values.get(*p)),
            }
        }
        out
    }

    /// Whether the template names `p`.
    pub fn uses(&self, p: Placeholder) -> bool {
        self.parts.contains(&Part::Value(p))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The app's URL by default: the port ttlab picked, on loopback.
pub const DEFAULT_URL: &str = "http://127.0.0.1:{port}";
/// The path polled until the app answers, by default.
pub const DEFAULT_READY: &str = "/";
/// How long the app may take to answer its first request, by default.
pub const DEFAULT_READY_TIMEOUT: Micros = Micros::from_secs(30);

/// Parses an app URL template: `http://HOST[:PORT]` with placeholders,
/// no path, query or fragment (ttlab requests the scenario's paths on it),
/// and plain HTTP (ttlab's clients speak no TLS; the app runs beside them).
pub fn parse_url(text: &str) -> Result<Template, TemplateError> {
    let t = Template::parse(text)?;
    let bad = |message: String| TemplateError { offset: 0, message };
    let rendered = t.render(&Values::sample());
    let Some(rest) = rendered.strip_prefix("http://") else {
        return Err(bad(if rendered.starts_with("https://") {
            format!(
                "url \"{text}\": ttlab reaches the app over plain HTTP on this machine; write http://"
            )
        } else {
            format!(
                "url \"{text}\" is not an http:// URL; expected http://HOST:PORT such as \"{DEFAULT_URL}\""
            )
        }));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
    {
        return Err(bad(format!(
            "url \"{text}\" must be http://HOST:PORT with no path, query or credentials (ttlab requests the scenario's page paths on it)"
        )));
    }
    // `[v6]` or a name, then an optional `:port`.
    let port = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, "")) => Ok(None),
            Some((_, after)) => after.strip_prefix(':').map(Some).ok_or(()),
            None => Err(()),
        },
        None => Ok(authority.rsplit_once(':').map(|(_, p)| p)),
    };
    let port_ok = match port {
        Ok(None) => true,
        Ok(Some(p)) => p.parse::<u16>().is_ok(),
        Err(()) => false,
    };
    if !port_ok {
        return Err(bad(format!(
            "url \"{text}\": the port must be a number from 0 to 65535 (or {{port}})"
        )));
    }
    Ok(t)
}

/// The team's own app, validated: how to start it, where it answers, how to
/// tell it is up, and how ttlab's edge passes it the variants.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// Run with `sh -c` in its own process group.
    pub command: String,
    /// Where it runs (the scenario's folder unless set; relative to it).
    pub dir: PathBuf,
    /// Where it answers.
    pub url: Template,
    /// The path polled until it answers (any status below 500).
    pub ready: String,
    /// How long that may take.
    pub ready_timeout: Micros,
    /// The query parameter ttlab's edge passes the visitor's variants in.
    pub variant_param: String,
    /// More environment variables, by name, as templates; applied after
    /// the `TTLAB_*` variables and `PORT`, so they may set `PORT`.
    pub env: Vec<(String, Template)>,
}

impl App {
    /// An app run by `command` in `dir` with every other setting's default
    /// (`ttlab run --app CMD` on a scenario without `[app]`).
    pub fn with_command(command: &str, dir: PathBuf) -> App {
        App {
            command: command.to_owned(),
            dir,
            url: parse_url(DEFAULT_URL).expect("the default URL parses"),
            ready: DEFAULT_READY.to_owned(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            variant_param: crate::alias::VARIANT_PARAM.to_owned(),
            env: Vec::new(),
        }
    }

    /// The environment it is started with: every `TTLAB_*` variable, `PORT`,
    /// then its own map (which wins where it names the same variable).
    pub fn environment(&self, values: &Values) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Placeholder::ALL
            .into_iter()
            .filter_map(|p| Some((p.variable()?.to_owned(), values.get(p))))
            .collect();
        out.push(("PORT".to_owned(), values.port.to_string()));
        for (name, t) in &self.env {
            let value = t.render(values);
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => out.push((name.clone(), value)),
            }
        }
        out
    }

    /// Its URL for these values, without a trailing `/`.
    pub fn url_for(&self, values: &Values) -> String {
        self.url.render(values).trim_end_matches('/').to_owned()
    }
}

/// Whether `name` can be an environment variable's name: a letter or `_`,
/// then letters, digits and `_`.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            port: 4321,
            ..Values::sample()
        }
    }

    #[test]
    fn renders_placeholders_and_literal_braces() {
        let t = Template::parse("a {port} {{x}} {locale}").unwrap();
        assert_eq!(t.render(&values()), "a 4321 {x} en-us");
        assert!(t.uses(Placeholder::Port));
        assert!(!t.uses(Placeholder::ApiKey));
        assert_eq!(t.source(), "a {port} {{x}} {locale}");
    }

    #[test]
    fn every_placeholder_reads_back_by_name() {
        for p in Placeholder::ALL {
            let t = Template::parse(&format!("{{{}}}", p.name())).unwrap();
            assert_eq!(t.render(&values()), values().get(p), "{}", p.name());
        }
    }

    #[test]
    fn an_unknown_placeholder_is_found_at_its_offset() {
        let e = Template::parse("ok {port} {apikey}").unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(
            e.message.starts_with("unknown placeholder `{apikey}`"),
            "{}",
            e.message
        );
        assert_eq!(Template::parse("x {port").unwrap_err().offset, 2);
        assert_eq!(Template::parse("x } y").unwrap_err().offset, 2);
    }

    #[test]
    fn urls_are_plain_http_host_and_port() {
        assert!(parse_url(DEFAULT_URL).is_ok());
        assert!(parse_url("http://localhost:3000/").is_ok());
        assert!(parse_url("http://[::1]:{port}").is_ok());
        for bad in [
            "https://127.0.0.1:{port}",
            "127.0.0.1:{port}",
            "http://127.0.0.1:{port}/app",
            "http://127.0.0.1:{port}?a=1",
            "http://",
            "http://127.0.0.1:port",
            "http://127.0.0.1:99999",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_apps_map_comes_after_the_standard_variables() {
        let mut app = App::with_command("true", PathBuf::from("."));
        app.env = vec![
            ("PORT".to_owned(), Template::parse("8080").unwrap()),
            ("KEY".to_owned(), Template::parse("{api_key}").unwrap()),
        ];
        let env = app.environment(&values());
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("PORT"), Some("8080"));
        assert_eq!(get("KEY"), Some("k"));
        assert_eq!(get("TTLAB_DELIVERY_PORT"), Some("2"));
        assert_eq!(get("TTLAB_LOCALE"), Some("en-us"));
        assert_eq!(
            env.iter().filter(|(k, _)| k.starts_with("TTLAB_")).count(),
            9
        );
        assert_eq!(app.url_for(&values()), "http://127.0.0.1:4321");
    }
}
