//! `[content] export`: the team's stack export read once, its entries made
//! the scenario's, and the experiences' `content_types` / `entries` turned
//! into the variants each entry has. Problems inside the export are named by
//! its file and line:column, reported at the `export` key.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use toml::Spanned;
use ttlab_export::Export;

use crate::bounds::MAX_ENTRIES;
use crate::model::{Entry, EntryIdx, Experience, VariantRef};
use crate::spec::ScenarioFile;

use super::{Cx, sp};

impl Cx {
    /// Reads the export `file` names (relative to the scenario's folder).
    pub(super) fn read_export(&mut self, file: &Spanned<String>) -> Option<Arc<Export>> {
        let path = self.base.as_deref().map_or_else(
            || PathBuf::from(file.get_ref()),
            |base| base.join(file.get_ref()),
        );
        match Export::open(&path) {
            Ok(e) => Some(Arc::new(e)),
            Err(e) => {
                self.err(sp(file), format!("cannot read the export: {e}"));
                None
            }
        }
    }

    /// The scenario's entries from the export: one per entry uid, in the
    /// export's order, with the variants the experiences give them.
    pub(super) fn export_entries(
        &mut self,
        f: &ScenarioFile,
        export: &Export,
        exps: &[Experience],
    ) -> (Vec<Entry>, HashMap<String, EntryIdx>) {
        let mut entries: Vec<Entry> = Vec::new();
        let mut by_uid: HashMap<String, EntryIdx> = HashMap::new();
        let at = f
            .content
            .get_ref()
            .export
            .as_ref()
            .map_or(sp(&f.content), sp);
        for e in &export.entries {
            if by_uid.contains_key(&e.uid) {
                continue;
            }
            if entries.len() as u64 == MAX_ENTRIES {
                self.err(
                    at.clone(),
                    format!("the export has more than {MAX_ENTRIES} entries; ttlab serves at most that many"),
                );
                break;
            }
            if e.uid.is_empty()
                || !e
                    .uid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                self.err(
                    at.clone(),
                    format!("entry uid \"{}\" of content type {} in the export must be letters, digits, '_', '-' or '.' (it goes into content tokens)", e.uid, e.content_type),
                );
                continue;
            }
            by_uid.insert(e.uid.clone(), entries.len() as EntryIdx);
            entries.push(Entry {
                uid: e.uid.clone(),
                content_type: e.content_type.clone(),
                variants: Vec::new(),
            });
        }
        for spec in &f.experiences {
            let spec = spec.get_ref();
            let Some(ei) = exps.iter().position(|x| &x.uid == spec.uid.get_ref()) else {
                continue;
            };
            let all: Vec<VariantRef> = (0..exps[ei].variants.len())
                .map(|v| VariantRef {
                    experience: ei as u16,
                    variant: v as u16,
                })
                .collect();
            for ct in &spec.content_types {
                if export.content_type(ct.get_ref()).is_none() {
                    let known: Vec<&str> = export
                        .content_types
                        .iter()
                        .map(|c| c.uid.as_str())
                        .collect();
                    self.err(
                        sp(ct),
                        format!(
                            "content type \"{}\" is not in the export; it has: {}",
                            ct.get_ref(),
                            known.join(", ")
                        ),
                    );
                    continue;
                }
                for entry in entries
                    .iter_mut()
                    .filter(|e| &e.content_type == ct.get_ref())
                {
                    entry.variants.extend(&all);
                }
            }
            for uid in &spec.entries {
                match by_uid.get(uid.get_ref()) {
                    Some(i) => entries[*i as usize].variants.extend(&all),
                    None => self.err(
                        sp(uid),
                        format!("entry \"{}\" is not in the export", uid.get_ref()),
                    ),
                }
            }
        }
        for e in &mut entries {
            e.variants.sort_unstable();
            e.variants.dedup();
        }
        (entries, by_uid)
    }

    /// `content_types` and `entries` of experiences name an export's
    /// content: without one they are a mistake, said at the key.
    pub(super) fn no_export_names(&mut self, f: &ScenarioFile) {
        // Said once: every later use is the same mistake.
        let first = f.experiences.iter().find_map(|spec| {
            let spec = spec.get_ref();
            spec.content_types.first().or(spec.entries.first())
        });
        if let Some(first) = first {
            self.err(
                sp(first),
                "content_types and entries of an experience name what varies in a stack export; this scenario has no [content] export (give entries variants with variants_for in [[content.entries]])",
            );
        }
    }
}
