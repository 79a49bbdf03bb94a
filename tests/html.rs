//! The HTML report (`--html`): for every generated capture in testdata/
//! (the golden files' list), the page is well-formed (a small strict parser
//! below: every tag closed in order, attributes quoted, `<` and `&` escaped),
//! self-contained (nothing loaded from anywhere), holds one plot per
//! section, and shows the JSON report's numbers.
//! No HTML dependency: the page is generated in a strict subset of HTML
//! (every non-void element closed), which a 150-line parser checks exactly.

use finscope::report::Report;
use finscope::report::format::thousands;
use finscope_testkit::cli;
use std::path::Path;

/// The captures of tests/golden.rs: testdata/*.pcap and *.pcapng.
fn captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(cli::root().join("testdata"))
        .expect("testdata")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    v.sort();
    v
}

fn finscope(args: &[&str]) -> std::process::Output {
    cli::cmd()
        .current_dir(cli::root())
        .args(args)
        .output()
        .expect("run finscope")
}

/// The page on stdout and the JSON report of one run.
fn page_and_report(dir: &Path, args: &[&str]) -> (String, Report) {
    let json = dir.join("r.json");
    let json_arg = json.to_string_lossy().into_owned();
    let mut all = vec!["analyze", "-q", "--html", "-", "--json-out", &json_arg];
    all.extend_from_slice(args);
    let out = finscope(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = String::from_utf8(out.stdout).expect("UTF-8 page");
    let report: Report =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("JSON");
    (page, report)
}

// ---- a strict HTML parser -------------------------------------------------

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Child>,
}

#[derive(Debug)]
enum Child {
    Elem(Node),
    Text(String),
}

const VOID: [&str; 13] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

fn decode(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..]
            .find(';')
            .ok_or_else(|| format!("bare & in {s:?}"))?;
        let ent = &rest[i + 1..i + semi];
        out.push(match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "#39" | "apos" => '\'',
            _ => return Err(format!("unknown entity &{ent}; in {s:?}")),
        });
        rest = &rest[i + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_attrs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut attrs = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
        {
            return Err(format!("bad attribute name in {s:?}"));
        }
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix('=') {
            let quote = r
                .chars()
                .next()
                .filter(|q| *q == '"' || *q == '\'')
                .ok_or_else(|| format!("unquoted attribute value in {s:?}"))?;
            let close = r[1..]
                .find(quote)
                .ok_or_else(|| format!("unterminated attribute value in {s:?}"))?;
            let value = &r[1..1 + close];
            if value.contains('<') {
                return Err(format!("< in attribute value {value:?}"));
            }
            attrs.push((name, decode(value)?));
            rest = &r[close + 2..];
            if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                return Err(format!("no space after an attribute in {s:?}"));
            }
        } else {
            attrs.push((name, String::new()));
        }
        rest = rest.trim_start();
    }
    Ok(attrs)
}

/// Parses a whole document: exactly one `<html>` element after the doctype.
fn parse(doc: &str) -> Result<Node, String> {
    let mut stack = vec![Node::default()];
    let mut rest = doc;
    while !rest.is_empty() {
        let Some(i) = rest.find('<') else {
            push_text(&mut stack, rest)?;
            break;
        };
        push_text(&mut stack, &rest[..i])?;
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[end + 3..];
        } else if rest.starts_with("<!") {
            let end = rest.find('>').ok_or("unterminated declaration")?;
            if !rest[..end].eq_ignore_ascii_case("<!DOCTYPE html") {
                return Err(format!("unexpected declaration {}", &rest[..end]));
            }
            rest = &rest[end + 1..];
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("unterminated end tag")?;
            let name = r[..end].trim().to_ascii_lowercase();
            let node = stack.pop().ok_or("end tag without element")?;
            if node.name != name || stack.is_empty() {
                return Err(format!("</{name}> closes <{}>", node.name));
            }
            if let Some(parent) = stack.last_mut() {
                parent.children.push(Child::Elem(node));
            }
            rest = &r[end + 1..];
        } else {
            let end = rest.find('>').ok_or("unterminated tag")?;
            let inner = &rest[1..end];
            let (inner, self_closing) = match inner.strip_suffix('/') {
                Some(x) => (x, true),
                None => (inner, false),
            };
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = inner[..name_end].to_ascii_lowercase();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("bad tag {:?}", &rest[..end + 1]));
            }
            let node = Node {
                attrs: parse_attrs(&inner[name_end..])?,
                name: name.clone(),
                children: Vec::new(),
            };
            rest = &rest[end + 1..];
            if name == "script" || name == "style" {
                // Raw text up to the end tag.
                let close = format!("</{name}>");
                let end = rest.find(&close).ok_or(format!("unterminated <{name}>"))?;
                let mut node = node;
                node.children.push(Child::Text(rest[..end].to_string()));
                rest = &rest[end + close.len()..];
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Child::Elem(node));
                }
            } else if self_closing || VOID.contains(&name.as_str()) {
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Child::Elem(node));
                }
            } else {
                stack.push(node);
            }
        }
    }
    if stack.len() != 1 {
        let open: Vec<&str> = stack.iter().skip(1).map(|n| n.name.as_str()).collect();
        return Err(format!("unclosed elements: {open:?}"));
    }
    let mut doc = stack.pop().ok_or("empty")?;
    let elems: Vec<Node> = doc
        .children
        .drain(..)
        .filter_map(|c| match c {
            Child::Elem(n) => Some(n),
            Child::Text(_) => None,
        })
        .collect();
    match <[Node; 1]>::try_from(elems) {
        Ok([html]) if html.name == "html" => Ok(html),
        _ => Err("the document is not one <html> element".into()),
    }
}

