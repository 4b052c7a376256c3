//! The pages a simulated origin rendered, each kept once.
//!
//! A rendered page is what it was built from: (entry, served variant,
//! version) per entry, the visitor a per-visitor page greets, and whether it
//! is base content served as a fallback. Many fills render the same page
//! (same variants, same versions), so pages are interned: the cache stores a
//! 4-byte [`PageId`], and a fill that renders a page seen before allocates
//! nothing.
//!
//! Under a byte bound (`max_bytes`) a page also has its size: the bytes the
//! real layer's store counts for it ([`PageResponse::size`] of the page
//! ttlab's origin builds, [`PageBuilder::build`], from the text the Delivery
//! mock answers, `ttlab_mock_apis::text::entry_text`), computed once when the
//! page is first interned. What a page is then also holds its path and the
//! variants it was built for (the `x-ttlab-variants` header): two pages with
//! the same entries but different paths or variant headers weigh differently.
//! Without a byte bound a page's size is never read, and none is computed.
//!
//! [`PageResponse::size`]: ttlab_ssr_origin::response::PageResponse::size

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use ttlab_scenarios::model::{ArchitectureConfig, EntryIdx, PageIdx, VariantRef};
use ttlab_scenarios::world::VisitorIdx;
use ttlab_scenarios::{VariantSet, World};
use ttlab_ssr_origin::origin::PageBuilder;
use ttlab_ssr_origin::render::RenderedEntry;

use crate::check::PageFacts;

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
    /// What the checker works out once for judging its serves.
    facts: PageFacts,
}

/// What a sized page is besides its entries, and its size.
#[derive(Clone, Copy, Debug)]
struct Weighed {
    page: PageIdx,
    variants: VariantSet,
    size: u32,
}

/// How the simulator weighs a page: the page ttlab's origin would build for
/// the same entries, variants, visitor and fallback (with the headers the
/// architecture's origin states), and that page's size in a store.
pub struct PageSizer {
    world: Arc<World>,
    builder: PageBuilder,
}

impl PageSizer {
    /// The sizer of `arch`'s pages in `world`: its origin's topology and
    /// cache options decide the headers.
    pub fn new(world: Arc<World>, arch: &ArchitectureConfig) -> Self {
        PageSizer {
            world,
            builder: PageBuilder::new(arch.topology(), &arch.cache),
        }
    }

    /// The bytes a store counts for page `page` built from
    /// `served` for `variants` (projected to the page's experiences),
    /// greeting `visitor` (a per-visitor page), `fallback` when base
    /// content: [`PageResponse::size`] of the page the real origin builds
    /// from the text the Delivery mock answers. The CDN and the edge store
    /// the origin's answer with the same headers (those of one response
    /// left out), so the size is the same in every layer.
    ///
    /// [`PageResponse::size`]: ttlab_ssr_origin::response::PageResponse::size
    pub fn size(
        &self,
        page: PageIdx,
        variants: &VariantSet,
        served: &[Served],
        visitor: Option<VisitorIdx>,
        fallback: bool,
    ) -> u64 {
        let world: &World = &self.world;
        let entries: Vec<RenderedEntry> = served
            .iter()
            .map(|&(entry, variant, version)| {
                let text = ttlab_mock_apis::text::entry_text(world, entry, variant, version);
                RenderedEntry {
                    uid: world.scenario().content.entries[entry as usize].uid.clone(),
                    title: text.title,
                    body: text.body,
                }
            })
            .collect();
        let uid = visitor.map(|v| world.uid(v).to_string());
        self.builder
            .build(world, page, variants, &entries, uid.as_deref(), fallback)
            .size()
    }
}

/// Every distinct page rendered so far.
#[derive(Default)]
pub struct Pages {
    served: Vec<Served>,
    records: Vec<Record>,
    index: HashTable<PageId>,
    hasher: DefaultHashBuilder,
    /// With a byte bound: how pages are weighed, and each page's weight
    /// (by id, beside `records`).
    sizer: Option<PageSizer>,
    weighed: Vec<Weighed>,
}

