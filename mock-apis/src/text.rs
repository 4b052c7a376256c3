//! The text a page prints of an entry, whichever render the Delivery mock
//! answers it with: the one rule the simulator sizes its pages by.

use ttlab_scenarios::World;
use ttlab_scenarios::model::{EntryIdx, VariantRef};
use ttlab_scenarios::token::EntryToken;

use crate::export_render;
use crate::render::{EntryText, synthetic_text};

/// The `title` and `body` the Delivery mock answers for `entry` served as
/// `variant` at `version`, whichever render applies: a stack export's
/// fields when the scenario serves one ([`export_render::entry_text`]),
/// else the synthetic entry's ([`synthetic_text`]).
pub fn entry_text(
    world: &World,
    entry: EntryIdx,
    variant: Option<VariantRef>,
    version: u32,
) -> EntryText {
    let token = EntryToken {
        entry: world.scenario().content.entries[entry as usize].uid.clone(),
        variant: variant.map(|v| world.alias(v)),
        version,
    };
    match world.scenario().content.export.as_deref() {
        Some(export) => export_render::entry_text(world, export, entry, variant, &token),
        None => synthetic_text(world, entry, &token),
    }
}