fn push_text(stack: &mut [Node], text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    if text.contains('>') {
        return Err(format!("unescaped > in text {text:?}"));
    }
    let t = decode(text)?;
    let top = stack.last_mut().ok_or("text outside the document")?;
    if top.name.is_empty() && !t.trim().is_empty() {
        return Err(format!("text outside <html>: {t:?}"));
    }
    top.children.push(Child::Text(t));
    Ok(())
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }

    /// Every element below this one (depth first, in document order).
    fn all(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        for c in &self.children {
            if let Child::Elem(n) = c {
                out.push(n);
                out.extend(n.all());
            }
        }
        out
    }

    fn find(&self, pred: impl Fn(&Node) -> bool) -> Vec<&Node> {
        self.all().into_iter().filter(|n| pred(n)).collect()
    }

    fn by_id(&self, id: &str) -> &Node {
        let found = self.find(|n| n.attr("id") == Some(id));
        assert_eq!(found.len(), 1, "exactly one element with id {id}");
        found[0]
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            match c {
                Child::Text(t) => s.push_str(t),
                Child::Elem(n) => s.push_str(&n.text()),
            }
        }
        s
    }

    /// The text of the child element with this class.
    fn cell(&self, class: &str) -> String {
        let found = self.find(|n| n.has_class(class));
        assert_eq!(found.len(), 1, "one .{class} in <{}>", self.name);
        found[0].text()
    }
}

#[test]
fn the_parser_rejects_malformed_pages() {
    let ok = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><p a=\"&amp;\">x &lt; y</p><svg><rect/></svg></body></html>";
    assert!(parse(ok).is_ok(), "{:?}", parse(ok));
    for bad in [
        "<html><body><p>x</body></html>",
        "<html><body><p>x</p></html>",
        "<html><p a=b>x</p></html>",
        "<html><p>a & b</p></html>",
        "<html><p>a > b</p></html>",
        "<html></html><html></html>",
        "<html><p>x</p>",
    ] {
        assert!(parse(bad).is_err(), "{bad} parsed");
    }
}

// ---- the checks ------------------------------------------------------------

/// Nothing is loaded from anywhere.
fn self_contained(html: &Node, name: &str) {
    for n in html.all() {
        for a in ["src", "href", "xlink:href", "action", "data"] {
            if let Some(v) = n.attr(a) {
                let v = v.to_ascii_lowercase();
                assert!(
                    !v.contains("http") && !v.contains("//"),
                    "{name}: <{} {a}={v:?}> loads something",
                    n.name
                );
            }
        }
        assert!(
            !(n.name == "link" && n.attr("rel").is_some_and(|r| r.contains("stylesheet"))),
            "{name}: a stylesheet link"
        );
        assert!(
            !(n.name == "script" && n.attr("src").is_some()),
            "{name}: a script with src"
        );
        assert!(!matches!(
            n.name.as_str(),
            "iframe" | "img" | "object" | "embed"
        ));
        if n.name == "style" {
            let css = n.text();
            assert!(
                !css.contains("@import") && !css.contains("url("),
                "{name}: CSS loads something"
            );
        }
    }
}

fn svgs_in<'a>(section: &'a Node, class: &str) -> Vec<&'a Node> {
    section.find(|n| n.name == "svg" && n.has_class(class))
}

