//! The system under test: a reference SSR origin, the variant-aware cache
//! library it and the CDN and edge layers share, and the layers themselves.

pub mod cache;
