//! The layers of docs/design.md ("The layers"), enforced: every path into
//! the crate written in src/ (`use crate::...`, `crate::x::...` in code,
//! `$crate::`, `super::` that climbs out of its layer, `finscope::` in
//! main.rs) is checked against one import matrix, [`MATRIX`], a few
//! rules inside a layer, [`INNER`], and modules held to fewer layers,
//! [`NARROW`]; `clap` is allowed only where arguments
//! are parsed, [`EXTERN`]. A violation fails with `file:line: from -> to`.
//!
//! What cannot be fixed yet is listed in [`EXCEPTIONS`] with its reason
//! (and in docs/design.md); an exception that no longer matches anything
//! fails too, so the list only shrinks.
//!
//! Comments and string literals are blanked before paths are looked for,
//! so documentation links and messages are not imports.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The layers, lowest first, and what each may import besides itself.
/// Data flows capture -> decode -> flow -> metrics -> report -> commands;
/// `pipeline` wires the first four and owns the run's results (`Analysis`),
/// which the report is built from; `cli` turns arguments into the options
/// of every stage; `commands` wires everything; `main` runs a command.
const MATRIX: &[(&str, &[&str])] = &[
    ("capture", &[]),
    // Host evidence (issue 22): an input stage beside capture, which it
    // uses only to open (and decompress) files.
    ("host", &["capture"]),
    ("decode", &["capture"]),
    ("flow", &["capture", "decode"]),
    ("metrics", &["capture", "decode", "flow"]),
    ("pipeline", &["capture", "decode", "flow", "metrics"]),
    (
        "report",
        &["capture", "host", "decode", "flow", "metrics", "pipeline"],
    ),
    (
        "cli",
        &[
            "capture", "host", "decode", "flow", "metrics", "pipeline", "report",
        ],
    ),
    (
        "commands",
        &[
            "capture", "host", "decode", "flow", "metrics", "pipeline", "report", "cli",
        ],
    ),
    // `finscope::say!` expands to `pipeline::say`.
    ("main", &["cli", "commands", "pipeline"]),
    // lib.rs declares the layers and the `say!` macro.
    ("lib", &["pipeline"]),
];

/// Items at the crate root and the layer they stand for: `say!` writes
/// through `pipeline::say` (above the progress bar).
const ROOT_ITEMS: &[(&str, &str)] = &[("say", "pipeline")];

/// Rules inside a layer: a module (path prefix) and the modules of its own
/// layer it may import. The report's schema is its leaf: plain serde types
/// (including the `mergeable` object's) that neither build, decode nor
/// render anything. Building a report (and its `mergeable` object) never
/// needs the way back (`report::unbuild`, only `merge` uses it).
const INNER: &[(&str, &[&str])] = &[
    ("report::schema", &["report::schema", "report::format"]),
    (
        "report::build",
        &[
            "report::build",
            "report::schema",
            "report::format",
            "report::timeline",
            "report::diagnosis",
            "report::remedies",
        ],
    ),
];

/// Modules held to fewer layers than their own: (module, the lower layers
/// it may import). Renderers only render the document: besides the report
/// they read metrics' types the schema holds (`RankBy`) and constants, not
/// connections, segments or the pipeline.
const NARROW: &[(&str, &[&str])] = &[("report::render", &["metrics"])];

/// External crates allowed only in some layers: clap is what the user
/// typed, so it stays in `cli`, `commands` and `main`.
const EXTERN: &[(&str, &[&str])] = &[
    ("clap", &["cli", "commands", "main"]),
    ("clap_complete", &["cli", "commands", "main"]),
    ("clap_mangen", &["cli", "commands", "main"]),
];

