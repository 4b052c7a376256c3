//! A visitor's variants, and the rule that assigns them.

use std::fmt;

use crate::model::{
    Assignment, AttrIdx, Audience, ExpIdx, Experience, ValueIdx, VarIdx, VariantRef,
};

use super::seeds::split_position;

/// Most experiences a scenario may have; keeps [`VariantSet`] inline and `Copy`.
pub const MAX_EXPERIENCES: usize = 32;

/// One optional variant per experience, in priority (manifest) order.
///
/// This is the truth a response's `x-ttlab-variants` is compared with, and the
/// variance part of variant cache keys; it is `Copy` and never allocates, so
/// the simulator can pass it around per request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VariantSet {
    len: u8,
    /// 0 = no variant; k = variant index k - 1.
    slots: [u8; MAX_EXPERIENCES],
}

impl VariantSet {
    /// No variant in any of `experiences` experiences.
    pub fn none(experiences: usize) -> Self {
        assert!(
            experiences <= MAX_EXPERIENCES,
            "at most {MAX_EXPERIENCES} experiences"
        );
        VariantSet {
            len: experiences as u8,
            slots: [0; MAX_EXPERIENCES],
        }
    }

    /// Number of experiences (slots), with or without a variant.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no experiences at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The variant of experience `e`, if any.
    pub fn get(&self, e: ExpIdx) -> Option<VarIdx> {
        match self.slots.get(usize::from(e)) {
            Some(0) | None => None,
            Some(k) => Some(VarIdx::from(*k - 1)),
        }
    }

    /// Sets the variant of experience `e`.
    pub fn set(&mut self, e: ExpIdx, v: Option<VarIdx>) {
        let e = usize::from(e);
        assert!(e < self.len(), "experience index {e} out of range");
        self.slots[e] = v.map_or(0, |v| {
            u8::try_from(v + 1).expect("at most 255 variants per experience")
        });
    }

    /// One byte per experience: 0 = no variant, k = variant k - 1 — the
    /// form cache keys encode.
    pub fn as_slots(&self) -> &[u8] {
        &self.slots[..self.len()]
    }

    /// Whether the variant of experience `e` is `v` (a slot compare; the
    /// truth's inner loop).
    #[inline]
    pub fn has(&self, e: ExpIdx, v: VarIdx) -> bool {
        self.slots
            .get(usize::from(e))
            .is_some_and(|k| *k != 0 && VarIdx::from(*k - 1) == v)
    }

    /// The variants present, in priority order.
    pub fn iter(&self) -> impl Iterator<Item = VariantRef> + '_ {
        (0..self.len).filter_map(|e| {
            let e = ExpIdx::from(e);
            self.get(e).map(|v| VariantRef {
                experience: e,
                variant: v,
            })
        })
    }

    /// Whether `self` and `other` have the same variant in every experience
    /// of `mask` (`self.project(mask) == other.project(mask)` for sets of
    /// one length), slot by slot without a branch: the simulator asks it of
    /// every page it serves, and which slots differ is anyone's guess.
    pub fn agrees_on(&self, other: &VariantSet, mask: u64) -> bool {
        let mut differ = u8::from(self.len != other.len);
        for i in 0..self.len().min(other.len()) {
            let kept = ((mask >> i) & 1) as u8;
            differ |= u8::from(self.slots[i] != other.slots[i]) & kept;
        }
        differ == 0
    }

    /// Only the experiences in `mask` (bit i = experience i); the others read
    /// as no variant. This is the `page` key scope.
    #[must_use]
    pub fn project(&self, mask: u64) -> VariantSet {
        let mut out = *self;
        for (i, slot) in out.slots.iter_mut().enumerate().take(self.len()) {
            if mask & (1u64 << i) == 0 {
                *slot = 0;
            }
        }
        out
    }
}

impl fmt::Debug for VariantSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.len).map(|e| self.get(ExpIdx::from(e))))
            .finish()
    }
}

/// What an experience looks like at one instant: running or not, and its splits.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperienceState {
    /// Running.
    pub active: bool,
    /// A/B percentages per variant (empty for segmented).
    pub splits: Vec<f64>,
}

/// The variant an experience gives a visitor: the one rule of assignment.
///
/// `value_of` reads the visitor's attributes (by index), `uid` places it in
/// A/B splits. Inactive experiences give nothing; A/B experiences give
/// nothing outside their audience; segmented ones give the first variant
/// whose audience matches.
pub fn assign(
    exp: &Experience,
    state: &ExperienceState,
    uid: &str,
    value_of: &impl Fn(AttrIdx) -> Option<ValueIdx>,
) -> Option<VarIdx> {
    if !state.active {
        return None;
    }
    match &exp.assignment {
        Assignment::Ab { audience, .. } => {
            if audience.as_ref().is_some_and(|a| !a.matches(value_of)) {
                return None;
            }
            pick_split(&state.splits, split_position(uid, &exp.uid))
        }
        Assignment::Segmented { audiences } => audiences
            .iter()
            .position(|a: &Audience| a.matches(value_of))
            .map(|i| i as VarIdx),
    }
}

/// The variant whose cumulative split range holds `position` (0..100).
fn pick_split(splits: &[f64], position: f64) -> Option<VarIdx> {
    let mut upper = 0.0;
    for (i, pct) in splits.iter().enumerate() {
        upper += pct;
        if position < upper {
            return Some(i as VarIdx);
        }
    }
    // Rounding at the top end: the last variant with a share.
    splits.iter().rposition(|p| *p > 0.0).map(|i| i as VarIdx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ranges_are_cumulative() {
        let s = [20.0, 0.0, 80.0];
        assert_eq!(pick_split(&s, 0.0), Some(0));
        assert_eq!(pick_split(&s, 19.999), Some(0));
        assert_eq!(pick_split(&s, 20.0), Some(2));
        assert_eq!(pick_split(&s, 99.9999), Some(2));
        assert_eq!(pick_split(&[], 10.0), None);
    }

    #[test]
    fn variant_set_absent_differs_from_variant_zero() {
        let mut a = VariantSet::none(2);
        let b = VariantSet::none(2);
        a.set(1, Some(0));
        assert_ne!(a, b);
        assert_eq!(a.get(1), Some(0));
        assert_eq!(a.get(0), None);
        assert_eq!(a.iter().count(), 1);
        assert_eq!(a.project(0b01), b);
        assert_eq!(a.project(0b10), a);
    }

    proptest::proptest! {
        /// `agrees_on` is the comparison of the two projections, for every
        /// pair of sets of 3 experiences (no variant, or one of 3) and mask.
        #[test]
        fn agreeing_on_a_mask_is_equal_projections(
            a in proptest::collection::vec(0u8..4, 3),
            b in proptest::collection::vec(0u8..4, 3),
            mask in 0u64..8,
        ) {
            let set = |slots: &[u8]| {
                let mut v = VariantSet::none(3);
                for (e, k) in slots.iter().enumerate() {
                    v.set(e as ExpIdx, k.checked_sub(1).map(VarIdx::from));
                }
                v
            };
            let (a, b) = (set(&a), set(&b));
            proptest::prop_assert_eq!(a.agrees_on(&b, mask), a.project(mask) == b.project(mask));
        }
    }

    #[test]
    fn sets_of_different_lengths_never_agree() {
        assert!(!VariantSet::none(2).agrees_on(&VariantSet::none(3), 0));
        assert!(VariantSet::none(3).agrees_on(&VariantSet::none(3), 0));
    }
}
