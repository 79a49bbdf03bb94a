//! `--filter`'s parser: the tokenizer, a recursive-descent parser of the
//! grammar in [`super`] into a [`Filter`] (nesting and length bounded), the
//! service-name and network tables, and the hint for a Wireshark display
//! filter given instead. The evaluator (`Filter::matches`) is in `mod.rs`.

use super::{Dir, Filter, FilterError};
use crate::decode::net::Cidr;
use std::net::IpAddr;

/// Service names `port` accepts: the usual /etc/services entries for TCP.
const SERVICES: [(&str, u16); 32] = [
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("submissions", 465),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("mysql", 3306),
    ("rdp", 3389),
    ("ms-wbt-server", 3389),
    ("postgresql", 5432),
    ("redis", 6379),
    ("http-alt", 8080),
    ("webcache", 8080),
    ("https-alt", 8443),
];

/// A port number or a service name.
fn port_of(s: &str) -> Option<u16> {
    s.parse()
        .ok()
        .or_else(|| SERVICES.iter().find(|(n, _)| *n == s).map(|(_, p)| *p))
}

/// A CIDR prefix, or a partial IPv4 network: 1 to 3 dotted numbers, the
/// prefix 8 bits per number (tcpdump's `net 10`, `net 198.51.100`) unless
/// one is given (`net 10/8`, `net 172.16/12`).
fn net_of(s: &str) -> Option<Cidr> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    if let Ok(addr) = a.parse::<IpAddr>() {
        // A whole address is a network only with its length (`host` is
        // the primitive for one address).
        return format!("{addr}/{}", len?).parse().ok();
    }
    let parts: Vec<u8> = a
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut o = [0u8; 4];
    o[..parts.len()].copy_from_slice(&parts);
    let len = len.unwrap_or(8 * parts.len() as u8);
    format!("{}/{len}", std::net::Ipv4Addr::from(o))
        .parse()
        .ok()
}