/// The page's numbers are the JSON's.
fn same_numbers(html: &Node, r: &Report, name: &str) {
    let frames = html.by_id("frames");
    assert_eq!(
        frames.attr("data-value"),
        Some(r.packets.frames.to_string().as_str())
    );
    assert_eq!(frames.text(), thousands(r.packets.frames), "{name}: frames");

    let outcomes = html.by_id("outcomes");
    let lf = r.outcomes_by_closer.local_first.rows();
    let rf = r.outcomes_by_closer.remote_first.rows();
    for (i, (outcome, n)) in r.outcomes.rows().into_iter().enumerate() {
        let row = outcomes.find(|x| x.name == "tr" && x.attr("data-outcome") == Some(outcome));
        assert_eq!(row.len(), 1, "{name}: one row for {outcome}");
        let cells: Vec<String> = row[0]
            .find(|x| x.name == "td")
            .iter()
            .map(|c| c.text())
            .collect();
        assert_eq!(
            cells,
            [
                outcome.to_string(),
                thousands(n),
                thousands(lf[i].1),
                thousands(rf[i].1)
            ],
            "{name}: outcome {outcome}"
        );
    }

    let peers = html.by_id("peers");
    let rows = peers.find(|x| x.name == "tr" && x.has_class("peer"));
    assert_eq!(rows.len(), r.peers.len(), "{name}: one row per peer");
    for (row, p) in rows.iter().zip(&r.peers) {
        assert_eq!(row.attr("data-addr"), Some(p.addr.as_str()));
        assert_eq!(row.cell("addr"), p.addr);
        assert_eq!(row.cell("connections"), thousands(p.counts.connections));
        assert_eq!(row.cell("closes"), thousands(p.counts.closes));
        assert_eq!(
            row.cell("fin_retransmissions"),
            thousands(p.counts.fin_retransmissions)
        );
        assert_eq!(row.cell("unacked_fins"), thousands(p.counts.unacked_fins));
        assert_eq!(row.cell("rsts"), thousands(p.counts.rsts));
    }
    let filters: Vec<String> = peers
        .find(|x| x.name == "code" && x.has_class("wsf"))
        .iter()
        .map(|c| c.text())
        .collect();
    let want: Vec<&str> = r
        .peers
        .iter()
        .map(|p| p.wireshark_filter.as_str())
        .collect();
    assert_eq!(filters, want, "{name}: Wireshark filters");

    let ids: Vec<&str> = html
        .by_id("diagnosis")
        .find(|x| x.name == "li" && x.attr("data-id").is_some())
        .iter()
        .filter_map(|x| x.attr("data-id"))
        .collect();
    let want: Vec<&str> = r.diagnosis.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, want, "{name}: diagnosis ids");

    let states = html.by_id("states");
    for series in ["fin_wait_1", "time_wait", "orphans"] {
        let shown = states.find(|x| x.has_class("peak") && x.attr("data-series") == Some(series));
        let peak = r.timeline.peaks.get(series).map_or(0, |p| p.value);
        assert_eq!(shown.len(), 1, "{name}: {series} peak shown once");
        assert_eq!(
            shown[0].text(),
            thousands(peak as u64),
            "{name}: {series} peak"
        );
    }

    let latency = html.by_id("latency");
    for m in ["fin_ack", "fin_fin", "close_total"] {
        for s in ["all", "local_first", "remote_first"] {
            let Some(st) = r.latency.get(m).and_then(|x| x.get(s)) else {
                panic!("{name}: no latency.{m}.{s} in the JSON");
            };
            let row = latency.find(|x| {
                x.name == "tr"
                    && x.attr("data-metric") == Some(m)
                    && x.attr("data-split") == Some(s)
            });
            assert_eq!(row.len(), 1, "{name}: latency row {m} {s}");
            assert_eq!(row[0].cell("count"), thousands(st.count), "{name}: {m} {s}");
        }
    }
}

#[test]
fn every_capture_gives_a_well_formed_self_contained_page_with_the_json_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = captures();
    assert!(names.len() >= 20, "only {} captures", names.len());
    for name in &names {
        let (page, report) = page_and_report(dir.path(), &[&format!("testdata/{name}")]);
        let html = parse(&page).unwrap_or_else(|e| panic!("{name}: malformed page: {e}"));
        self_contained(&html, name);
        for (section, class) in [
            ("states", "plot-states"),
            ("latency", "plot-latency"),
            ("outcomes", "plot-outcomes"),
        ] {
            assert_eq!(
                svgs_in(html.by_id(section), class).len(),
                1,
                "{name}: one {class} plot in #{section}"
            );
        }
        let sparks = svgs_in(html.by_id("peers"), "spark");
        assert_eq!(
            sparks.len(),
            report.peers.len(),
            "{name}: one mini plot per peer"
        );
        same_numbers(&html, &report, name);
        // Warnings in the header, exactly when the JSON says so.
        let warned = |id: &str| !html.find(|n| n.attr("id") == Some(id)).is_empty();
        assert_eq!(warned("warn-one-sided"), report.capture.one_sided, "{name}");
        assert_eq!(
            warned("warn-one-sided-share"),
            !report.capture.one_sided && report.connections.one_sided > 0,
            "{name}"
        );
        assert_eq!(warned("warn-truncated"), report.truncated, "{name}");
    }
}

