//! `[app]`: the team's own app. Its templates are parsed here, so an
//! unknown placeholder is an error at its own line and column, and what
//! validates is exactly what a real run can render (`crate::app`).

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use crate::app::{
    self, App, DEFAULT_READY, DEFAULT_READY_TIMEOUT, Template, TemplateError, is_variable_name,
};
use crate::bounds::MAX_READY_TIMEOUT;
use crate::spec::AppSpec;
use crate::time::Micros;

use super::{Cx, sp};

impl Cx {
    /// The validated `[app]`, if the file has one.
    pub(super) fn app(&mut self, spec: Option<&Spanned<AppSpec>>) -> Option<App> {
        let a = spec?.get_ref();
        let command = a.command.get_ref().trim();
        if command.is_empty() {
            self.err(
                sp(&a.command),
                "command must say how to start the app, e.g. \"node server.mjs\" or \"npm start\"",
            );
        }
        let base = self.base.clone().unwrap_or_else(|| PathBuf::from("."));
        let dir = match &a.dir {
            None => base,
            Some(d) => {
                let dir = base.join(d.get_ref());
                if !dir.is_dir() {
                    self.err(
                        sp(d),
                        format!(
                            "dir \"{}\" is not a folder ({} from here; dir is relative to the scenario file's folder)",
                            d.get_ref(),
                            dir.display()
                        ),
                    );
                }
                dir
            }
        };
        let url = match &a.url {
            None => app::parse_url(app::DEFAULT_URL).expect("the default URL parses"),
            Some(u) => self.template(u, app::parse_url)?,
        };
        let ready = a.ready.as_ref().map_or(DEFAULT_READY.to_owned(), |r| {
            let v = r.get_ref();
            if !v.starts_with('/') || v.chars().any(char::is_whitespace) {
                self.err(
                    sp(r),
                    format!("ready must be a path starting with \"/\", such as \"/\" or \"/health\", got \"{v}\""),
                );
            }
            v.clone()
        });
        let ready_timeout = a.ready_timeout.as_ref().map_or(DEFAULT_READY_TIMEOUT, |t| {
            let v = t.get_ref().0;
            if v == Micros::ZERO {
                self.err(
                    sp(t),
                    "ready_timeout must be longer than 0s: the app needs some time to start",
                );
            } else if v > MAX_READY_TIMEOUT {
                self.err(
                    sp(t),
                    format!("ready_timeout must be at most {MAX_READY_TIMEOUT} (an app that has not answered by then is not starting), got {v}"),
                );
            }
            v
        });
        let variant_param = a
            .variant_param
            .as_ref()
            .map_or(crate::alias::VARIANT_PARAM.to_owned(), |p| {
                let v = p.get_ref();
                if v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                {
                    self.err(
                        sp(p),
                        format!("variant_param must be a query parameter name (letters, digits, '_', '-', '.'), got \"{v}\""),
                    );
                }
                v.clone()
            });
        let mut env = Vec::new();
        for (name, value) in &a.env {
            let n = name.get_ref();
            if !is_variable_name(n) {
                self.err(
                    sp(name),
                    format!("\"{n}\" is not an environment variable name (a letter or '_', then letters, digits and '_')"),
                );
            } else if n.starts_with("TTLAB_") {
                self.err(
                    sp(name),
                    format!("{n}: ttlab sets the TTLAB_ variables itself; name the variable your app reads, with a placeholder as its value"),
                );
            }
            if let Some(t) = self.template(value, Template::parse) {
                env.push((n.clone(), t));
            }
        }
        Some(App {
            command: command.to_owned(),
            dir,
            url,
            ready,
            ready_timeout,
            variant_param,
            env,
        })
    }

    /// A template parsed by `parse`; a problem points at the fault inside
    /// the text when the text is written without escapes, else at the value.
    fn template(
        &mut self,
        value: &Spanned<String>,
        parse: fn(&str) -> Result<Template, TemplateError>,
    ) -> Option<Template> {
        match parse(value.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                let at = self.inside(sp(value), value.get_ref(), e.offset);
                self.err(at, e.message);
                None
            }
        }
    }

    /// Where byte `offset` of a string value is in the file: inside the
    /// quotes when the value is written as it reads (no escapes, one line),
    /// else the value's start.
    fn inside(&self, span: Range<usize>, value: &str, offset: usize) -> Range<usize> {
        let raw = self.source.get(span.clone()).unwrap_or("");
        let plain = ["\"", "'"].iter().any(|q| {
            raw.len() >= 2
                && raw.starts_with(q)
                && raw.ends_with(q)
                && !raw.starts_with(&q.repeat(3))
                && &raw[1..raw.len() - 1] == value
        });
        if plain {
            let at = span.start + 1 + offset;
            at..at + 1
        } else {
            span
        }
    }
}
