//! The pages a simulated origin rendered, each kept once.
//!
//! A rendered page is what it was built from: (entry, served variant,
//! version) per entry, the visitor a per-visitor page greets, and whether it
//! is base content served as a fallback. Many fills render the same page
//! (same variants, same versions), so pages are interned: the cache stores a
//! 4-byte [`PageId`], and a fill that renders a page seen before allocates
//! nothing.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::world::VisitorIdx;

/// What one entry of a page was: (entry, served variant, version).
pub type Served = (EntryIdx, Option<VariantRef>, u32);

/// A rendered page, by its index in [`Pages`].
pub type PageId = u32;

/// Where a page's entries lie in the shared list, and what else it carries.
#[derive(Clone, Copy, Debug)]
struct Record {
    start: u32,
    len: u32,
    visitor: Option<VisitorIdx>,
    fallback: bool,
    hash: u64,
}

/// Every distinct page rendered so far.
#[derive(Default)]
pub struct Pages {
    served: Vec<Served>,
    records: Vec<Record>,
    index: HashTable<PageId>,
    hasher: DefaultHashBuilder,
}

impl Pages {
    /// The id of the page built from `entries` for `visitor` (per-visitor
    /// pages) with `fallback`; new pages are added.
    pub fn intern(
        &mut self,
        entries: &[Served],
        visitor: Option<VisitorIdx>,
        fallback: bool,
    ) -> PageId {
        let mut h = self.hasher.build_hasher();
        entries.hash(&mut h);
        visitor.hash(&mut h);
        fallback.hash(&mut h);
        let hash = h.finish();
        let (served, records) = (&self.served, &self.records);
        let same = |id: &PageId| {
            let r = &records[*id as usize];
            r.hash == hash
                && r.visitor == visitor
                && r.fallback == fallback
                && served[r.start as usize..(r.start + r.len) as usize] == *entries
        };
        if let Some(id) = self.index.find(hash, same) {
            return *id;
        }
        let id = PageId::try_from(self.records.len()).expect("fewer than 2^32 distinct pages");
        self.records.push(Record {
            start: u32::try_from(self.served.len()).expect("fewer than 2^32 served entries"),
            len: entries.len() as u32,
            visitor,
            fallback,
            hash,
        });
        self.served.extend_from_slice(entries);
        let records = &self.records;
        self.index
            .insert_unique(hash, id, |id| records[*id as usize].hash);
        id
    }

    /// The entries of page `id`.
    pub fn entries(&self, id: PageId) -> &[Served] {
        let r = &self.records[id as usize];
        &self.served[r.start as usize..(r.start + r.len) as usize]
    }

    /// The visitor page `id` greets, if it is a per-visitor page.
    pub fn visitor(&self, id: PageId) -> Option<VisitorIdx> {
        self.records[id as usize].visitor
    }

    /// Whether page `id` is base content served because Personalize failed.
    pub fn fallback(&self, id: PageId) -> bool {
        self.records[id as usize].fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_page_is_kept_once() {
        let mut p = Pages::default();
        let a = [(0, None, 1), (1, None, 2)];
        let b = [(0, None, 1), (1, None, 3)];
        let ia = p.intern(&a, None, false);
        let ib = p.intern(&b, None, false);
        assert_ne!(ia, ib);
        assert_eq!(p.intern(&a, None, false), ia);
        assert_ne!(
            p.intern(&a, Some(4), false),
            ia,
            "a per-visitor page differs"
        );
        assert_ne!(p.intern(&a, None, true), ia, "a fallback differs");
        assert_eq!(p.entries(ib), &b);
        assert_eq!(p.visitor(ia), None);
    }
}
