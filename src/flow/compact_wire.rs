//! The compact form's primitives ([`super`]): a writer into a buffer on
//! the stack and a reader of a byte slice, of prefix varints (a value's
//! length in the trailing zeros of its first byte, read and written as one
//! 8-byte word, without a branch on the length), zigzag times relative to
//! a base, raw bytes, and sequence numbers as differences.

use super::BUF;

/// Bytes of `v` (below 2^56) as a prefix varint: 7 bits each, looked up
/// by its leading zeros.
#[inline(always)]
pub(super) fn varint_len(v: u64) -> usize {
    usize::from(LEN_BY_LZ[(v | 1).leading_zeros() as usize & 63])
}

/// A varint's bytes by its value's leading zeros (64 - lz bits, 7 a byte).
const LEN_BY_LZ: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut lz = 0;
    while lz < 64 {
        t[lz] = (64 - lz).div_ceil(7) as u8;
        lz += 1;
    }
    t
};

pub(super) fn zigzag(d: u64) -> u64 {
    let d = d as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

pub(super) fn unzigzag(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
}

/// Writes prefix varints ([`Writer::u`]), times relative to a base, into a
/// buffer that holds the longest form (no capacity check per value;
/// [`Writer::written`] is copied out once). The buffer is reused from one
/// connection to the next, not zeroed: every byte of the form is written
/// before it is read (a value's 8 bytes are stored whole, never or-ed in).
pub(super) struct Writer<'a> {
    buf: &'a mut [u8; BUF],
    pub(super) pos: usize,
    pub(super) base: u64,
}

impl<'a> Writer<'a> {
    pub(super) fn new(buf: &'a mut [u8; BUF], base: u64) -> Writer<'a> {
        Writer { buf, pos: 0, base }
    }

    /// What was written.
    #[cfg(test)]
    pub(super) fn written(&self) -> &[u8] {
        &self.buf[..self.pos.min(BUF)]
    }

    /// What was written, for as long as the buffer is borrowed.
    pub(super) fn into_written(self) -> &'a [u8] {
        &self.buf[..self.pos.min(BUF)]
    }

    /// The low `len` bytes of `v` (at most 4).
    pub(super) fn low_bytes(&mut self, v: u32, len: usize) {
        if let Some(d) = self.buf.get_mut(self.pos..self.pos + 4) {
            d.copy_from_slice(&v.to_le_bytes());
        }
        self.pos += len.min(4);
    }

    pub(super) fn bytes<const N: usize>(&mut self, b: [u8; N]) {
        self.slice(&b);
    }

    pub(super) fn slice(&mut self, b: &[u8]) {
        if let Some(d) = self.buf.get_mut(self.pos..self.pos + b.len()) {
            d.copy_from_slice(b);
        }
        self.pos += b.len();
    }

    pub(super) fn byte(&mut self, b: u8) {
        self.bytes([b]);
    }

    /// `v` as a prefix varint: below 2^56 (every difference and count of a
    /// real connection) in `len` bytes of 7 bits each, shifted over its
    /// length's mark (`len - 1` zero bits and a one), written as 8 bytes
    /// of which `len` are kept: no branch on the length, no bit spreading.
    #[inline(always)]
    pub(super) fn u(&mut self, v: u64) {
        if v >> 56 != 0 {
            // From 2^56 on: a zero byte, then its 8 bytes.
            self.byte(0);
            self.bytes(v.to_le_bytes());
            return;
        }
        let len = varint_len(v);
        let x = v << len | 1 << (len - 1);
        if let Some(d) = self.buf.get_mut(self.pos..self.pos + 8) {
            d.copy_from_slice(&x.to_le_bytes());
        }
        self.pos += len;
    }

    /// A time, as a zigzag difference from the base (times may go back).
    pub(super) fn ts(&mut self, t: u64) {
        self.u(zigzag(t.wrapping_sub(self.base)));
    }

    pub(super) fn opt_ts(&mut self, t: Option<u64>) {
        if let Some(t) = t {
            self.ts(t);
        }
    }
}

/// Reads what [`Writer`] wrote; `None` on malformed input. A value is
/// loaded as the 8 bytes at its position (zeros past the input's end, so
/// that a read there never fails alone: the caller then fails on the
/// position).
pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
    pub(super) base: u64,
}

impl Reader<'_> {
    pub(super) fn new(b: &[u8]) -> Reader<'_> {
        Reader { b, pos: 0, base: 0 }
    }

    pub(super) fn bytes<const K: usize>(&mut self) -> Option<[u8; K]> {
        let a = *self.b.get(self.pos..)?.first_chunk::<K>()?;
        self.pos += K;
        Some(a)
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        let b = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// The 8 bytes at the position, little-endian.
    #[inline(always)]
    pub(super) fn word(&self) -> u64 {
        match self.b.get(self.pos..).and_then(|r| r.first_chunk::<8>()) {
            Some(w) => u64::from_le_bytes(*w),
            None => word_at_end(self.b, self.pos),
        }
    }

    /// A prefix varint ([`Writer::u`]): its length from the word's
    /// trailing zeros.
    #[inline(always)]
    pub(super) fn u(&mut self) -> Option<u64> {
        let w = self.word();
        if w & 0xff == 0 {
            // From 2^56 on: a zero byte, then its 8 bytes.
            self.pos += 1;
            return Some(u64::from_le_bytes(self.bytes()?));
        }
        let len = w.trailing_zeros() + 1;
        self.pos += len as usize;
        Some((w & u64::MAX >> (64 - 8 * len)) >> len)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u()?).ok()
    }

    #[inline(always)]
    pub(super) fn ts(&mut self) -> Option<u64> {
        Some(self.base.wrapping_add(unzigzag(self.u()?)))
    }

    #[inline(always)]
    pub(super) fn opt_ts(&mut self, present: bool) -> Option<Option<u64>> {
        if present {
            self.ts().map(Some)
        } else {
            Some(None)
        }
    }
}

/// [`Reader::word`] within 8 bytes of the end: zeros past it.
#[inline(never)]
pub(super) fn word_at_end(b: &[u8], pos: usize) -> u64 {
    let rest = b.get(pos..).unwrap_or_default();
    let mut w = 0u64;
    for (i, &x) in rest.iter().take(8).enumerate() {
        w |= u64::from(x) << (8 * i);
    }
    w
}
/// A sequence number as the zigzag of its difference from `base`.
pub(super) fn seq_diff(v: u64, base: u32) -> u64 {
    let d = (v as u32).wrapping_sub(base) as i32;
    u64::from(((d << 1) ^ (d >> 31)) as u32)
}

/// The way back from [`seq_diff`]; `None` when it does not fit.
pub(super) fn seq_of(z: u64, base: u32) -> Option<u64> {
    let z = u32::try_from(z).ok()?;
    let d = ((z >> 1) as i32) ^ -((z & 1) as i32);
    Some(u64::from(base.wrapping_add(d as u32)))
}
