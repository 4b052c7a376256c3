//! What an export holds, as the reader builds it and the mock serves it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::schema::Field;

/// A locale of the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale {
    /// Its code, e.g. `en-us`.
    pub code: String,
    /// As the stack names it.
    pub name: String,
    /// The locale whose entry is served when this one has none and the
    /// client asks for `include_fallback`.
    pub fallback: Option<String>,
}

/// A publishing environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// Its uid, as entries' `publish_details` name it.
    pub uid: String,
    /// Its name, as clients pass `environment=`.
    pub name: String,
}

/// A content type and its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentType {
    /// Its uid.
    pub uid: String,
    /// As the stack names it.
    pub title: String,
    /// Its fields, global fields resolved.
    pub schema: Vec<Field>,
    /// The JSON as exported, for `include_content_type` and
    /// `GET /v3/content_types/{uid}`.
    pub raw: Value,
}

/// One entry in one locale, as exported (management API shape).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its content type's uid.
    pub content_type: String,
    /// The locale of this version of it.
    pub locale: String,
    /// Its uid.
    pub uid: String,
    /// Its fields and system fields, as stored.
    pub doc: Map<String, Value>,
}

impl Entry {
    /// `_version` as exported (1 when absent).
    pub fn version(&self) -> u32 {
        self.doc
            .get("_version")
            .and_then(Value::as_u64)
            .map_or(1, |v| v.clamp(1, u64::from(u32::MAX)) as u32)
    }
}

/// Where an asset's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub enum AssetFile {
    /// A file on disk, read when served.
    Path(PathBuf),
    /// Already in memory (from a zip).
    Bytes(Arc<[u8]>),
}

impl AssetFile {
    /// The file's bytes.
    pub fn bytes(&self) -> std::io::Result<Arc<[u8]>> {
        match self {
            AssetFile::Path(p) => std::fs::read(p).map(Arc::from),
            AssetFile::Bytes(b) => Ok(b.clone()),
        }
    }
}

/// An asset: its metadata and, when the export has it, its file.
#[derive(Clone, Debug, PartialEq)]
pub struct Asset {
    /// Its uid.
    pub uid: String,
    /// Metadata as exported (`filename`, `content_type`, `file_size`,
    /// `title`, `url`, …).
    pub meta: Map<String, Value>,
    /// The file, when the export downloaded it.
    pub file: Option<AssetFile>,
}

impl Asset {
    /// The file name (`filename`, or the uid when absent).
    pub fn filename(&self) -> &str {
        self.meta
            .get("filename")
            .and_then(Value::as_str)
            .unwrap_or(&self.uid)
    }
}

/// A field whose `data_type` ttlab does not know: served as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The content type (or `global_fields/<uid>`) that has it.
    pub content_type: String,
    /// Its dotted path.
    pub path: String,
    /// Its `data_type`.
    pub data_type: String,
}

/// A whole stack export.
#[derive(Debug, Default, PartialEq)]
pub struct Export {
    /// The export as the user named it, for messages.
    pub source: String,
    /// The master locale (from `locales/master-locale.json`), if exported.
    pub master_locale: Option<String>,
    /// Every locale, the master first.
    pub locales: Vec<Locale>,
    /// Publishing environments.
    pub environments: Vec<Environment>,
    /// Content types, in the export's order.
    pub content_types: Vec<ContentType>,
    /// Entries, by content type, then locale, then uid.
    pub entries: Vec<Entry>,
    /// Assets, by uid.
    pub assets: Vec<Asset>,
    /// Fields of unknown types.
    pub unsupported: Vec<Unsupported>,
    pub(crate) by_entry: HashMap<(String, String), Vec<usize>>,
    pub(crate) by_type: HashMap<String, usize>,
    pub(crate) by_asset: HashMap<String, usize>,
    pub(crate) by_uid: HashMap<String, usize>,
}

impl Export {
    /// Builds the indexes once the lists are complete.
    pub(crate) fn indexed(mut self) -> Export {
        self.by_entry.clear();
        for (i, e) in self.entries.iter().enumerate() {
            self.by_entry
                .entry((e.content_type.clone(), e.uid.clone()))
                .or_default()
                .push(i);
        }
        self.by_uid.clear();
        for (i, e) in self.entries.iter().enumerate() {
            self.by_uid.entry(e.uid.clone()).or_insert(i);
        }
        self.by_type = self
            .content_types
            .iter()
            .enumerate()
            .map(|(i, c)| (c.uid.clone(), i))
            .collect();
        self.by_asset = self
            .assets
            .iter()
            .enumerate()
            .map(|(i, a)| (a.uid.clone(), i))
            .collect();
        self
    }

    /// The content type `uid`.
    pub fn content_type(&self, uid: &str) -> Option<&ContentType> {
        self.by_type.get(uid).map(|i| &self.content_types[*i])
    }

    /// Entry `uid` of content type `ct` in `locale`.
    pub fn entry(&self, ct: &str, uid: &str, locale: &str) -> Option<&Entry> {
        self.by_entry
            .get(&(ct.to_owned(), uid.to_owned()))?
            .iter()
            .map(|i| &self.entries[*i])
            .find(|e| e.locale == locale)
    }

    /// Every locale entry `uid` of `ct` exists in.
    pub fn entry_locales(&self, ct: &str, uid: &str) -> impl Iterator<Item = &Entry> {
        self.by_entry
            .get(&(ct.to_owned(), uid.to_owned()))
            .into_iter()
            .flatten()
            .map(|i| &self.entries[*i])
    }

    /// The content type of entry `uid` (entry uids are unique in a stack).
    pub fn content_type_of(&self, uid: &str) -> Option<&str> {
        self.by_uid
            .get(uid)
            .map(|i| self.entries[*i].content_type.as_str())
    }

    /// The asset `uid`.
    pub fn asset(&self, uid: &str) -> Option<&Asset> {
        self.by_asset.get(uid).map(|i| &self.assets[*i])
    }

    /// The locale `code`.
    pub fn locale(&self, code: &str) -> Option<&Locale> {
        self.locales.iter().find(|l| l.code == code)
    }
}