impl Pages {
    /// Pages that are weighed by `sizer` when first interned (a layer with a
    /// byte bound).
    pub fn sized(sizer: PageSizer) -> Self {
        Pages {
            sizer: Some(sizer),
            ..Pages::default()
        }
    }

    /// The id of page `page` built from `entries` for `visitor` (per-visitor
    /// pages) with `fallback`, for `variants` (projected to the page's
    /// experiences); new pages are added (and weighed, when sized).
    /// Unsized, pages with the same entries, visitor and fallback are one
    /// whatever their path and variants: nothing tells them apart then.
    pub fn intern(
        &mut self,
        page: PageIdx,
        variants: &VariantSet,
        entries: &[Served],
        visitor: Option<VisitorIdx>,
        fallback: bool,
        facts: impl FnOnce(&[Served]) -> PageFacts,
    ) -> PageId {
        let sized = self.sizer.is_some();
        let mut h = self.hasher.build_hasher();
        entries.hash(&mut h);
        visitor.hash(&mut h);
        fallback.hash(&mut h);
        if sized {
            page.hash(&mut h);
            variants.hash(&mut h);
        }
        let hash = h.finish();
        let (served, records, weighed) = (&self.served, &self.records, &self.weighed);
        let same = |id: &PageId| {
            let r = &records[*id as usize];
            r.hash == hash
                && r.visitor == visitor
                && r.fallback == fallback
                && served[r.start as usize..(r.start + r.len) as usize] == *entries
                && (!sized || {
                    let w = &weighed[*id as usize];
                    w.page == page && w.variants == *variants
                })
        };
        if let Some(id) = self.index.find(hash, same) {
            return *id;
        }
        if let Some(sizer) = &self.sizer {
            let size = sizer.size(page, variants, entries, visitor, fallback);
            self.weighed.push(Weighed {
                page,
                variants: *variants,
                size: u32::try_from(size).unwrap_or(u32::MAX),
            });
        }
        let id = PageId::try_from(self.records.len()).expect("fewer than 2^32 distinct pages");
        self.records.push(Record {
            start: u32::try_from(self.served.len()).expect("fewer than 2^32 served entries"),
            len: entries.len() as u32,
            visitor,
            fallback,
            hash,
            facts: facts(entries),
        });
        self.served.extend_from_slice(entries);
        let records = &self.records;
        self.index
            .insert_unique(hash, id, |id| records[*id as usize].hash);
        id
    }

    /// What the checker worked out for judging page `id`.
    pub fn facts(&self, id: PageId) -> &PageFacts {
        &self.records[id as usize].facts
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

    /// The bytes page `id` takes in a store: its real size when sized
    /// ([`PageSizer::size`]), else 1 (nothing bounds bytes then).
    pub fn size(&self, id: PageId) -> u32 {
        self.weighed.get(id as usize).map_or(1, |w| w.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Facts of no consequence: the interning tests do not judge.
    fn always(_: &[Served]) -> PageFacts {
        PageFacts::unknown()
    }

    #[test]
    fn the_same_page_is_kept_once() {
        let mut p = Pages::default();
        let none = VariantSet::none(1);
        let a = [(0, None, 1), (1, None, 2)];
        let b = [(0, None, 1), (1, None, 3)];
        let ia = p.intern(0, &none, &a, None, false, always);
        let ib = p.intern(0, &none, &b, None, false, always);
        assert_ne!(ia, ib);
        assert_eq!(p.intern(0, &none, &a, None, false, always), ia);
        assert_ne!(
            p.intern(0, &none, &a, Some(4), false, always),
            ia,
            "a per-visitor page differs"
        );
        assert_ne!(
            p.intern(0, &none, &a, None, true, always),
            ia,
            "a fallback differs"
        );
        assert_eq!(p.entries(ib), &b);
        assert_eq!(p.visitor(ia), None);
    }
}
