//! The JSON report: the [`Report`] document, pretty-printed, one per run.

use crate::report::Report;
use serde::Serialize;
use std::io::{self, Write};

/// Writes the report as one JSON document followed by a newline.
pub fn render(r: &Report, w: &mut impl Write) -> io::Result<()> {
    to_writer_pretty(&mut *w, r)?;
    writeln!(w)
}

/// `serde_json::to_writer_pretty`, byte for byte, in fewer writes: a line
/// break and its indentation go out as one slice (`Pretty`).
pub fn to_writer_pretty<W: Write, T: Serialize + ?Sized>(w: W, v: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, Pretty::default());
    v.serialize(&mut ser).map_err(io::Error::from)
}

/// serde_json's `PrettyFormatter` with its two-space indent, but each line
/// break written with its indentation in one `write_all` (`",\n"` and the
/// spaces of the current depth, kept in `line`) instead of one per level:
/// a report's peers sit five levels deep, and the writes were a tenth of
/// the rendering's instructions.
struct Pretty {
    depth: usize,
    has_value: bool,
    /// `",\n"` then two spaces per level up to the deepest seen.
    line: Vec<u8>,
}

impl Default for Pretty {
    fn default() -> Pretty {
        Pretty {
            depth: 0,
            has_value: false,
            line: b",\n".to_vec(),
        }
    }
}

impl Pretty {
    /// `",\n"` (or `"\n"` when `first`) and the indentation of `depth`.
    fn newline(&mut self, first: bool) -> &[u8] {
        let end = 2 + 2 * self.depth;
        if self.line.len() < end {
            self.line.resize(end, b' ');
        }
        &self.line[usize::from(first)..end]
    }

    /// An array or object opened: one level deeper, no value in it yet.
    fn begin<W: ?Sized + Write>(&mut self, w: &mut W, open: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(open)
    }

    /// An array or object closed: on its own line after its values.
    fn end<W: ?Sized + Write>(&mut self, w: &mut W, close: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            w.write_all(self.newline(true))?;
        }
        w.write_all(close)
    }
}

impl serde_json::ser::Formatter for Pretty {
    #[inline]
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"[")
    }

    #[inline]
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"]")
    }

    #[inline]
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(self.newline(first))
    }

    #[inline]
    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    #[inline]
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.begin(w, b"{")
    }

    #[inline]
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.end(w, b"}")
    }

    #[inline]
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(self.newline(first))
    }

    #[inline]
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    #[inline]
    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same bytes as serde_json's pretty printer, at every depth, for
    /// empty and full arrays and objects.
    #[test]
    fn pretty_is_serde_jsons_byte_for_byte() {
        let v = serde_json::json!({
            "a": [], "b": {}, "c": [1, [2, [3, {"d": [{}, [], "e\n\"f"]}]]],
            "g": {"h": {"i": {"j": {"k": {"l": [null, true, 1.5, -2]}}}}},
            "m": [[[[[[[]]]]]]], "n": 0
        });
        for doc in [
            v.clone(),
            v["c"].clone(),
            serde_json::json!([]),
            serde_json::json!(7),
        ] {
            let mut ours = Vec::new();
            to_writer_pretty(&mut ours, &doc).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string_pretty(&doc).unwrap()
            );
        }
    }
}
