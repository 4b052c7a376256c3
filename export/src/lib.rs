//! A Contentstack CLI stack export (`csdx cm:stacks:export`), read into
//! what a Delivery API answers from: content types with their schemas,
//! entries per content type and locale, assets and their files, locales
//! with their fallbacks, environments.
//!
//! The export is what a team already has of its own site; serving it lets
//! the team's app run against ttlab's mocks with its real content model.
//! Folder or `.zip`, with or without the branch folder the CLI writes
//! (`main/`). Every problem names the file inside the export and, for
//! JSON, its line and column.
//!
//! ```no_run
//! let export = ttlab_export::Export::open(std::path::Path::new("site-export"))?;
//! for e in &export.entries {
//!     println!("{} {} {}", e.content_type, e.locale, e.uid);
//! }
//! # Ok::<(), ttlab_export::ExportError>(())
//! ```

mod error;
mod model;
mod read;
pub mod schema;
mod tree;

pub use error::ExportError;
pub use model::{Asset, AssetFile, ContentType, Entry, Environment, Export, Locale, Unsupported};
pub use schema::{Block, Field, FieldKind, TextStyle};
pub use tree::MAX_ZIP_BYTES;
