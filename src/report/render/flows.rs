//! `--flows FILE`: serialises [`FlowRecord`]s as JSON Lines or CSV, for
//! pandas, duckdb or a spreadsheet. The records, their order and their
//! columns come from [`crate::report::flows`]; docs/flows.md documents
//! every column. Both formats write the record's fields: same names, same
//! order; an absent value is `null` in JSON and an empty cell in CSV.

use crate::report::flows::{FlowRecord, column_names};
use std::io::{self, Write};

/// Output format of `--flows`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowsFormat {
    /// One JSON object per line.
    #[default]
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

/// What comes before the first record: CSV's header line (written even
/// when no record follows), nothing for JSON Lines.
pub fn write_header(format: FlowsFormat, out: &mut impl Write) -> io::Result<()> {
    if format == FlowsFormat::Csv {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(column_names())?;
        w.flush()?;
    }
    Ok(())
}

/// Writes records (already in order, no header) in `format`.
pub fn write_records(
    records: &[FlowRecord],
    format: FlowsFormat,
    w: &mut impl Write,
) -> io::Result<()> {
    if format == FlowsFormat::Csv {
        // The csv crate quotes what needs it (commas, quotes, line breaks).
        let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(w);
        for r in records {
            out.serialize(r)?;
        }
        return out.flush();
    }
    for r in records {
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
