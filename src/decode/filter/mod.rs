//! `--filter`: the part of tcpdump's filter language that selects TCP
//! connections:
//!
//! ```text
//! expr   := term ("or" term)*          also `||`
//! term   := factor ("and" factor)*     also `&&`
//! factor := "not" factor | "(" expr ")" | prim      `not` also `!`
//! prim   := proto | [proto] [dir] kind VALUE | "vlan" N
//! proto  := "tcp" | "ip" | "ip6"
//! dir    := "src" | "dst" | "src or dst"
//! kind   := "host" ADDR | "net" NET ["mask" MASK] | "port" PORT | "portrange" N-M
//! ```
//!
//! NET is a CIDR prefix or a partial IPv4 network (`net 198.51.100` is
//! 198.51.100.0/24, `net 10` 10.0.0.0/8, `net 172.16/12` 172.16.0.0/12), or
//! an IPv4 network and a contiguous netmask (`net 10.0.0.0 mask 255.0.0.0`);
//! PORT a number or a service name
//! (`port https`, from a built-in table of the usual /etc/services names,
//! so a filter means the same on every machine).
//!
//! A connection is filtered whole, so close tracking stays whole: a segment
//! passes when the expression holds for it as it is *or with its source and
//! destination swapped*, and both directions of a connection therefore pass
//! or fail together. Without `src`/`dst` that is tcpdump's meaning;
//! `src net 10.0.0.0/8 and dst port 443` selects the connections from that
//! network to port 443, with the packets of both directions. Frames that do
//! not pass (including those that carry no TCP segment) are left out of
//! every figure, as if a capture filter had dropped them.
//!
//! This file holds the filter (the tree) and its evaluator; `parse.rs` the
//! text to tree.

mod parse;

pub use parse::{MAX_DEPTH, MAX_TOKENS};

use crate::decode::Segment;
use crate::decode::net::Cidr;
use std::fmt;
use std::net::IpAddr;

/// Which endpoint of a segment a primitive looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Either (tcpdump's default, `src or dst`).
    Any,
    Src,
    Dst,
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Host(Dir, IpAddr),
    Net(Dir, Cidr),
    Port(Dir, u16),
    PortRange(Dir, u16, u16),
    Vlan(u32),
    /// `tcp`: every segment (only TCP reaches the filter).
    Tcp,
    /// `ip`: carried over IPv4.
    Ip4,
    /// `ip6`: carried over IPv6.
    Ip6,
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    /// True when the segment passes: the expression holds for it, or for it
    /// with source and destination swapped (see the module's text).
    pub fn matches(&self, s: &Segment) -> bool {
        self.eval(s, false) || (self.directed() && self.eval(s, true))
    }

    /// Some primitive names `src` or `dst`.
    fn directed(&self) -> bool {
        match self {
            Filter::Host(d, _)
            | Filter::Net(d, _)
            | Filter::Port(d, _)
            | Filter::PortRange(d, ..) => *d != Dir::Any,
            Filter::Vlan(_) | Filter::Tcp | Filter::Ip4 | Filter::Ip6 => false,
            Filter::Not(f) => f.directed(),
            Filter::And(a, b) | Filter::Or(a, b) => a.directed() || b.directed(),
        }
    }

    /// The expression on `s`, its endpoints swapped when `swap`.
    fn eval(&self, s: &Segment, swap: bool) -> bool {
        let (src, dst, sport, dport) = if swap {
            (s.dst, s.src, s.dport, s.sport)
        } else {
            (s.src, s.dst, s.sport, s.dport)
        };
        let either = |d: Dir, a: bool, b: bool| match d {
            Dir::Any => a || b,
            Dir::Src => a,
            Dir::Dst => b,
        };
        match self {
            Filter::Host(d, a) => either(*d, src == *a, dst == *a),
            Filter::Net(d, n) => either(*d, n.contains(src), n.contains(dst)),
            Filter::Port(d, p) => either(*d, sport == *p, dport == *p),
            Filter::PortRange(d, lo, hi) => {
                let r = *lo..=*hi;
                either(*d, r.contains(&sport), r.contains(&dport))
            }
            Filter::Vlan(v) => s.vlan == *v || s.vlan >> 12 == *v || s.vlan & 0xfff == *v,
            Filter::Tcp => true,
            Filter::Ip4 => s.src.is_ipv4(),
            Filter::Ip6 => s.src.is_ipv6(),
            Filter::Not(f) => !f.eval(s, swap),
            Filter::And(a, b) => a.eval(s, swap) && b.eval(s, swap),
            Filter::Or(a, b) => a.eval(s, swap) || b.eval(s, swap),
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dir::Any => Ok(()),
            Dir::Src => write!(f, "src "),
            Dir::Dst => write!(f, "dst "),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Host(d, a) => write!(f, "{d}host {a}"),
            Filter::Net(d, n) => write!(f, "{d}net {n}"),
            Filter::Port(d, p) => write!(f, "{d}port {p}"),
            Filter::PortRange(d, a, b) => write!(f, "{d}portrange {a}-{b}"),
            Filter::Vlan(v) => write!(f, "vlan {v}"),
            Filter::Tcp => write!(f, "tcp"),
            Filter::Ip4 => write!(f, "ip"),
            Filter::Ip6 => write!(f, "ip6"),
            Filter::Not(x) => match **x {
                Filter::And(..) | Filter::Or(..) => write!(f, "not ({x})"),
                _ => write!(f, "not {x}"),
            },
            // Only the parentheses the grammar needs (`and` binds tighter,
            // both chain to the left), so a long `a or b or c ...` displays
            // as typed and parses back within the nesting limit.
            Filter::And(a, b) => {
                let left = matches!(**a, Filter::Or(..));
                let right = matches!(**b, Filter::Or(..) | Filter::And(..));
                write!(f, "{} and {}", Paren(a, left), Paren(b, right))
            }
            Filter::Or(a, b) => {
                let right = matches!(**b, Filter::Or(..));
                write!(f, "{a} or {}", Paren(b, right))
            }
        }
    }
}

