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

/// Appends `records` to `out` in `format` (no header), one at a time,
/// calling `each(start, end)` with each one's bytes, `out[start..end]`;
/// stops after a record for which `each` returns false. Returns how many
/// were written. Each record's bytes are what one writer of them all
/// would write.
pub fn append_records(
    records: impl Iterator<Item = FlowRecord>,
    format: FlowsFormat,
    out: &mut Vec<u8>,
    mut each: impl FnMut(usize, usize) -> bool,
) -> io::Result<usize> {
    let mut n = 0;
    if format == FlowsFormat::Csv {
        // The csv crate quotes what needs it (commas, quotes, line breaks).
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        for r in records {
            let start = w.get_ref().len();
            w.serialize(&r)?;
            w.flush()?;
            n += 1;
            if !each(start, w.get_ref().len()) {
                break;
            }
        }
        return Ok(n);
    }
    for r in records {
        let start = out.len();
        serde_json::to_writer(&mut *out, &r)?;
        out.push(b'\n');
        n += 1;
        if !each(start, out.len()) {
            break;
        }
    }
    Ok(n)
}
