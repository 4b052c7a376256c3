//! HTML rendering of a page from its entries, with a real template engine
//! (minijinja). The template prints each entry's `title` and `body` as the
//! Delivery API returns them, so their content tokens reach the page.

use minijinja::value::Serde;
use minijinja::{Environment, context};

const PAGE: &str = r#"<!doctype html>
<html lang="{{ locale }}">
<head><meta charset="utf-8"><title>{{ path }}</title></head>
<body>
{%- if visitor %}
<p class="greeting">Welcome back, {{ visitor }} {{ visitor_token }}</p>
{%- endif %}
{%- for e in entries %}
<section data-entry="{{ e.uid }}">
<h2>{{ e.title }}</h2>
{{ e.body | safe }}
</section>
{%- endfor %}
</body>
</html>
"#;

/// One entry as the template sees it.
#[derive(Debug, serde::Serialize)]
pub struct RenderedEntry {
    /// Entry uid.
    pub uid: String,
    /// Its title (escaped).
    pub title: String,
    /// Its body (HTML from the CMS, not escaped).
    pub body: String,
}

/// The page template, compiled once. Named `.html` so minijinja escapes
/// everything but the CMS bodies marked `safe`.
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut env = Environment::new();
        env.add_template("page.html", PAGE)
            .expect("the page template compiles");
        Renderer { env }
    }
}

impl Renderer {
    /// Renders a page; `visitor` greets the visitor (a per-visitor fragment).
    pub fn page(
        &self,
        path: &str,
        locale: &str,
        entries: &[RenderedEntry],
        visitor: Option<&str>,
    ) -> String {
        let tmpl = self.env.get_template("page.html").expect("registered");
        tmpl.render(context! {
            path,
            locale,
            entries => Serde(entries),
            visitor,
            visitor_token => visitor.map(ttlab_scenarios::token::visitor_token),
        })
        .expect("the page template renders plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_escaping_and_bodies_stay_html() {
        let r = Renderer::default();
        let html = r.page(
            "/",
            "en-us",
            &[RenderedEntry {
                uid: "hero".into(),
                title: "Hero <b> [[ttlab:e=hero;v=base;n=2]]".into(),
                body: "<p>Body [[ttlab:e=hero;v=base;n=2]]</p>".into(),
            }],
            Some("u-1"),
        );
        assert!(
            html.contains("Hero &lt;b&gt; [[ttlab:e=hero;v=base;n=2]]"),
            "{html}"
        );
        assert!(html.contains("<p>Body [[ttlab:e=hero;v=base;n=2]]</p>"));
        let tokens = ttlab_scenarios::token::parse(&html);
        assert_eq!(tokens.entries.len(), 2);
        assert_eq!(tokens.visitors, ["u-1"]);
    }
}