/// Known violations: (file, target module prefix, reason). Each must match
/// at least one reference, or the test fails (remove it).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// One reference found in a file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    file: String,
    line: usize,
    /// Module the reference is written in (`report::schema`).
    from: String,
    /// Absolute path referred to, `::`-joined (`metrics::Interval`), or
    /// the external crate's name.
    to: String,
    /// Layer of `from` and of `to`.
    from_layer: String,
    to_layer: String,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} -> {} ({} uses {})",
            self.file, self.line, self.from_layer, self.to_layer, self.from, self.to
        )
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under src/: `src/report/render/mod.rs` is
/// `["report", "render"]`; lib.rs and main.rs are crate roots (`[]`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .skip(1)
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return Vec::new();
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The source with comments, string and char literals replaced by spaces
/// (newlines kept, so offsets keep their line).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !is_ident(b[i - 1]))
            && raw_string_hashes(&b[i + 1..]).is_some()
        {
            let hashes = raw_string_hashes(&b[i + 1..]).unwrap_or(0);
            // r, the hashes, the quote.
            for _ in 0..hashes + 2 {
                out.push(' ');
            }
            i += hashes + 2;
            while i < b.len() {
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    for _ in 0..hashes + 1 {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                out.push(blank(b[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() {
                if b[i] == '\\' {
                    out.push(' ');
                    if let Some(&e) = b.get(i + 1) {
                        out.push(blank(e));
                    }
                    i += 2;
                } else if b[i] == '"' {
                    out.push(' ');
                    i += 1;
                    break;
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 3..b.len()).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for _ in i..=e {
                        out.push(' ');
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// After an `r`: the number of `#` before the opening quote of a raw
/// string, if it is one.
fn raw_string_hashes(rest: &[char]) -> Option<usize> {
    let n = rest.iter().take_while(|&&c| c == '#').count();
    (rest.get(n) == Some(&'"')).then_some(n)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// An identifier starting at `i`, and where it ends.
fn ident_at(b: &[char], i: usize) -> Option<(String, usize)> {
    let end = (i..b.len()).find(|&k| !is_ident(b[k])).unwrap_or(b.len());
    (end > i).then(|| (b[i..end].iter().collect(), end))
}

fn skip_ws(b: &[char], mut i: usize) -> usize {
    while i < b.len() && b[i].is_whitespace() {
        i += 1;
    }
    i
}

/// The paths that start at `i` (right after `crate::`): `a::b::C`, or each
/// item of a group `{a::B, c::{D, E}}` (its first two segments are enough).
fn paths_at(b: &[char], i: usize) -> Vec<Vec<String>> {
    let i = skip_ws(b, i);
    if b.get(i) == Some(&'{') {
        let mut out = Vec::new();
        let mut depth = 0;
        let mut item_start = true;
        let mut k = i;
        while k < b.len() {
            match b[k] {
                '{' => {
                    depth += 1;
                    if depth == 1 {
                        item_start = true;
                    }
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => item_start = true,
                c if depth == 1 && item_start && is_ident(c) => {
                    item_start = false;
                    out.push(segments(b, k));
                }
                _ => {}
            }
            k += 1;
        }
        out
    } else {
        vec![segments(b, i)]
    }
}

/// `a::b::c` from `i` (stops at a group, a glob or anything else).
fn segments(b: &[char], mut i: usize) -> Vec<String> {
    let mut segs = Vec::new();
    while let Some((id, end)) = ident_at(b, i) {
        segs.push(id);
        let j = skip_ws(b, end);
        if b.get(j) == Some(&':') && b.get(j + 1) == Some(&':') {
            i = skip_ws(b, j + 2);
        } else {
            break;
        }
    }
    segs
}

/// The inline modules (`mod tests { ... }`) open at each offset: for each
/// offset of `code`, the names of the enclosing inline modules.
fn inline_modules(b: &[char]) -> Vec<Vec<String>> {
    let mut at = Vec::with_capacity(b.len());
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_ident(c) && (i == 0 || !is_ident(b[i - 1])) {
            let (id, end) = ident_at(b, i).unwrap_or_default();
            if id == "mod" {
                let j = skip_ws(b, end);
                if let Some((name, e)) = ident_at(b, j) {
                    let k = skip_ws(b, e);
                    if b.get(k) == Some(&'{') {
                        pending = Some(name);
                    }
                }
            }
            for _ in i..end {
                at.push(stack.iter().map(|(n, _)| n.clone()).collect());
            }
            i = end;
            continue;
        }
        if c == '{' {
            depth += 1;
            if let Some(name) = pending.take() {
                stack.push((name, depth));
            }
        } else if c == '}' {
            if stack.last().is_some_and(|(_, d)| *d == depth) {
                stack.pop();
            }
            depth = depth.saturating_sub(1);
        }
        at.push(stack.iter().map(|(n, _)| n.clone()).collect());
        i += 1;
    }
    at
}

fn layer_of(module: &[String], file_module_is_main: bool) -> String {
    if file_module_is_main {
        return "main".into();
    }
    match module.first() {
        None => "lib".into(),
        Some(first) => ROOT_ITEMS
            .iter()
            .find(|(item, _)| item == first)
            .map_or_else(|| first.clone(), |(_, layer)| layer.to_string()),
    }
}

/// Every reference into the crate, and every use of an [`EXTERN`] crate,
/// written in src/.
fn references() -> Vec<Found> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "src/ has its files ({})", files.len());
    let mut found = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(root())
            .expect("under the root")
            .to_path_buf();
        let text = std::fs::read_to_string(&path).expect("readable source");
        let is_main = rel == Path::new("src/main.rs");
        let file_module = module_of(&rel);
        let b: Vec<char> = code_only(&text).chars().collect();
        let inline = inline_modules(&b);
        let line_at = |off: usize| b[..off].iter().filter(|&&c| c == '\n').count() + 1;
        let from_layer = layer_of(&file_module, is_main);
        let mut push = |off: usize, from: &[String], to: Vec<String>, to_layer: String| {
            found.push(Found {
                file: rel.display().to_string(),
                line: line_at(off),
                from: if is_main {
                    "main".into()
                } else {
                    from.join("::")
                },
                to: to.join("::"),
                from_layer: from_layer.clone(),
                to_layer,
            });
        };
        let mut i = 0;
        while i < b.len() {
            if !is_ident(b[i]) || (i > 0 && is_ident(b[i - 1])) {
                i += 1;
                continue;
            }
            let Some((id, end)) = ident_at(&b, i) else {
                i += 1;
                continue;
            };
            let j = skip_ws(&b, end);
            let path_follows = b.get(j) == Some(&':') && b.get(j + 1) == Some(&':');
            let preceded_by_path = i >= 2 && b[i - 1] == ':' && b[i - 2] == ':';
            let mut module = file_module.clone();
            module.extend(inline[i].iter().cloned());
            if path_follows && !preceded_by_path {
                // `crate::`, `$crate::`, `finscope::` (the binary's path to
                // the library), `super::...`, an external crate.
                let crate_root = (id == "crate" && !is_main) || (id == "finscope" && is_main);
                if crate_root {
                    for p in paths_at(&b, j + 2) {
                        let to_layer = layer_of(&p, false);
                        push(i, &module, p, to_layer);
                    }
                } else if id == "super" && !is_main {
                    let mut up = 1;
                    let mut k = skip_ws(&b, j + 2);
                    while let Some((s, e)) = ident_at(&b, k).filter(|(s, _)| s == "super") {
                        let _ = s;
                        let after = skip_ws(&b, e);
                        if b.get(after) == Some(&':') && b.get(after + 1) == Some(&':') {
                            up += 1;
                            k = skip_ws(&b, after + 2);
                        } else {
                            break;
                        }
                    }
                    let base: Vec<String> = module[..module.len().saturating_sub(up)].to_vec();
                    for p in paths_at(&b, k) {
                        let mut abs = base.clone();
                        abs.extend(p);
                        let to_layer = layer_of(&abs, false);
                        push(i, &module, abs, to_layer);
                    }
                } else if let Some((name, _)) = EXTERN.iter().find(|(name, _)| *name == id) {
                    push(i, &module, vec![name.to_string()], name.to_string());
                }
            } else if id == "use" || id == "extern" {
                // `use clap;` / `extern crate clap;`
                let k = skip_ws(&b, end);
                let k = match ident_at(&b, k) {
                    Some((c, e)) if c == "crate" && id == "extern" => skip_ws(&b, e),
                    _ => k,
                };
                if let Some((name, e)) = ident_at(&b, k)
                    && EXTERN.iter().any(|(n, _)| *n == name)
                    && !matches!(b.get(skip_ws(&b, e)), Some(':'))
                {
                    push(k, &module, vec![name.clone()], name);
                }
            }
            i = end;
        }
    }
    found
}

/// Why a reference breaks the rules, if it does.
fn broken(f: &Found) -> Option<&'static str> {
    if let Some((_, allowed)) = EXTERN.iter().find(|(n, _)| *n == f.to_layer) {
        return (!allowed.contains(&f.from_layer.as_str())).then_some("crate not allowed here");
    }
    if f.from_layer == f.to_layer {
        let inner = INNER
            .iter()
            .find(|(unit, _)| within(&f.from, unit))
            .map(|(_, allowed)| allowed);
        return match inner {
            Some(allowed) if !allowed.iter().any(|a| within(&f.to, a)) => {
                Some("module not allowed inside its layer")
            }
            _ => None,
        };
    }
    if let Some((_, allowed)) = NARROW.iter().find(|(unit, _)| within(&f.from, unit))
        && !allowed.contains(&f.to_layer.as_str())
    {
        return Some("layer not allowed for this module");
    }
    let Some((_, allowed)) = MATRIX.iter().find(|(l, _)| *l == f.from_layer) else {
        return Some("file in no layer (add it to MATRIX)");
    };
    if !MATRIX.iter().any(|(l, _)| *l == f.to_layer) {
        return Some("path to no layer (add it to MATRIX or ROOT_ITEMS)");
    }
    (!allowed.contains(&f.to_layer.as_str())).then_some("layer not allowed")
}

/// `path` is `unit` or inside it (`report::schema::Report` in `report::schema`).
fn within(path: &str, unit: &str) -> bool {
    path == unit || path.starts_with(&format!("{unit}::"))
}

fn excepted(f: &Found) -> Option<usize> {
    EXCEPTIONS
        .iter()
        .position(|(file, to, _)| f.file == *file && within(&f.to, to))
}

#[test]
fn imports_follow_the_layers() {
    let found = references();
    let mut violations = Vec::new();
    let mut used = BTreeSet::new();
    for f in &found {
        if let Some(why) = broken(f) {
            match excepted(f) {
                Some(k) => {
                    used.insert(k);
                }
                None => violations.push(format!("  {f}: {why}")),
            }
        }
    }
    let stale: Vec<String> = EXCEPTIONS
        .iter()
        .enumerate()
        .filter(|(k, _)| !used.contains(k))
        .map(|(_, (file, to, why))| format!("  {file} -> {to} ({why})"))
        .collect();
    let mut msg = String::new();
    if !violations.is_empty() {
        msg += &format!(
            "imports against the layers of docs/design.md:\n{}\n",
            violations.join("\n")
        );
    }
    if !stale.is_empty() {
        msg += &format!(
            "exceptions that no longer match (remove them from EXCEPTIONS and docs/design.md):\n{}\n",
            stale.join("\n")
        );
    }
    assert!(msg.is_empty(), "{msg}");
}

/// The matrix runs one way: a layer may import only layers listed before
/// it, so no two layers can import each other, directly or in a circle.
#[test]
fn the_matrix_has_no_circle() {
    for (k, (layer, allowed)) in MATRIX.iter().enumerate() {
        for a in *allowed {
            let at = MATRIX.iter().position(|(l, _)| l == a);
            assert!(
                at.is_some_and(|i| i < k),
                "{layer} may import {a}, which is not a layer listed before it"
            );
        }
    }
}

/// The scanner itself: every kind of path is found, with its line and the
/// module it is written in, and comments and strings are not paths.
#[test]
fn the_scanner_finds_each_kind_of_path() {
    let src = "use crate::{flow::key::Side, metrics::{Hist, Summary}};\n\
               // crate::report::Report in a comment\n\
               fn f() -> crate::pipeline::Options { let _ = \"crate::cli\"; todo!() }\n\
               mod tests {\n    use super::super::report::X;\n    use clap::ValueEnum;\n}\n";
    let b: Vec<char> = code_only(src).chars().collect();
    // Strings and comments are blanked, offsets kept.
    assert_eq!(b.len(), src.chars().count());
    assert!(!code_only(src).contains("crate::report::Report"));
    assert!(!code_only(src).contains("crate::cli"));
    assert_eq!(
        paths_at(&b, "use crate::".len()),
        vec![
            vec!["flow".to_string(), "key".into(), "Side".into()],
            vec!["metrics".to_string()],
        ]
    );
    let inline = inline_modules(&b);
    let at = src.find("super::super").expect("in the sample");
    assert_eq!(inline[at], vec!["tests".to_string()]);
    assert_eq!(
        module_of(Path::new("src/report/render/mod.rs")),
        ["report", "render"]
    );
    assert_eq!(module_of(Path::new("src/flow/conn.rs")), ["flow", "conn"]);
    assert!(module_of(Path::new("src/lib.rs")).is_empty());
    // A lifetime is not a char literal; a char literal is blanked.
    assert_eq!(code_only("fn f<'a>(x: &'a u8)"), "fn f<'a>(x: &'a u8)");
    assert_eq!(code_only("let c = '{';"), "let c =    ;");
    assert_eq!(code_only(r"x('\'', '\n')"), "x(    ,     )");
}

/// The real tree: references the rules depend on are seen where they are.
#[test]
fn the_scanner_sees_the_tree() {
    let found = references();
    // main.rs reaches the library as `finscope::`.
    assert!(
        found
            .iter()
            .any(|f| f.file == "src/main.rs" && f.to_layer == "cli"),
        "main.rs -> cli"
    );
    // `super::` inside report resolves within report.
    assert!(found.iter().any(|f| f.file == "src/report/build.rs"
        && f.to.starts_with("report::schema")
        && f.from == "report::build"));
    // `crate::say!` is pipeline's.
    assert!(
        found
            .iter()
            .any(|f| f.to == "say" && f.to_layer == "pipeline")
    );
    // A rule that is broken is reported with file and line.
    let fake = Found {
        file: "src/flow/x.rs".into(),
        line: 3,
        from: "flow::x".into(),
        to: "report::Report".into(),
        from_layer: "flow".into(),
        to_layer: "report".into(),
    };
    assert_eq!(broken(&fake), Some("layer not allowed"));
    assert_eq!(
        fake.to_string(),
        "src/flow/x.rs:3: flow -> report (flow::x uses report::Report)"
    );
}

/// What moving clap out of metrics and render must not change: the names
/// and help of `--rank-by` and `--flows-format` (now `cli/choices.rs`), as
/// `--help` prints them and as a wrong value is refused (exit 2).
#[test]
fn value_enums_keep_their_names_and_help() {
    let run = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("finscope")
            .expect("the binary")
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, help, _) = run(&["analyze", "--help"]);
    assert_eq!(code, Some(0));
    for line in [
        "          - problems:        FIN retransmissions + unACKed FINs (default)\n",
        "          - p99-fin-ack:     p99 of local FIN -> remote ACK latency\n",
        "          - retransmissions: FIN retransmissions\n",
        "          - unacked:         UnACKed FINs\n",
        "          - closes:          Connections closed\n",
        "          - jsonl: One JSON object per line\n",
        "          - csv:   Comma-separated values with a header line\n",
    ] {
        assert!(help.contains(line), "{line:?} not in:\n{help}");
    }
    let (code, _, err) = run(&["analyze", "--rank-by", "p99", "x.pcap"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("[possible values: problems, p99-fin-ack, retransmissions, unacked, closes]"),
        "{err}"
    );
    let (code, _, err) = run(&["analyze", "--flows", "-", "--flows-format", "tsv", "x.pcap"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("[possible values: jsonl, csv]"), "{err}");
}

/// docs/design.md lists every known exception the test allows (file and
/// what it imports), so the two lists cannot drift apart.
#[test]
fn exceptions_are_listed_in_the_design() {
    let design = std::fs::read_to_string(root().join("docs/design.md")).expect("docs/design.md");
    for (file, to, _) in EXCEPTIONS {
        let row = design
            .lines()
            .find(|l| l.starts_with(&format!("| `{file}` | `{to}`")));
        assert!(
            row.is_some(),
            "docs/design.md has no row `| `{file}` | `{to}`...` for this exception"
        );
    }
}
