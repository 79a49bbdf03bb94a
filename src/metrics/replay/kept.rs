//! A [`Life`] as [`Lives`](super::Lives) keeps it: 32 bytes instead of 80
//! (a `Life`) or 64 (the form before), lossless. What does not fit a
//! 32-bit slot goes to the list's *side words* (`side`, shared by the
//! list's lives): an IPv6 peer (two words), a FIN-WAIT-2 or late time of
//! 2^32 ns (4.3 s) or more, or both of them at once (two words), a first
//! retransmission interval that is not a whole number of microseconds
//! below 2^32 µs (one word; the capture's are in µs). On the gateway mix
//! about one life in ten has side words (its IPv6 peers).

use super::{End, Life};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One kept life. Its slots `x`, `rto` and `peer` hold a value or, when
/// its flag says so, the index of its side words.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Kept {
    pub(super) t0: u64,
    len: u64,
    /// `fw2` or `late`, whichever is set (the other is absent), in ns; or
    /// ([`WIDE_X`]) the index of two side words: `fw2`, `late`.
    x: u32,
    /// `first_rto` in µs; or ([`WIDE_RTO`]) the index of its side word.
    rto: u32,
    /// An IPv4 peer's address; or ([`V6`]) the index of two side words.
    peer: u32,
    end: End,
    flags: u8,
}

const PASSIVE: u8 = 1;
const TLP: u8 = 2;
const FW2: u8 = 4;
const LATE: u8 = 8;
const V6: u8 = 16;
const WIDE_X: u8 = 32;
const WIDE_RTO: u8 = 64;

/// The index the next side word gets. Lives holds at most
/// [`MAX_LIVES`](super::MAX_LIVES) lives of at most five words each: far
/// below 2^32 (a list made by `Lives::of` in tests could pass it; its
/// words would then read as 0, never panic).
fn next(side: &[u64]) -> u32 {
    u32::try_from(side.len()).unwrap_or(u32::MAX)
}

fn word(side: &[u64], at: u32, k: usize) -> u64 {
    side.get(at as usize + k).copied().unwrap_or(0)
}