#[test]
fn settings_limits_and_thinning_on_the_kernel_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "--local",
        "10.77.0.1/32",
        "--max-orphans",
        "300",
        "--max-tw-buckets",
        "1500",
        "--bucket",
        "1ms",
        "--filter",
        "port 80 or not port 80",
        "testdata/kernel/orphan_retries/capture.pcap",
    ];
    // The analyze report holds a chart's worth of buckets.
    let (page, report) = page_and_report(dir.path(), &args);
    let html = parse(&page).expect("well-formed");
    assert_eq!(html.by_id("local").text(), "10.77.0.1/32");
    assert_eq!(
        Some(html.by_id("filter").text()),
        report.settings.filter.clone()
    );
    let n = report.timeline.buckets.len();
    assert!(n <= 1_000, "{n} buckets in the analyze report");
    // The timeline command's page has the full series, thinned to draw.
    let mut all = vec!["timeline", "-q", "--html", "-"];
    all.extend_from_slice(&args);
    let out = finscope(&all);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).expect("UTF-8 page");
    assert!(page.len() < 3_000_000, "page of {} bytes", page.len());
    let html = parse(&page).expect("well-formed");
    let mut all = vec!["timeline", "-q", "--json"];
    all.extend_from_slice(&args);
    let out = finscope(&all);
    assert_eq!(out.status.code(), Some(0));
    let mut doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    doc.as_object_mut().expect("object").remove("diagnosis");
    let timeline: finscope::report::TimelineReport =
        serde_json::from_value(doc).expect("timeline document");
    let n = timeline.buckets.len();
    assert!(n > 10_000, "{n} buckets: the thinning is not exercised");
    assert_eq!(timeline.state_time_us, report.timeline.state_time_us);
    let states = html.by_id("states");
    let svg = &svgs_in(states, "plot-states")[0];
    let lines = svg.find(|x| x.name == "polyline");
    assert!(!lines.is_empty());
    for l in lines {
        let points = l
            .attr("points")
            .unwrap_or_default()
            .split_whitespace()
            .count();
        assert!(points <= 2_000, "a line of {points} points");
    }
    // Both limits are drawn (with their names) and described with the
    // JSON's counts of buckets over them.
    let drawn: Vec<String> = svg
        .find(|x| x.name == "text")
        .iter()
        .map(|t| t.text())
        .collect();
    for (limit, c) in [
        ("tcp_max_orphans = 300", &timeline.limits.max_orphans),
        ("tcp_max_tw_buckets = 1500", &timeline.limits.max_tw_buckets),
    ] {
        let c = c.as_ref().expect("limit in the JSON");
        assert!(c.buckets_over > 0);
        assert!(drawn.iter().any(|t| t.trim() == limit), "{limit} not drawn");
        let legend = states.text();
        assert!(
            legend.contains(&format!("{} bucket(s)", thousands(c.buckets_over))),
            "{limit}: buckets over not in the legend"
        );
    }
    // Shaded buckets: the report has some over each limit.
    assert!(timeline.buckets.iter().any(|b| b.over_max_orphans));
    assert!(timeline.buckets.iter().any(|b| b.over_max_tw_buckets));
}

#[test]
fn html_to_a_file_alongside_the_other_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("r.html");
    let file_arg = file.to_string_lossy().into_owned();
    let out = finscope(&["analyze", "-q", "--html", &file_arg, "testdata/sample.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("TEARDOWN SHARE"),
        "the text report still goes to stdout"
    );
    let page = std::fs::read_to_string(&file).expect("page written");
    parse(&page).expect("well-formed");

    // `timeline --html` writes the same page as `analyze --html`.
    let timeline = finscope(&["timeline", "-q", "--html", "-", "testdata/sample.pcap"]);
    assert_eq!(timeline.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&timeline.stdout), page);
    let csv = dir.path().join("t.csv");
    let csv_arg = csv.to_string_lossy().into_owned();
    let t = finscope(&[
        "timeline",
        "-q",
        "--html",
        &file_arg,
        "--csv",
        &csv_arg,
        "testdata/sample.pcap",
    ]);
    assert_eq!(t.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&t.stdout).contains("LOCAL SOCKET STATES OVER TIME"));
    assert!(csv.exists());

    // One standard output, one document.
    for cmd in ["analyze", "timeline"] {
        let both = finscope(&[cmd, "-q", "--json", "--html", "-", "testdata/sample.pcap"]);
        assert_eq!(both.status.code(), Some(2), "{cmd}");
    }
    // An unwritable path is a write error naming it (exit 4); the text
    // report is still printed.
    let bad = dir.path().join("no/such/dir/r.html");
    let bad_arg = bad.to_string_lossy().into_owned();
    let out = finscope(&["analyze", "-q", "--html", &bad_arg, "testdata/sample.pcap"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("r.html"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TEARDOWN SHARE"));
}