/// A sub-filter, in parentheses when the flag says so.
struct Paren<'a>(&'a Filter, bool);

impl fmt::Display for Paren<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Why a filter did not parse: what was expected, what was found, where
/// (1-based column of the token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}{}", hint.as_deref().map(|h| format!("\n  note: {h}")).unwrap_or_default())]
pub struct FilterError {
    pub column: usize,
    pub expected: String,
    pub found: String,
    /// What the user most likely meant (a Wireshark display filter given
    /// for a tcpdump one), said after the error.
    pub hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::parse::translate_wireshark;
    /// Display keeps only the needed parentheses and parses back to the
    /// same filter, even for a chain longer than the nesting limit (found
    /// by the `filter` fuzz target: every `or` had its own parentheses).
    #[test]
    fn display_parses_back_with_minimal_parentheses() {
        let cases = [
            ("port 1 or port 2 or port 3", "port 1 or port 2 or port 3"),
            (
                "port 1 or (port 2 or port 3)",
                "port 1 or (port 2 or port 3)",
            ),
            ("port 1 and port 2 or port 3", "port 1 and port 2 or port 3"),
            (
                "port 1 and (port 2 or port 3)",
                "port 1 and (port 2 or port 3)",
            ),
            (
                "(port 1 or port 2) and port 3",
                "(port 1 or port 2) and port 3",
            ),
            (
                "port 1 and (port 2 and port 3)",
                "port 1 and (port 2 and port 3)",
            ),
            ("not (port 1 and port 2)", "not (port 1 and port 2)"),
            ("not not port 1", "not not port 1"),
        ];
        for (input, shown) in cases {
            let f: Filter = input.parse().expect(input);
            assert_eq!(f.to_string(), shown);
            assert_eq!(shown.parse::<Filter>().expect(shown), f);
        }
        let long = vec!["port 4"; 200].join(" or ");
        let f: Filter = long.parse().expect("long chain");
        assert_eq!(f.to_string(), long);
    }

    use super::*;

    fn seg(src: &str, sport: u16, dst: &str, dport: u16) -> Segment {
        Segment::between(src, sport, dst, dport)
    }

    fn f(s: &str) -> Filter {
        s.parse().unwrap()
    }

    /// A Wireshark filter gets its translation; text that is not ASCII
    /// (a no-break space inside a word, U+00A0 as its UTF-8 bytes) is no
    /// panic.
    #[test]
    fn wireshark_filters_are_translated() {
        let hint = |s: &str| s.parse::<Filter>().unwrap_err().hint;
        assert_eq!(
            translate_wireshark("tcp.dstport==443 && !ip.src==10.0.0.0/8"),
            Some(("dst port 443 and not src net 10.0.0.0/8".to_string(), false))
        );
        assert_eq!(translate_wireshark("tcp.port>=443"), None);
        for s in [
            "tcp.port==\u{e0}\u{a0}",
            "ip.addr==\u{a0}1 && \u{85}",
            "tcp.port==4=",
            "é==é",
        ] {
            let _ = hint(s);
        }
        assert!(hint("port 4x3").is_none());
    }

