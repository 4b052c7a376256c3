//! The reference SSR origin, the variant-aware cache layer (keys, freshness,
//! stores, coalescing, purge) and the edge and CDN layers.
//!
//! Not built yet: this crate is the home of issue 4. It exists now so the
//! workspace has its final shape (`scenarios` ← `ssr-origin` ← `loadgen`).
