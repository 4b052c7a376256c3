//! The system under test: a reference SSR origin, the variant-aware cache
//! library it and the CDN and edge layers share, and the layers themselves,
//! composed per architecture by [`stack`].

pub mod cache;
pub mod http_proxy;
pub mod origin;
pub mod proxy;
pub mod render;
pub mod response;
pub mod stack;
pub mod upstream;
pub mod varnish;
pub mod webhook;
