//! Reports. [`Report`] is the document both renderers draw from: the serde
//! structs below *are* the JSON schema (docs/report.md documents every
//! field), and the text report renders the same values, so the two never
//! disagree. Renderers only render; nothing here reads the wall clock.

pub mod build;
pub mod diagnosis;
pub mod flows;
pub mod format;
pub mod load;
pub mod remedies;
pub mod render;
pub mod schema;
pub mod timeline;
pub mod unbuild;

pub use build::{ReportOptions, build};
pub use schema::*;
