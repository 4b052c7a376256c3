//! The export's files, wherever they are: a folder on disk, or a zip
//! archive read into memory once. Both answer "the bytes of this relative
//! path" and "the sub-folders of this folder", which is all the reader asks.
//!
//! The root is the folder that holds `content_types/`: the path given, or
//! the one sub-folder that has it (the CLI writes a branch folder such as
//! `main/`, and a zip usually wraps everything in one top folder).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::ExportError;

/// Most bytes a zip export may hold once inflated: a guard against an
/// archive that inflates without end, and far above a content export (its
/// assets included) a laptop run would use.
pub const MAX_ZIP_BYTES: u64 = 1 << 30;

/// Where the files are.
#[derive(Debug)]
pub(crate) enum Tree {
    /// A folder: `root` holds `content_types/`.
    Dir { root: PathBuf, shown: String },
    /// A zip archive, inflated: relative path (with `/`) → bytes.
    Zip {
        files: BTreeMap<String, Arc<[u8]>>,
        prefix: String,
        shown: String,
    },
}

impl Tree {
    /// Opens `path` (folder or `.zip`) and finds its root.
    pub(crate) fn open(path: &Path) -> Result<Tree, ExportError> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(ExportError::Missing {
                file: shown,
                what: "no such folder or zip file: expected a Contentstack stack export (csdx cm:stacks:export -d FOLDER)".to_owned(),
            });
        }
        if path.is_dir() {
            let root = dir_root(path, &shown)?;
            let shown = root.display().to_string();
            return Ok(Tree::Dir { root, shown });
        }
        let files = inflate(path, &shown)?;
        let prefix = zip_root(&files, &shown)?;
        Ok(Tree::Zip {
            files,
            prefix,
            shown,
        })
    }

    /// How a relative path is shown in messages: the full path on disk, or
    /// `archive.zip!inner/path`.
    pub(crate) fn shown(&self, rel: &str) -> String {
        match self {
            Tree::Dir { shown, .. } => format!("{shown}/{rel}"),
            Tree::Zip { prefix, shown, .. } => format!("{shown}!{prefix}{rel}"),
        }
    }

    /// The bytes of `rel`, or `None` when there is no such file.
    pub(crate) fn read(&self, rel: &str) -> Result<Option<Arc<[u8]>>, ExportError> {
        match self {
            Tree::Dir { root, .. } => {
                let p = root.join(rel);
                if !p.is_file() {
                    return Ok(None);
                }
                std::fs::read(&p)
                    .map(|b| Some(Arc::from(b)))
                    .map_err(|source| ExportError::Io {
                        file: self.shown(rel),
                        source,
                    })
            }
            Tree::Zip { files, prefix, .. } => Ok(files.get(&format!("{prefix}{rel}")).cloned()),
        }
    }

    /// Where the file `rel` can be read later without holding it now: a
    /// path on disk, or the bytes already in memory.
    pub(crate) fn file(&self, rel: &str) -> Option<crate::model::AssetFile> {
        match self {
            Tree::Dir { root, .. } => {
                let p = root.join(rel);
                p.is_file().then_some(crate::model::AssetFile::Path(p))
            }
            Tree::Zip { files, prefix, .. } => files
                .get(&format!("{prefix}{rel}"))
                .map(|b| crate::model::AssetFile::Bytes(b.clone())),
        }
    }

    /// The names of the files directly in folder `rel`, sorted.
    pub(crate) fn files(&self, rel: &str) -> Vec<String> {
        match self {
            Tree::Dir { root, .. } => {
                let p = root.join(rel);
                let Ok(rd) = std::fs::read_dir(&p) else {
                    return Vec::new();
                };
                let mut out: Vec<String> = rd
                    .flatten()
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                out.sort();
                out
            }
            Tree::Zip { files, prefix, .. } => {
                let base = format!("{prefix}{}/", rel.trim_end_matches('/'));
                files
                    .keys()
                    .filter_map(|n| n.strip_prefix(&base))
                    .filter(|rest| !rest.contains('/'))
                    .map(str::to_owned)
                    .collect()
            }
        }
    }

    /// The names of the sub-folders of `rel`, sorted.
    pub(crate) fn dirs(&self, rel: &str) -> Result<Vec<String>, ExportError> {
        match self {
            Tree::Dir { root, .. } => {
                let p = root.join(rel);
                if !p.is_dir() {
                    return Ok(Vec::new());
                }
                let rd = std::fs::read_dir(&p).map_err(|source| ExportError::Io {
                    file: self.shown(rel),
                    source,
                })?;
                let mut out = Vec::new();
                for e in rd {
                    let e = e.map_err(|source| ExportError::Io {
                        file: self.shown(rel),
                        source,
                    })?;
                    if e.path().is_dir() {
                        out.push(e.file_name().to_string_lossy().into_owned());
                    }
                }
                out.sort();
                Ok(out)
            }
            Tree::Zip { files, prefix, .. } => {
                let base = format!("{prefix}{}/", rel.trim_end_matches('/'));
                let mut out = BTreeSet::new();
                for name in files.keys() {
                    if let Some((dir, _)) = name.strip_prefix(&base).and_then(|r| r.split_once('/'))
                    {
                        out.insert(dir.to_owned());
                    }
                }
                Ok(out.into_iter().collect())
            }
        }
    }
}

