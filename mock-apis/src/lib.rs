//! Mock Contentstack Personalize Edge API and Delivery API, backed by the
//! scenario's world (`ttlab-scenarios`).
//!
//! Not built yet: this crate is the home of issue 3. It exists now so the
//! workspace has its final shape and the dependency direction is fixed
//! (`scenarios` ← `mock-apis`).
