//! Entries, pages and page sets.

use std::collections::HashMap;
use std::collections::HashSet;

use toml::Spanned;

use crate::bounds::{MAX_ENTRIES, MAX_ENTRIES_PER_PAGE, MAX_PAGE_ENTRY_REFS, MAX_PAGES};
use crate::model::{Content, Entry, EntryIdx, Experience, Page, VariantRef};
use crate::spec::{PageSetSpec, ScenarioFile};

use super::{Cx, sp};

/// Pages, entries and entry references counted so far.
struct Totals {
    pages: u64,
    entries: u64,
    refs: u64,
}

impl Cx {
    #[allow(clippy::too_many_lines)] // entries, pages and page-set expansion share the uid maps
    pub(super) fn content(&mut self, f: &ScenarioFile, exps: &[Experience]) -> Content {
        let content_span = sp(&f.content);
        let c = f.content.get_ref();
        let export = c.export.as_ref().and_then(|file| self.read_export(file));
        self.export_named = c.export.is_some();
        let (mut entries, mut by_uid) = match &export {
            Some(x) => {
                if let Some(e) = c.entries.first() {
                    self.err(sp(e), "with [content] export, the entries come from the export: remove [[content.entries]] (say what varies with content_types or entries in [[experiences]])");
                }
                if let Some(s) = c.page_sets.first() {
                    self.err(sp(s), "page sets make entries of their own; with [content] export, list pages with [[content.pages]] naming the export's entries");
                }
                self.export_entries(f, x, exps)
            }
            None => {
                if c.export.is_none() {
                    self.no_export_names(f);
                }
                (Vec::new(), HashMap::new())
            }
        };
        let locale = c
            .locale
            .clone()
            .or_else(|| export.as_ref().and_then(|x| x.master_locale.clone()))
            .unwrap_or_else(|| "en-us".to_owned());
        if let Some(e) = c.entries.get(MAX_ENTRIES as usize) {
            self.err(
                sp(e),
                format!("at most {MAX_ENTRIES} entries are supported"),
            );
        }
        let declared = if export.is_some() {
            0
        } else {
            MAX_ENTRIES as usize
        };
        for e in c.entries.iter().take(declared) {
            let e = e.get_ref();
            let uid = e.uid.get_ref();
            if uid.is_empty()
                || !uid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                self.err(
                    sp(&e.uid),
                    format!("entry uid \"{uid}\" must be letters, digits, '_', '-' or '.' (it goes into URLs and content tokens)"),
                );
            }
            if by_uid.contains_key(uid) {
                self.err(sp(&e.uid), format!("entry \"{uid}\" is declared twice"));
                continue;
            }
            let mut variants: Vec<VariantRef> = e
                .variants_for
                .iter()
                .flat_map(|v| self.variant_refs(v, exps))
                .collect();
            variants.sort_unstable();
            variants.dedup();
            by_uid.insert(uid.clone(), entries.len() as EntryIdx);
            entries.push(Entry {
                uid: uid.clone(),
                content_type: e.content_type.clone(),
                variants,
            });
        }
        let mut pages: Vec<Page> = Vec::new();
        let mut paths: HashSet<String> = HashSet::new();
        if let Some(p) = c.pages.get(MAX_PAGES as usize) {
            self.err(sp(p), format!("at most {MAX_PAGES} pages are supported"));
        }
        // What the page tables will hold, counted before a page set is expanded.
        let mut totals = Totals {
            pages: c.pages.len() as u64,
            entries: entries.len() as u64,
            refs: c
                .pages
                .iter()
                .map(|p| p.get_ref().entries.len() as u64)
                .sum(),
        };
        for p in c.pages.iter().take(MAX_PAGES as usize) {
            let p = p.get_ref();
            let path = p.path.get_ref();
            self.check_path(&p.path, path, &mut paths);
            if p.entries.is_empty() {
                self.err(
                    sp(&p.path),
                    format!("page \"{path}\" renders no entries; list at least one in `entries`"),
                );
            } else if p.entries.len() as u64 > MAX_ENTRIES_PER_PAGE {
                self.err(
                    sp(&p.path),
                    format!(
                        "page \"{path}\" renders {} entries; a page renders at most {MAX_ENTRIES_PER_PAGE}",
                        p.entries.len()
                    ),
                );
            }
            let ids = p
                .entries
                .iter()
                .filter_map(|e| self.entry_ref(e, &by_uid))
                .collect();
            pages.push(Page {
                path: path.clone(),
                entries: ids,
                visitor_fragment: p.visitor_fragment,
            });
        }
        for set in c.page_sets.iter().filter(|_| export.is_none()) {
            let s = set.get_ref();
            let pattern = s.path.get_ref();
            if !pattern.contains("{i}") {
                self.err(sp(&s.path), format!("page set path \"{pattern}\" needs \"{{i}}\" where the page number goes, e.g. \"/products/{{i}}\""));
                continue;
            }
            let count = *s.count.get_ref();
            if count == 0 {
                self.err(sp(&s.count), "count must be at least 1");
            }
            let per_page = s.entries_per_page.as_ref().map_or(1, |n| {
                if *n.get_ref() == 0 {
                    self.err(sp(n), "entries_per_page must be at least 1");
                }
                *n.get_ref()
            });
            if !self.page_set_fits(s, per_page, &mut totals) {
                continue;
            }
            let with_variants = s.variant_entries.as_ref().map_or(1.min(per_page), |n| {
                if *n.get_ref() > per_page {
                    self.err(
                        sp(n),
                        format!(
                            "variant_entries ({}) is more than entries_per_page ({per_page})",
                            n.get_ref()
                        ),
                    );
                }
                *n.get_ref()
            });
            let mut variants: Vec<VariantRef> = s
                .variants_for
                .iter()
                .flat_map(|v| self.variant_refs(v, exps))
                .collect();
            variants.sort_unstable();
            variants.dedup();
            let shared: Vec<EntryIdx> = s
                .shared_entries
                .iter()
                .filter_map(|e| self.entry_ref(e, &by_uid))
                .collect();
            for i in 0..count {
                let path = pattern.replace("{i}", &i.to_string());
                if !paths.insert(path.clone()) {
                    self.err(
                        sp(&s.path),
                        format!("page set makes path \"{path}\", which another page already has"),
                    );
                    break;
                }
                let mut ids = shared.clone();
                for k in 0..per_page {
                    let uid = format!("{}_{i}_{k}", s.content_type);
                    if by_uid.contains_key(&uid) {
                        self.err(
                            sp(&s.path),
                            format!("page set makes entry \"{uid}\", which is already declared"),
                        );
                        continue;
                    }
                    let idx = entries.len() as EntryIdx;
                    by_uid.insert(uid.clone(), idx);
                    entries.push(Entry {
                        uid,
                        content_type: s.content_type.clone(),
                        variants: if k < with_variants {
                            variants.clone()
                        } else {
                            Vec::new()
                        },
                    });
                    ids.push(idx);
                }
                pages.push(Page {
                    path,
                    entries: ids,
                    visitor_fragment: false,
                });
            }
        }
        if pages.is_empty() {
            self.err(
                content_span,
                "the scenario has no pages: add [[content.pages]] or [[content.page_sets]]",
            );
        }
        Content {
            locale,
            export,
            entries,
            pages,
        }
    }

    /// Whether page set `s` keeps every page table within its bound, checked
    /// before the set is expanded (its `count` pages are never built when it
    /// does not); adds what it makes to `totals`.
    fn page_set_fits(&mut self, s: &PageSetSpec, per_page: u32, totals: &mut Totals) -> bool {
        let count = u64::from(*s.count.get_ref());
        let per_page = u64::from(per_page);
        let per_page_all = per_page + s.shared_entries.len() as u64;
        let at_per_page = s.entries_per_page.as_ref().map_or(sp(&s.count), sp);
        let problem = if count > MAX_PAGES {
            Some((
                sp(&s.count),
                format!("count must be at most {MAX_PAGES}, got {count}"),
            ))
        } else if per_page_all > MAX_ENTRIES_PER_PAGE {
            Some((
                at_per_page,
                format!(
                    "pages of this set render {per_page_all} entries (entries_per_page and shared_entries); a page renders at most {MAX_ENTRIES_PER_PAGE}"
                ),
            ))
        } else if totals.pages + count > MAX_PAGES {
            Some((
                sp(&s.count),
                format!(
                    "this page set brings the pages to {}, more than the {MAX_PAGES} supported",
                    totals.pages + count
                ),
            ))
        } else if totals.entries + count * per_page > MAX_ENTRIES {
            Some((
                at_per_page,
                format!(
                    "this page set brings the entries to {} (count × entries_per_page), more than the {MAX_ENTRIES} supported",
                    totals.entries + count * per_page
                ),
            ))
        } else if totals.refs + count * per_page_all > MAX_PAGE_ENTRY_REFS {
            Some((
                sp(&s.count),
                format!(
                    "this page set brings the entries rendered by all pages to {} (count × (entries_per_page + shared_entries)), more than the {MAX_PAGE_ENTRY_REFS} supported",
                    totals.refs + count * per_page_all
                ),
            ))
        } else {
            None
        };
        if let Some((span, msg)) = problem {
            self.err(span, msg);
            return false;
        }
        totals.pages += count;
        totals.entries += count * per_page;
        totals.refs += count * per_page_all;
        true
    }

    pub(super) fn check_path(
        &mut self,
        span: &Spanned<String>,
        path: &str,
        paths: &mut HashSet<String>,
    ) {
        if !path.starts_with('/')
            || path.contains(char::is_whitespace)
            || path.contains('?')
            || path.contains('#')
        {
            self.err(
                sp(span),
                format!(
                    "page path \"{path}\" must start with '/' and have no spaces, query or fragment"
                ),
            );
        } else if !paths.insert(path.to_owned()) {
            self.err(sp(span), format!("page \"{path}\" is declared twice"));
        }
    }

    pub(super) fn entry_ref(
        &mut self,
        e: &Spanned<String>,
        by_uid: &HashMap<String, EntryIdx>,
    ) -> Option<EntryIdx> {
        let found = by_uid.get(e.get_ref()).copied();
        // An export that could not be read has been reported; its entries
        // are not missing one by one.
        if found.is_none() && !(self.export_named && by_uid.is_empty()) {
            self.err(
                sp(e),
                if self.export_named {
                    format!("unknown entry \"{}\": not in the export", e.get_ref())
                } else {
                    format!(
                        "unknown entry \"{}\"; declare it in [[content.entries]]",
                        e.get_ref()
                    )
                },
            );
        }
        found
    }
}
