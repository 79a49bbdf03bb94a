//! Renderers: each writes the [`super::Report`] document (or a part of it)
//! in one format and computes nothing.

pub mod flows;
pub mod html;
pub mod json;
pub mod text;
pub mod timeline;