/// The prefix length of a contiguous dotted IPv4 netmask (`255.255.0.0`:
/// 16); none for another mask.
fn mask_len(s: &str) -> Option<u8> {
    let m = u32::from(s.parse::<std::net::Ipv4Addr>().ok()?);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// A Wireshark display filter (`tcp.port==443`, finscope's own
/// `wireshark_filter`s) given to `--filter`: what to say about it, with
/// the tcpdump filter it means when each of its comparisons has one.
/// `None` when `s` does not look like a display filter.
fn wireshark_hint(s: &str) -> Option<String> {
    const FIELDS: [&str; 8] = [
        "tcp.", "ip.", "ipv6.", "frame.", "eth.", "udp.", "vlan.", "ip6.",
    ];
    let words = s.split(|c: char| c.is_whitespace() || "()!=<>&|".contains(c));
    let looks = s.contains("==")
        || s.contains("!=")
        || words
            .into_iter()
            .any(|w| FIELDS.iter().any(|f| w.starts_with(f)));
    if !looks {
        return None;
    }
    let base = "--filter takes tcpdump's filter language (`host 192.0.2.1 and port 443`), not Wireshark's display filters";
    Some(match translate_wireshark(s) {
        Some((t, dropped)) if parse(&t).is_ok() => {
            let frames = if dropped {
                " (the frame.number bounds have no tcpdump form: --since/--until cut by time)"
            } else {
                ""
            };
            format!("{base}: try --filter '{t}'{frames}")
        }
        _ => format!("{base}; see `finscope analyze --help` for the primitives"),
    })
}

/// The tcpdump filter a simple display filter means: comparisons
/// `FIELD==VALUE` (or `eq`) of tcp.port, tcp.srcport, tcp.dstport,
/// ip(v6).addr, ip(v6).src, ip(v6).dst and vlan.id, joined by `&&`, `||`,
/// `!`, `and`, `or`, `not` and parentheses; in an expression of `&&` only,
/// `frame.number` comparisons (finscope's own filters end with them) are
/// dropped, and the second value says so. `None` for anything else.
pub(super) fn translate_wireshark(s: &str) -> Option<(String, bool)> {
    // Tokens: symbols, operators and words (fields, values, keywords).
    let mut toks: Vec<String> = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let two = s[i..].get(..2).unwrap_or("");
        if c.is_whitespace() {
        } else if ["&&", "||", "==", "!=", ">=", "<="].contains(&two) {
            toks.push(two.to_string());
            chars.next();
        } else if "()!<>".contains(c) {
            toks.push(c.to_string());
        } else if "=&|".contains(c) {
            return None; // a lone `=`, `&` or `|`
        } else {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_whitespace() || "()!=<>&|".contains(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            toks.push(s[i..end].to_string());
        }
    }
    let only_and = toks
        .iter()
        .all(|t| !matches!(t.as_str(), "||" | "or" | "!" | "not" | "(" | ")"));
    let mut out: Vec<String> = Vec::new();
    let mut dropped = false;
    let mut k = 0;
    while k < toks.len() {
        let t = toks[k].as_str();
        match t {
            "&&" | "and" => out.push("and".into()),
            "||" | "or" => out.push("or".into()),
            "!" | "not" => out.push("not".into()),
            "(" | ")" => out.push(t.into()),
            "tcp" | "ip" => out.push(t.into()),
            "ipv6" => out.push("ip6".into()),
            _ => {
                let op = toks.get(k + 1).map(String::as_str);
                let v = toks.get(k + 2)?;
                if t == "frame.number" && only_and {
                    if !matches!(
                        op,
                        Some("==" | "eq" | ">=" | "<=" | ">" | "<" | "ge" | "le" | "gt" | "lt")
                    ) {
                        return None;
                    }
                    // Drop it and the `and` before it (or after it, first).
                    if out.last().is_some_and(|l| l == "and") {
                        out.pop();
                    } else if toks.get(k + 3).is_some_and(|n| n == "&&" || n == "and") {
                        k += 1;
                    }
                    dropped = true;
                    k += 3;
                    continue;
                }
                if !matches!(op, Some("==" | "eq")) {
                    return None;
                }
                let net = if v.contains('/') { "net" } else { "host" };
                let prim = match t {
                    "tcp.port" => format!("port {v}"),
                    "tcp.srcport" => format!("src port {v}"),
                    "tcp.dstport" => format!("dst port {v}"),
                    "ip.addr" | "ipv6.addr" | "ip.host" => format!("{net} {v}"),
                    "ip.src" | "ipv6.src" => format!("src {net} {v}"),
                    "ip.dst" | "ipv6.dst" => format!("dst {net} {v}"),
                    "vlan.id" => format!("vlan {v}"),
                    _ => return None,
                };
                out.push(prim);
                k += 3;
                continue;
            }
        }
        k += 1;
    }
    let text = out.join(" ").replace("( ", "(").replace(" )", ")");
    (!out.is_empty()).then_some((text, dropped))
}

#[derive(Clone, Debug)]
struct Token<'a> {
    text: &'a str,
    column: usize,
}

/// Splits a filter into words and the symbols `(`, `)`, `!`; each token's
/// column counts characters (not bytes) from 1.
fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    // (byte offset, column) of the word being read.
    let mut start: Option<(usize, usize)> = None;
    for (col, (i, c)) in s.char_indices().enumerate() {
        let single = matches!(c, '(' | ')' | '!');
        if c.is_whitespace() || single {
            if let Some((b, column)) = start.take() {
                out.push(Token {
                    text: &s[b..i],
                    column,
                });
            }
            if single {
                out.push(Token {
                    text: &s[i..i + 1],
                    column: col + 1,
                });
            }
        } else if start.is_none() {
            start = Some((i, col + 1));
        }
    }
    if let Some((b, column)) = start {
        out.push(Token {
            text: &s[b..],
            column,
        });
    }
    out
}