/// The folder under `path` that holds `content_types/`.
fn dir_root(path: &Path, shown: &str) -> Result<PathBuf, ExportError> {
    if path.join("content_types").is_dir() {
        return Ok(path.to_path_buf());
    }
    let mut found = Vec::new();
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            if e.path().join("content_types").is_dir() {
                found.push(e.path());
            }
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ExportError::Missing {
            file: format!("{shown}/content_types/schema.json"),
            what:
                "not a stack export: no content_types/ folder here or in a branch folder under it"
                    .to_owned(),
        }),
        _ => Err(ExportError::Shape {
            file: shown.to_owned(),
            message: format!(
                "holds several branch folders ({}): name the one to serve, e.g. export = \"{shown}/{}\"",
                found
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", "),
                found[0]
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        }),
    }
}

/// Every file of the archive, inflated, within [`MAX_ZIP_BYTES`].
fn inflate(path: &Path, shown: &str) -> Result<BTreeMap<String, Arc<[u8]>>, ExportError> {
    let zip_err = |message: String| ExportError::Zip {
        file: shown.to_owned(),
        message,
    };
    let f = std::fs::File::open(path).map_err(|source| ExportError::Io {
        file: shown.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(f).map_err(|e| {
        zip_err(format!(
            "not a folder and not a zip archive ({e}): expected a stack export folder or its .zip"
        ))
    })?;
    let mut files = BTreeMap::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| zip_err(format!("entry {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let Some(name) = entry.enclosed_name() else {
            return Err(zip_err(format!(
                "entry \"{}\" points outside the archive",
                entry.name()
            )));
        };
        let name = name.to_string_lossy().replace('\\', "/");
        let mut buf = Vec::new();
        // Read at most what is left of the budget, plus one byte to notice going past it.
        let left = MAX_ZIP_BYTES - total;
        (&mut entry)
            .take(left + 1)
            .read_to_end(&mut buf)
            .map_err(|e| zip_err(format!("{name}: {e}")))?;
        total += buf.len() as u64;
        if total > MAX_ZIP_BYTES {
            return Err(zip_err(format!(
                "inflates to more than {} MiB: ttlab reads at most that much of an export",
                MAX_ZIP_BYTES >> 20
            )));
        }
        files.insert(name, Arc::from(buf));
    }
    Ok(files)
}

/// The prefix (`""` or `top/` or `top/main/`) under which the archive has
/// `content_types/`.
fn zip_root(files: &BTreeMap<String, Arc<[u8]>>, shown: &str) -> Result<String, ExportError> {
    let mut roots: BTreeSet<String> = BTreeSet::new();
    for name in files.keys() {
        if let Some(i) = name.find("content_types/") {
            let prefix = &name[..i];
            if prefix.is_empty() || prefix.ends_with('/') {
                roots.insert(prefix.to_owned());
            }
        }
    }
    let shortest = roots.iter().map(|r| r.matches('/').count()).min();
    let roots: Vec<String> = roots
        .iter()
        .filter(|r| Some(r.matches('/').count()) == shortest)
        .cloned()
        .collect();
    match roots.len() {
        1 => Ok(roots[0].clone()),
        0 => Err(ExportError::Missing {
            file: format!("{shown}!content_types/schema.json"),
            what: "not a stack export: the archive has no content_types/ folder".to_owned(),
        }),
        _ => Err(ExportError::Shape {
            file: shown.to_owned(),
            message: format!(
                "holds several exports or branches ({}): zip one of them",
                roots.join(", ")
            ),
        }),
    }
}
