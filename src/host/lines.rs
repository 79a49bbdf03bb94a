//! Lines of a text input, each at most [`MAX_LINE`] bytes: a longer one
//! is skipped (read through to its newline without being kept) and said
//! so, never buffered whole.

use super::MAX_LINE;
use std::io::{self, BufRead};

/// What the next line is.
pub(crate) enum Line<'a> {
    /// A line (without its `\n`, nor a `\r` before it); `cut` when the
    /// input ended without a newline after it.
    Text { bytes: &'a [u8], cut: bool, n: u64 },
    /// A line longer than [`MAX_LINE`] bytes (its length), skipped.
    TooLong(u64),
}

pub(crate) struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes of `inner`'s buffer handed out by the last call, consumed at
    /// the next (a line inside the buffer is returned without a copy).
    pending: usize,
    /// 1-based number of the line last returned.
    pub(crate) number: u64,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(inner: R) -> Lines<R> {
        Lines {
            inner,
            buf: Vec::with_capacity(256),
            pending: 0,
            number: 0,
        }
    }

    /// The next line, `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.inner.consume(std::mem::take(&mut self.pending));
        self.buf.clear();
        // The common case: the whole line is in the reader's buffer.
        let first = loop {
            match self.inner.fill_buf() {
                Ok(c) => break c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if first.is_empty() {
            return Ok(None);
        }
        if let Some(i) = memchr(first)
            && i <= MAX_LINE
        {
            self.pending = i + 1;
            self.number += 1;
            // Re-borrowed for the lifetime of the answer.
            let chunk = self.inner.fill_buf()?;
            return Ok(Some(Line::Text {
                bytes: trim_cr(&chunk[..i]),
                cut: false,
                n: self.number,
            }));
        }
        let mut skipped: Option<u64> = None;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !any {
                    return Ok(None);
                }
                self.number += 1;
                return Ok(Some(match skipped {
                    Some(n) => Line::TooLong(n),
                    None => Line::Text {
                        bytes: trim_cr(&self.buf),
                        cut: true,
                        n: self.number,
                    },
                }));
            }
            any = true;
            let (take, done) = match memchr(chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            match skipped.as_mut() {
                Some(n) => *n += take as u64,
                None if self.buf.len() + take > MAX_LINE => {
                    skipped = Some((self.buf.len() + take) as u64);
                    self.buf.clear();
                }
                None => self.buf.extend_from_slice(&chunk[..take]),
            }
            self.inner.consume(take + usize::from(done));
            if done {
                self.number += 1;
                return Ok(Some(match skipped {
                    Some(n) => Line::TooLong(n),
                    None => Line::Text {
                        bytes: trim_cr(&self.buf),
                        cut: false,
                        n: self.number,
                    },
                }));
            }
        }
    }
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<String> {
        let mut l = Lines::new(io::BufReader::with_capacity(16, input));
        let mut out = Vec::new();
        while let Some(line) = l.next_line().unwrap() {
            out.push(match line {
                Line::Text { bytes, cut, .. } => {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(bytes),
                        if cut { "|cut" } else { "" }
                    )
                }
                Line::TooLong(n) => format!("long {n}"),
            });
        }
        out
    }

    #[test]
    fn lines_bounded() {
        assert_eq!(all(b"a\r\nbb\n\nc"), ["a", "bb", "", "c|cut"]);
        let mut big = b"x\n".to_vec();
        big.extend(std::iter::repeat_n(b'y', MAX_LINE + 10));
        big.extend_from_slice(b"\nz\n");
        assert_eq!(all(&big), ["x", &format!("long {}", MAX_LINE + 10), "z"]);
        assert!(all(b"").is_empty());
    }
}
