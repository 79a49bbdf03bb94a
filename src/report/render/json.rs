//! The JSON report: the [`Report`] document, pretty-printed, one per run.

use crate::report::Report;
use std::io::{self, Write};

/// Writes the report as one JSON document followed by a newline.
pub fn render(r: &Report, w: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, r).map_err(io::Error::from)?;
    writeln!(w)
}