    #[test]
    fn precedence_and_symmetry() {
        let out = seg("10.0.0.1", 40000, "192.0.2.7", 443);
        let back = seg("192.0.2.7", 443, "10.0.0.1", 40000);
        for e in [
            "host 192.0.2.7",
            "net 192.0.2.0/24 and port 443",
            "not port 80",
            "port 80 or port 443 and host 10.0.0.1",
            "!(port 22) && portrange 400-500",
        ] {
            assert!(f(e).matches(&out), "{e}");
            assert_eq!(f(e).matches(&out), f(e).matches(&back), "{e}");
        }
        assert!(!f("port 80 or port 22").matches(&out));
        assert!(!f("not (host 10.0.0.1 or port 1)").matches(&out));
    }

    /// tcpdump's primitives: protocols, directions, service names, partial
    /// nets, `&&`/`||`/`!`; a connection passes or fails whole.
    #[test]
    fn tcpdump_primitives() {
        let out = seg("10.0.0.1", 40000, "192.0.2.7", 443);
        let back = seg("192.0.2.7", 443, "10.0.0.1", 40000);
        let other = seg("192.0.2.7", 40000, "10.0.0.1", 443);
        let v6 = seg("2001:db8::1", 40000, "2001:db8::2", 443);
        let cases: [(&str, [bool; 3]); 21] = [
            ("tcp", [true, true, true]),
            ("ip", [true, true, false]),
            ("ip6", [false, false, true]),
            ("tcp port 443", [true, true, true]),
            ("tcp port https", [true, true, true]),
            ("ip host 192.0.2.7", [true, true, false]),
            // Alone, a direction selects the same connections as none.
            ("src host 10.0.0.1", [true, true, false]),
            ("dst port 443", [true, true, true]),
            ("src net 10 and dst port https", [true, false, false]),
            ("src net 10.0.0.0/8 && dst port 443", [true, false, false]),
            ("dst net 192.0.2", [true, true, false]),
            ("src or dst host 10.0.0.1", [true, true, false]),
            ("src port 40000", [true, true, true]),
            // Some orientation of each has a source port other than 40000.
            ("!src port 40000 || ip6", [true, true, true]),
            ("tcp src portrange 40000-40010", [true, true, true]),
            ("ip and not dst port 443", [true, true, false]),
            ("ip and not port 443", [false, false, false]),
            ("src net 10/8", [true, true, false]),
            ("net 192.0/16", [true, true, false]),
            (
                "src net 10.0.0.0 mask 255.0.0.0 and dst port 443",
                [true, false, false],
            ),
            ("net 2001:db8::/32", [false, false, true]),
        ];
        for (e, want) in cases {
            let flt = f(e);
            let got = [flt.matches(&out), flt.matches(&other), flt.matches(&v6)];
            assert_eq!(got, want, "{e}");
            assert_eq!(
                flt.matches(&out),
                flt.matches(&back),
                "{e}: both directions"
            );
            let shown = flt.to_string();
            assert_eq!(f(&shown), flt, "{e} shown as {shown}");
        }
        assert_eq!(f("net 198.51.100").to_string(), "net 198.51.100.0/24");
        assert_eq!(f("port https").to_string(), "port 443");
        assert_eq!(f("net 172.16/12").to_string(), "net 172.16.0.0/12");
        assert_eq!(
            f("net 192.0.2.0 mask 255.255.255.128").to_string(),
            "net 192.0.2.0/25"
        );
        for bad in [
            "net 10.0.0.0 mask 255.0.255.0",
            "net 10/8 mask 255.0.0.0",
            "net 2001:db8:: mask 255.0.0.0",
            "net 10.0.0.0 mask",
            "net 10/33",
        ] {
            assert!(bad.parse::<Filter>().is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_column() {
        let e = "port 443 and hots 1.2.3.4".parse::<Filter>().unwrap_err();
        assert_eq!(e.column, 14);
        assert_eq!(e.found, "`hots`");
        let e = "port 99999".parse::<Filter>().unwrap_err();
        assert_eq!((e.column, e.found.as_str()), (6, "`99999`"));
        let e = "(port 1".parse::<Filter>().unwrap_err();
        assert_eq!(e.found, "end of filter");
        let e = "port 1 port 2".parse::<Filter>().unwrap_err();
        assert_eq!(e.column, 8);
        assert!("".parse::<Filter>().is_err());
        let e = "udp port 53".parse::<Filter>().unwrap_err();
        assert!(e.expected.contains("TCP only"), "{e}");
        let e = "src vlan 3".parse::<Filter>().unwrap_err();
        assert_eq!(e.found, "`vlan`");
        let e = "port htps".parse::<Filter>().unwrap_err();
        assert!(e.expected.contains("service name"), "{e}");
        assert!("net 1.2.3.4.5".parse::<Filter>().is_err());
        assert!("net 10.0.0.1".parse::<Filter>().is_err());
    }
}
