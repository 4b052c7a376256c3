//! Content type schemas: each field's kind read from the JSON the CLI
//! writes (`data_type` and the `field_metadata` flags that refine it), with
//! groups, modular blocks and global fields nested, so the mock can walk an
//! entry's values knowing what each one is.

use serde_json::{Map, Value};

/// How a `text` field is edited and stored: all are strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextStyle {
    /// Single line.
    Plain,
    /// Multi-line plain text.
    Multiline,
    /// Markdown source.
    Markdown,
    /// HTML from the rich text editor.
    Html,
}

/// What one field holds.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    /// A string: single or multi-line, markdown or HTML rich text.
    Text(TextStyle),
    /// A string chosen from a list (select: dropdown, radio, checkbox).
    Select,
    /// The entry's URL (`uid` "url"): an address, never text to mark.
    Url,
    /// A number.
    Number,
    /// True or false.
    Boolean,
    /// An ISO 8601 date.
    Date,
    /// An asset (entries store its uid; the Delivery API answers the asset).
    File,
    /// `{title, href}`.
    Link,
    /// The JSON rich text editor's document tree.
    JsonRte,
    /// Nested fields, one object (an array when `multiple`).
    Group(Vec<Field>),
    /// Modular blocks: an array of `{<block uid>: {fields}}`.
    Blocks(Vec<Block>),
    /// References to entries of these content types.
    Reference(Vec<String>),
    /// A global field's fields, stored as one object.
    Global {
        /// The global field's uid.
        uid: String,
        /// Its fields, resolved from `global_fields/`.
        schema: Vec<Field>,
    },
    /// Taxonomy terms: served as stored.
    Taxonomy,
    /// A custom field (an extension): served as stored, never marked.
    Custom,
    /// A `data_type` this version does not know: served as stored, and
    /// listed by `ttlab validate`.
    Unsupported(String),
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The key of its value in an entry.
    pub uid: String,
    /// As the editor shows it.
    pub display_name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// Holds an array of values.
    pub multiple: bool,
}

/// One block type of a modular blocks field.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The key wrapping the block's fields in an entry.
    pub uid: String,
    /// As the editor shows it.
    pub title: String,
    /// Its fields (a global field's, when the block is one).
    pub schema: Vec<Field>,
}

impl Field {
    /// Whether a content token may be added to this field's string values:
    /// text a page shows, never an address, a choice from a list, or a
    /// custom field's data.
    pub fn carries_token(&self) -> bool {
        matches!(self.kind, FieldKind::Text(_) | FieldKind::JsonRte)
    }
}

/// Global fields by uid, to resolve `global_field` references.
pub(crate) type Globals<'a> = &'a dyn Fn(&str) -> Option<Vec<Field>>;