/// Most nested parentheses and `not`s in a filter.
pub const MAX_DEPTH: usize = 64;
/// Most words and symbols in a filter (a chain of `and`s is parsed into a
/// tree this deep, walked recursively).
pub const MAX_TOKENS: usize = 4096;

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    end_column: usize,
    /// Nesting of the factor being parsed.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn err(&self, expected: &str, t: Option<&Token<'_>>) -> FilterError {
        FilterError {
            column: t.map_or(self.end_column, |t| t.column),
            expected: expected.to_string(),
            found: t.map_or("end of filter".to_string(), |t| format!("`{}`", t.text)),
            hint: None,
        }
    }

    /// `net N`: refused, as tcpdump does ("non-network bits set"), when
    /// the address has bits set past the prefix length (`10.0.0.1/8`):
    /// the user meant a host, or another length.
    fn network(&self, n: Cidr, dir: Dir, t: Option<&Token<'_>>) -> Result<Filter, FilterError> {
        let net = crate::decode::net::mask(n.addr, n.prefix);
        if net == n.addr {
            return Ok(Filter::Net(dir, n));
        }
        let expected = format!(
            "a network, whose bits past its length are 0 ({net}/{len}, or `host {addr}`): tcpdump too refuses non-network bits",
            len = n.prefix,
            addr = n.addr
        );
        Err(self.err(&expected, t))
    }

    fn peek_is(&self, words: &[&str]) -> bool {
        self.peek().is_some_and(|t| words.contains(&t.text))
    }

    fn expr(&mut self) -> Result<Filter, FilterError> {
        let mut f = self.term()?;
        while self.peek_is(&["or", "||"]) {
            self.pos += 1;
            f = Filter::Or(Box::new(f), Box::new(self.term()?));
        }
        Ok(f)
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        let mut f = self.factor()?;
        while self.peek_is(&["and", "&&"]) {
            self.pos += 1;
            f = Filter::And(Box::new(f), Box::new(self.factor()?));
        }
        Ok(f)
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        const PRIM: &str = "`host`, `net`, `port`, `portrange`, `src`, `dst`, `tcp`, `ip`, `ip6`, `vlan`, `not` or `(`";
        let Some(t) = self.next() else {
            return Err(self.err(PRIM, None));
        };
        if matches!(t.text, "not" | "!" | "(") {
            if self.depth >= MAX_DEPTH {
                let expected = format!("at most {MAX_DEPTH} nested parentheses and `not`s");
                return Err(self.err(&expected, Some(&t)));
            }
            self.depth += 1;
        }
        let f = match t.text {
            "not" | "!" => self.factor().map(|f| Filter::Not(Box::new(f))),
            "(" => self.expr().and_then(|f| match self.next() {
                Some(c) if c.text == ")" => Ok(f),
                other => Err(self.err("`)`", other.as_ref())),
            }),
            _ => return self.primitive(t),
        };
        self.depth -= 1;
        f
    }

    /// A primitive starting with `t`: a protocol, optionally qualifying
    /// the primitive after it, or a direction and kind.
    fn primitive(&mut self, t: Token<'a>) -> Result<Filter, FilterError> {
        let proto = match t.text {
            "tcp" => Some(Filter::Tcp),
            "ip" => Some(Filter::Ip4),
            "ip6" => Some(Filter::Ip6),
            _ => None,
        };
        let Some(proto) = proto else {
            return self.qualified(t);
        };
        if !self.peek_is(&["src", "dst", "host", "net", "port", "portrange"]) {
            return Ok(proto);
        }
        let Some(next) = self.next() else {
            return Ok(proto);
        };
        let q = self.qualified(next)?;
        // `tcp port 443` is `port 443`: only TCP reaches the filter.
        Ok(match proto {
            Filter::Tcp => q,
            p => Filter::And(Box::new(p), Box::new(q)),
        })
    }

    /// `[dir] kind VALUE` or `vlan N`, starting with `t`.
    fn qualified(&mut self, t: Token<'a>) -> Result<Filter, FilterError> {
        const PRIM: &str = "`host`, `net`, `port`, `portrange`, `src`, `dst`, `tcp`, `ip`, `ip6`, `vlan`, `not` or `(`";
        let (dir, kind) = match t.text {
            "src" | "dst" => {
                let mut dir = if t.text == "src" { Dir::Src } else { Dir::Dst };
                // `src or dst host X`: either endpoint.
                let other = if dir == Dir::Src { "dst" } else { "src" };
                if self.peek_is(&["or"])
                    && self.toks.get(self.pos + 1).is_some_and(|x| x.text == other)
                {
                    self.pos += 2;
                    dir = Dir::Any;
                }
                let k = self.next();
                match k {
                    Some(k) if matches!(k.text, "host" | "net" | "port" | "portrange") => (dir, k),
                    other => {
                        return Err(self.err(
                            &format!("`host`, `net`, `port` or `portrange` after `{}`", t.text),
                            other.as_ref(),
                        ));
                    }
                }
            }
            _ => (Dir::Any, t),
        };
        match kind.text {
            "host" => {
                let a = self.next();
                a.as_ref()
                    .and_then(|a| a.text.parse().ok())
                    .map(|a| Filter::Host(dir, a))
                    .ok_or_else(|| self.err("an IP address after `host`", a.as_ref()))
            }
            "net" => {
                let a = self.next();
                if self.peek_is(&["mask"]) {
                    // `net 10.0.0.0 mask 255.0.0.0` (IPv4, a contiguous mask).
                    self.next();
                    let m = self.next();
                    let addr = a
                        .as_ref()
                        .and_then(|a| a.text.parse::<std::net::Ipv4Addr>().ok())
                        .ok_or_else(|| self.err("an IPv4 address before `mask`", a.as_ref()))?;
                    let prefix = m.as_ref().and_then(|m| mask_len(m.text)).ok_or_else(|| {
                        self.err(
                            "a contiguous IPv4 netmask (255.255.0.0) after `mask`",
                            m.as_ref(),
                        )
                    })?;
                    let addr = IpAddr::V4(addr);
                    return self.network(Cidr { addr, prefix }, dir, a.as_ref());
                }
                let n = a.as_ref().and_then(|a| net_of(a.text)).ok_or_else(|| {
                    self.err(
                        "a network after `net` (10.0.0.0/8, 10/8, a partial IPv4 net: 10, 198.51.100, or NET mask MASK)",
                        a.as_ref(),
                    )
                })?;
                self.network(n, dir, a.as_ref())
            }
            "port" => {
                let a = self.next();
                a.as_ref()
                    .and_then(|a| port_of(a.text))
                    .map(|p| Filter::Port(dir, p))
                    .ok_or_else(|| {
                        self.err(
                            "a port number (0-65535) or service name (https, ssh...) after `port`",
                            a.as_ref(),
                        )
                    })
            }
            "portrange" => {
                let a = self.next();
                a.as_ref()
                    .and_then(|a| a.text.split_once('-'))
                    .and_then(|(l, h)| Some((port_of(l)?, port_of(h)?)))
                    .filter(|(l, h)| l <= h)
                    .map(|(l, h)| Filter::PortRange(dir, l, h))
                    .ok_or_else(|| self.err("a range LOW-HIGH after `portrange`", a.as_ref()))
            }
            "vlan" if dir == Dir::Any => {
                let a = self.next();
                a.as_ref()
                    .and_then(|a| a.text.parse::<u32>().ok())
                    .filter(|v| *v < 4096)
                    .map(Filter::Vlan)
                    .ok_or_else(|| self.err("a VLAN id (0-4095) after `vlan`", a.as_ref()))
            }
            "udp" | "icmp" | "icmp6" | "arp" | "sctp" => Err(FilterError {
                column: kind.column,
                expected: "a TCP primitive (finscope analyses TCP only)".to_string(),
                found: format!("`{}`", kind.text),
                hint: None,
            }),
            _ => Err(self.err(PRIM, Some(&kind))),
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Filter, FilterError> {
        parse(s).map_err(|mut e| {
            e.hint = e.hint.or_else(|| wireshark_hint(s));
            e
        })
    }
}

/// Parses a filter, without hints.
fn parse(s: &str) -> Result<Filter, FilterError> {
    {
        let mut p = Parser {
            toks: tokenize(s),
            pos: 0,
            end_column: s.chars().count() + 1,
            depth: 0,
        };
        if let Some(t) = p.toks.get(MAX_TOKENS) {
            let expected = format!("a filter of at most {MAX_TOKENS} words and symbols");
            return Err(p.err(&expected, Some(t)));
        }
        let f = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(p.err("`and`, `or` or end of filter", Some(t)));
        }
        Ok(f)
    }
}