impl Kept {
    /// `l` kept, its wide parts pushed onto `side`.
    pub(super) fn of(l: &Life, side: &mut Vec<u64>) -> Kept {
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        let mut flags = flag(l.passive, PASSIVE)
            | flag(l.tlp, TLP)
            | flag(l.fw2.is_some(), FW2)
            | flag(l.late.is_some(), LATE);
        let x = match (l.fw2, l.late) {
            (None, None) => 0,
            (Some(v), None) | (None, Some(v)) if v <= u64::from(u32::MAX) => v as u32,
            (fw2, late) => {
                flags |= WIDE_X;
                let at = next(side);
                side.extend([fw2.unwrap_or(0), late.unwrap_or(0)]);
                at
            }
        };
        let us = l.first_rto / 1_000;
        let rto = if l.first_rto.is_multiple_of(1_000) && us <= u64::from(u32::MAX) {
            us as u32
        } else {
            flags |= WIDE_RTO;
            let at = next(side);
            side.push(l.first_rto);
            at
        };
        let peer = match l.peer {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(a) => {
                flags |= V6;
                let at = next(side);
                let v = u128::from(a);
                side.extend([(v >> 64) as u64, v as u64]);
                at
            }
        };
        Kept {
            t0: l.t0,
            len: l.len,
            x,
            rto,
            peer,
            end: l.end,
            flags,
        }
    }

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// The peer, its side words read from `side`.
    pub(super) fn peer(&self, side: &[u64]) -> IpAddr {
        if self.has(V6) {
            let v =
                (u128::from(word(side, self.peer, 0)) << 64) | u128::from(word(side, self.peer, 1));
            IpAddr::V6(Ipv6Addr::from(v))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.peer))
        }
    }

    /// The life kept, its side words read from `side`.
    pub(super) fn life(&self, side: &[u64]) -> Life {
        let (fw2, late) = if self.has(WIDE_X) {
            (word(side, self.x, 0), word(side, self.x, 1))
        } else {
            (u64::from(self.x), u64::from(self.x))
        };
        Life {
            peer: self.peer(side),
            t0: self.t0,
            len: self.len,
            end: self.end,
            passive: self.has(PASSIVE),
            fw2: self.has(FW2).then_some(fw2),
            first_rto: if self.has(WIDE_RTO) {
                word(side, self.rto, 0)
            } else {
                u64::from(self.rto) * 1_000
            },
            tlp: self.has(TLP),
            late: self.has(LATE).then_some(late),
        }
    }

    /// The same life with its side words copied from `from` onto `to` (a
    /// list's side words compacted, or another list's merged).
    pub(super) fn moved(&self, from: &[u64], to: &mut Vec<u64>) -> Kept {
        let mut k = *self;
        if self.flags & (WIDE_X | WIDE_RTO | V6) == 0 {
            return k;
        }
        let mut copy = |at: u32, n: usize| {
            let new = next(to);
            to.extend((0..n).map(|i| word(from, at, i)));
            new
        };
        if self.has(WIDE_X) {
            k.x = copy(self.x, 2);
        }
        if self.has(WIDE_RTO) {
            k.rto = copy(self.rto, 1);
        }
        if self.has(V6) {
            k.peer = copy(self.peer, 2);
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn life(peer: &str) -> Life {
        Life {
            peer: peer.parse().unwrap(),
            t0: 7 * MS,
            len: 300 * MS,
            end: End::Acked,
            passive: false,
            fw2: Some(12 * MS),
            first_rto: 200 * MS,
            tlp: true,
            late: None,
        }
    }

    /// 32 bytes, and every field given back: the slots' values at their
    /// edges, and what goes to the side words (how many).
    #[test]
    fn kept_lives_are_32_bytes_and_lossless() {
        assert_eq!(std::mem::size_of::<Kept>(), 32);
        let base = life("192.0.2.1");
        let max32 = u64::from(u32::MAX);
        let cases: Vec<(Life, usize)> = vec![
            (base, 0),
            (Life { fw2: None, ..base }, 0),
            (
                Life {
                    fw2: Some(max32),
                    ..base
                },
                0,
            ),
            (
                Life {
                    fw2: Some(max32 + 1),
                    ..base
                },
                2,
            ),
            (
                Life {
                    fw2: None,
                    late: Some(0),
                    end: End::Killed,
                    ..base
                },
                0,
            ),
            (
                Life {
                    fw2: None,
                    late: Some(u64::MAX),
                    ..base
                },
                2,
            ),
            (
                Life {
                    fw2: Some(u64::MAX),
                    late: Some(12 * MS),
                    ..base
                },
                2,
            ),
            (
                Life {
                    fw2: Some(0),
                    late: Some(0),
                    ..base
                },
                2,
            ),
            (
                Life {
                    first_rto: 0,
                    ..base
                },
                0,
            ),
            (
                Life {
                    first_rto: 1,
                    ..base
                },
                1,
            ),
            (
                Life {
                    first_rto: max32 * 1_000,
                    ..base
                },
                0,
            ),
            (
                Life {
                    first_rto: (max32 + 1) * 1_000,
                    ..base
                },
                1,
            ),
            (
                Life {
                    first_rto: u64::MAX,
                    ..base
                },
                1,
            ),
            (
                Life {
                    passive: true,
                    tlp: false,
                    ..base
                },
                0,
            ),
            (
                Life {
                    t0: u64::MAX,
                    len: u64::MAX,
                    ..base
                },
                0,
            ),
            (life("0.0.0.0"), 0),
            (life("255.255.255.255"), 0),
            (life("2001:db8::7"), 2),
            (life("::"), 2),
            (
                Life {
                    fw2: Some(u64::MAX),
                    late: Some(1),
                    first_rto: 3,
                    ..life("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
                },
                5,
            ),
        ];
        let mut side = vec![9, 9, 9];
        for (l, words) in cases {
            let before = side.len();
            let k = Kept::of(&l, &mut side);
            assert_eq!(side.len() - before, words, "{l:?}");
            assert_eq!(k.life(&side), l);
            assert_eq!(k.peer(&side), l.peer);
            // Moved to another list's words: the same life there.
            let mut to = vec![1];
            let m = k.moved(&side, &mut to);
            assert_eq!(to.len(), 1 + words, "{l:?}");
            assert_eq!(m.life(&to), l);
        }
    }

    /// Side words out of reach (never made by `of`) read as zeros.
    #[test]
    fn missing_side_words_read_as_zero() {
        let mut side = Vec::new();
        let k = Kept::of(&life("2001:db8::1"), &mut side);
        let l = k.life(&[]);
        assert_eq!(l.peer, "::".parse::<IpAddr>().unwrap());
    }
}
