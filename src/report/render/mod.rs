//! Renderers: each writes the [`super::Report`] document (or a part of it)
//! in one format and computes nothing.

pub mod flows;
pub mod html;
pub mod json;
pub mod text;
pub mod text_host;
pub mod timeline;
pub mod why;

/// How the text output looks: the columns it fits and whether it is
/// coloured. Decided once per run (from `--color` and the terminal) and
/// handed to every text renderer; nothing reads it from a global.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextStyle {
    /// Columns the text fits in (`None`: whole lines, for grep).
    pub width: Option<usize>,
    /// Colour (`--color`).
    pub color: bool,
}

impl TextStyle {
    /// The style of `cols` columns (narrower than `MIN_WIDTH`: no
    /// limit), coloured when `color`.
    pub fn new(cols: Option<usize>, color: bool) -> TextStyle {
        TextStyle {
            width: cols.filter(|w| *w >= MIN_WIDTH),
            color,
        }
    }

    /// `text` in the colour of `what` when colour is on, else as it is.
    pub fn paint(&self, what: Paint, text: &str) -> String {
        use anstyle::{AnsiColor, Style};
        if !self.color {
            return text.to_string();
        }
        let style = match what {
            Paint::Bad => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
            Paint::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            Paint::Headline => Style::new().bold(),
        };
        format!("{style}{text}{style:#}")
    }

    /// Writes what `render` writes, fitted to the width when one is set.
    pub fn fitted(
        &self,
        w: &mut dyn std::io::Write,
        render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        render(&mut buf)?;
        match self.width {
            Some(n) => w.write_all(fit(&String::from_utf8_lossy(&buf), n).as_bytes()),
            None => w.write_all(&buf),
        }
    }
}

/// What a painted piece of text is.
#[derive(Clone, Copy, Debug)]
pub enum Paint {
    /// A failed bound, a regression: bold red.
    Bad,
    /// A warning (damage, interruption, eviction): yellow.
    Warn,
    /// A diagnosis headline: bold.
    Headline,
}

/// Whether `c` must not reach a terminal as it is: a control character
/// (C0, DEL, C1: escape sequences, newlines, carriage returns) or a
/// bidirectional formatting character (which reorders what follows it).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every character a terminal would act on written as its Rust
/// escape (`\n`, `\u{1b}`, `\u{202e}`): a string from a report file or
/// the command line (a label, a file name, a peer) shows as one line of
/// text, and cannot clear the screen, move the cursor or fake a line.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `v` (a report, or any document read back exactly) with every string in
/// it [`escape`]d, for text output; `None` when none needs it (or the
/// round trip fails: then `v` is shown as it is).
pub fn escaped<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> Option<T> {
    fn walk(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => match escape(s) {
                std::borrow::Cow::Owned(e) => {
                    *s = e;
                    true
                }
                std::borrow::Cow::Borrowed(_) => false,
            },
            serde_json::Value::Array(a) => a.iter_mut().fold(false, |any, x| walk(x) | any),
            serde_json::Value::Object(m) => {
                // Keys too (`state_time_us`, `peaks`: finscope's own names).
                let mut any = false;
                let keys: Vec<String> = m.keys().filter(|k| escape(k) != **k).cloned().collect();
                for k in keys {
                    if let Some(x) = m.remove(&k) {
                        m.insert(escape(&k).into_owned(), x);
                        any = true;
                    }
                }
                m.values_mut().fold(any, |any, x| walk(x) | any)
            }
            _ => false,
        }
    }
    let mut j = serde_json::to_value(v).ok()?;
    if !walk(&mut j) {
        return None;
    }
    serde_json::from_value(j).ok()
}

/// Narrowest width honoured: below it lines are left as they are.
const MIN_WIDTH: usize = 40;

/// The width of the terminal on standard output, else `$COLUMNS`, else
/// none (a pipe or file keeps whole lines, for grep). Standard output
/// only: `terminal_size()` would take stderr's terminal for a pipe.
pub fn terminal_width() -> Option<usize> {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stdout()) {
        return Some(usize::from(w));
    }
    std::env::var("COLUMNS").ok()?.trim().parse().ok()
}

/// A Wireshark display filter on a line of its own (a peer's worst
/// connection): never wrapped, so that it is copied whole.
fn is_filter(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("ip.addr==") || t.starts_with("ipv6.addr==")
}

/// Wraps every line of `text` wider than `width` at word boundaries; the
/// continuation lines are indented to where the line's value starts (after
/// a label and two spaces), so a `label   value` row stays readable.
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if textwrap::core::display_width(line) <= width || is_filter(line) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let value = line[lead..]
            .find("  ")
            .map(|i| {
                let rest = &line[lead + i..];
                lead + i + (rest.len() - rest.trim_start().len())
            })
            .filter(|v| *v + 20 <= width)
            .unwrap_or(lead + 4);
        let indent = " ".repeat(value.min(width / 2));
        let opts = textwrap::Options::new(width)
            .subsequent_indent(&indent)
            .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit)
            .break_words(true);
        for l in textwrap::wrap(line, opts) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fit_wraps_at_words_under_the_value_column() {
        let text = "  file           a-long-name.pcap (pcap, 139,051 bytes, 1,209 records, and more words here)\nshort\n";
        let got = super::fit(text, 60);
        for l in got.lines() {
            assert!(l.chars().count() <= 60, "{l}");
        }
        assert_eq!(
            got,
            "  file           a-long-name.pcap (pcap, 139,051 bytes,\n                 1,209 records, and more words here)\nshort\n"
        );
    }
}