/// The fields of a `schema` array. `at` names where it is, for messages.
pub(crate) fn fields(schema: &Value, globals: Globals<'_>, at: &str) -> Result<Vec<Field>, String> {
    let Value::Array(items) = schema else {
        return Err(format!("{at}: `schema` must be an array of fields"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, f)| field(f, globals, &format!("{at}[{i}]")))
        .collect()
}

fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

fn flag(m: Option<&Value>, key: &str) -> bool {
    m.and_then(|m| m.get(key)).and_then(Value::as_bool) == Some(true)
}

fn field(f: &Value, globals: Globals<'_>, at: &str) -> Result<Field, String> {
    let Value::Object(m) = f else {
        return Err(format!("{at}: a field must be an object"));
    };
    let uid = str_of(m, "uid")
        .ok_or_else(|| format!("{at}: a field needs a string `uid`"))?
        .to_owned();
    let at = format!("{at} ({uid})");
    let data_type = str_of(m, "data_type")
        .ok_or_else(|| format!("{at}: a field needs a string `data_type`"))?;
    let meta = m.get("field_metadata");
    let custom = m.contains_key("extension_uid");
    let kind = match data_type {
        _ if custom => FieldKind::Custom,
        "text" if uid == "url" => FieldKind::Url,
        "text" if m.contains_key("enum") => FieldKind::Select,
        "text" if flag(meta, "allow_rich_text") => FieldKind::Text(TextStyle::Html),
        "text" if flag(meta, "markdown") => FieldKind::Text(TextStyle::Markdown),
        "text" if flag(meta, "multiline") => FieldKind::Text(TextStyle::Multiline),
        "text" => FieldKind::Text(TextStyle::Plain),
        "number" => FieldKind::Number,
        "boolean" => FieldKind::Boolean,
        "isodate" => FieldKind::Date,
        "file" => FieldKind::File,
        "link" => FieldKind::Link,
        "json" if flag(meta, "allow_json_rte") => FieldKind::JsonRte,
        "json" => FieldKind::Custom,
        "taxonomy" => FieldKind::Taxonomy,
        "group" => FieldKind::Group(fields(
            m.get("schema").unwrap_or(&Value::Array(Vec::new())),
            globals,
            &at,
        )?),
        "blocks" => {
            let Some(Value::Array(blocks)) = m.get("blocks") else {
                return Err(format!("{at}: a blocks field needs a `blocks` array"));
            };
            let mut out = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.iter().enumerate() {
                let Value::Object(b) = b else {
                    return Err(format!("{at}.blocks[{i}]: a block must be an object"));
                };
                let buid = str_of(b, "uid")
                    .ok_or_else(|| format!("{at}.blocks[{i}]: a block needs a string `uid`"))?;
                let schema = match (b.get("schema"), str_of(b, "reference_to")) {
                    (Some(s), _) => fields(s, globals, &format!("{at}.blocks[{i}]"))?,
                    (None, Some(gf)) => globals(gf).ok_or_else(|| {
                        format!("{at}.blocks[{i}]: global field \"{gf}\" is not in global_fields/")
                    })?,
                    (None, None) => Vec::new(),
                };
                out.push(Block {
                    uid: buid.to_owned(),
                    title: str_of(b, "title").unwrap_or(buid).to_owned(),
                    schema,
                });
            }
            FieldKind::Blocks(out)
        }
        "reference" => FieldKind::Reference(match m.get("reference_to") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }),
        "global_field" => {
            let gf = str_of(m, "reference_to")
                .ok_or_else(|| format!("{at}: a global_field needs `reference_to`"))?;
            let schema = match m.get("schema") {
                Some(s) if s.as_array().is_some_and(|a| !a.is_empty()) => fields(s, globals, &at)?,
                _ => globals(gf).ok_or_else(|| {
                    format!("{at}: global field \"{gf}\" is not in global_fields/")
                })?,
            };
            FieldKind::Global {
                uid: gf.to_owned(),
                schema,
            }
        }
        other => FieldKind::Unsupported(other.to_owned()),
    };
    let multiple = m.get("multiple").and_then(Value::as_bool) == Some(true)
        || (matches!(kind, FieldKind::Reference(_)) && flag(meta, "ref_multiple"));
    Ok(Field {
        display_name: str_of(m, "display_name").unwrap_or(&uid).to_owned(),
        uid,
        kind,
        multiple,
    })
}

/// Calls `f` with the dotted path and field of every field of `schema`,
/// nested ones included (block fields as `blocks.<block uid>.<field>`).
pub fn walk(schema: &[Field], prefix: &str, f: &mut dyn FnMut(&str, &Field)) {
    for field in schema {
        let path = if prefix.is_empty() {
            field.uid.clone()
        } else {
            format!("{prefix}.{}", field.uid)
        };
        f(&path, field);
        match &field.kind {
            FieldKind::Group(s) | FieldKind::Global { schema: s, .. } => walk(s, &path, f),
            FieldKind::Blocks(blocks) => {
                for b in blocks {
                    walk(&b.schema, &format!("{path}.{}", b.uid), f);
                }
            }
            _ => {}
        }
    }
}
