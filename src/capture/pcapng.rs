//! pcapng: block framing (lengths checked before use), section headers,
//! interface descriptions (link type, timestamp resolution and offset),
//! enhanced, simple and obsolete packet blocks.

use super::*;

/// Most interfaces a section may define (an obsolete packet block can name
/// 65,536; no capture has more): past it the file is refused as corrupt,
/// so what a header claims cannot grow memory without bound.
pub const MAX_INTERFACES: usize = 65_536;

/// Largest interface description block read (its options: name,
/// description, filter...), 1 MiB.
pub const MAX_IDB_LEN: usize = 1 << 20;

/// A packet block's data, original length, link type and timestamp (ns).
type Packet<'a> = (&'a [u8], u32, u16, u64);

#[derive(Clone, Copy, Debug)]
pub(super) struct Iface {
    link: u16,
    /// Timestamp ticks per second.
    tps: u64,
    /// if_tsoffset, seconds.
    offset_s: i64,
}

impl Iface {
    /// An interface description block's link type and timestamp units; an
    /// `if_tsresol` finer than a 64-bit tick count can hold (beyond 10^-19
    /// or 2^-63 s, e.g. 0x7f or 0xff) is an error, not microseconds.
    fn of(idb: &pcap_parser::InterfaceDescriptionBlock) -> Result<Iface, String> {
        let r = idb.if_tsresol;
        let tps = if r & 0x80 != 0 {
            1u64.checked_shl(u32::from(r & 0x7f))
                .filter(|_| r & 0x7f < 64)
        } else {
            10u64.checked_pow(u32::from(r))
        };
        let Some(tps) = tps.filter(|t| *t > 0) else {
            return Err(format!(
                "interface description with if_tsresol 0x{r:02x}: a resolution no timestamp can hold"
            ));
        };
        Ok(Iface {
            link: (idb.linktype.0 & 0xFFFF) as u16,
            tps,
            offset_s: idb.if_tsoffset,
        })
    }
}

/// Refuses a section header of a major version other than 1 (`a` starts
/// with the block; `be`: its byte order), as libpcap does.
pub(super) fn check_version(a: &[u8], be: bool) -> Result<(), String> {
    let Some(v) = a.get(12..16) else {
        return Ok(());
    };
    let (major, minor) = if be {
        (
            u16::from_be_bytes([v[0], v[1]]),
            u16::from_be_bytes([v[2], v[3]]),
        )
    } else {
        (
            u16::from_le_bytes([v[0], v[1]]),
            u16::from_le_bytes([v[2], v[3]]),
        )
    };
    if major == 1 {
        Ok(())
    } else {
        Err(format!(
            "pcapng section of version {major}.{minor}: only version 1 is defined"
        ))
    }
}

/// What a parsed pcapng block means to the reader: an interface
/// description is remembered; a simple packet block gives its data,
/// original length, link type and timestamp (enhanced and obsolete packet
/// blocks are read by hand: `packet_block`); other blocks give nothing. An error names what is wrong.
fn packet_of<'a>(
    block: Block<'a>,
    ifaces: &mut Vec<Iface>,
    last_ts: &mut u64,
) -> Result<Option<Packet<'a>>, String> {
    match block {
        Block::InterfaceDescription(idb) => {
            ifaces.push(Iface::of(&idb)?);
            Ok(None)
        }
        Block::SimplePacket(spb) => {
            let Some(iface) = ifaces.first().copied() else {
                return Err("simple packet block before any interface description".into());
            };
            // An SPB has no timestamp: it inherits the previous one.
            Ok(Some((spb.data, spb.origlen, iface.link, *last_ts)))
        }
        _ => Ok(None),
    }
}

pub(super) fn ticks_to_ns(ticks: u64, tps: u64, offset_s: i64) -> u64 {
    let ns = if tps == 1_000_000_000 {
        ticks
    } else if tps == 1_000_000 {
        ticks.saturating_mul(1_000)
    } else {
        let v = u128::from(ticks) * 1_000_000_000 / u128::from(tps.max(1));
        u64::try_from(v).unwrap_or(u64::MAX)
    };
    ns.saturating_add_signed(offset_s.saturating_mul(1_000_000_000))
}

impl<R: Read> CaptureReader<R> {
    /// The framing of the pcapng block at `self.start`: its type, total
    /// length and byte order (a section header sets its own), once every
    /// length is checked and the whole block is in the buffer.
    fn pcapng_frame(&self, big_endian: bool) -> Result<(u32, usize, bool), Step> {
        let a = &self.buf[self.start..self.end];
        if a.len() < 12 {
            return Err(Step::NeedMore(12));
        }
        let w = |o: usize, be: bool| {
            let b = [a[o], a[o + 1], a[o + 2], a[o + 3]];
            if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let btype = w(0, big_endian);
        let mut be = big_endian;
        if btype == PCAPNG_SHB {
            be = if w(8, false) == PCAPNG_BOM {
                false
            } else if w(8, true) == PCAPNG_BOM {
                true
            } else {
                return Err(Step::Stop(self.corrupt(
                    self.start,
                    format!(
                        "section header with unknown byte-order magic 0x{:08x}",
                        w(8, false)
                    ),
                )));
            };
        }
        let len = w(4, be) as usize;
        if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
            return Err(Step::Stop(self.corrupt(
                self.start,
                format!("pcapng block of type 0x{btype:08x} has impossible length {len}"),
            )));
        }
        if a.len() < len {
            return Err(Step::NeedMore(len));
        }
        let trailer = w(len - 4, be) as usize;
        // A section header's trailing length is not needed to find the next
        // block (its leading length is); tolerate a damaged copy there.
        if trailer != len && btype != PCAPNG_SHB {
            return Err(Step::Stop(self.corrupt(
                self.start,
                format!(
                    "pcapng block of type 0x{btype:08x}: length {len} does not match its trailing copy {trailer}"
                ),
            )));
        }
        Ok((btype, len, be))
    }

    pub(super) fn parse_pcapng(&mut self, frames: &mut Vec<RawFrame>) -> Step {
        loop {
            let State::PcapNg { big_endian, .. } = self.state else {
                return Step::NeedMore(0);
            };
            let (btype, len, be) = match self.pcapng_frame(big_endian) {
                Ok(f) => f,
                Err(step) => return step,
            };
            let a = &self.buf[self.start..self.end];
            let blk_bytes = &a[..len];
            if btype == PCAPNG_SHB {
                // A section of another major version is refused (the data
                // before it is still reported).
                if let Err(reason) = check_version(&a[..len], be) {
                    return Step::Stop(CaptureError::Unsupported {
                        path: self.path.clone(),
                        offset: self.base + self.start as u64,
                        reason,
                    });
                }
                // Lenient: only the byte order matters to us; options are skipped
                // without being parsed (a damaged option does not lose the section).
                self.state = State::PcapNg {
                    big_endian: be,
                    ifaces: Vec::new(),
                    last_ts: 0,
                };
                self.start += len;
                continue;
            }
            if btype == PCAPNG_OPB || btype == PCAPNG_EPB {
                let at = self.start;
                match self.packet_block(at, len, be, btype == PCAPNG_EPB) {
                    Ok(f) => frames.push(f),
                    Err(reason) => return Step::Stop(self.corrupt(at, reason)),
                }
                self.start += len;
                continue;
            }
            // Only interface descriptions and simple packets are parsed;
            // name resolution, statistics, secrets and custom blocks are
            // skipped unread (what they claim costs nothing). An interface
            // description is bounded, and so is the interface count.
            if btype != PCAPNG_IDB && btype != PCAPNG_SPB {
                self.start += len;
                continue;
            }
            if btype == PCAPNG_IDB {
                let n = match &self.state {
                    State::PcapNg { ifaces, .. } => ifaces.len(),
                    _ => 0,
                };
                let reason = if len > MAX_IDB_LEN {
                    Some(format!(
                        "interface description block of {len} bytes: more than the {MAX_IDB_LEN} finscope reads"
                    ))
                } else if n >= MAX_INTERFACES {
                    Some(format!(
                        "the section defines more than {MAX_INTERFACES} interfaces, finscope's limit"
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Step::Stop(self.corrupt(self.start, reason));
                }
            }
            let parsed = if be {
                parse_block_be(blk_bytes)
            } else {
                parse_block_le(blk_bytes)
            };
            let block = match parsed {
                Ok((_, b)) => b,
                Err(e) => {
                    return Step::Stop(self.corrupt(
                        self.start,
                        format!("bad pcapng block of type 0x{btype:08x}: {}", nom_reason(&e)),
                    ));
                }
            };
            let base = self.buf.as_ptr() as usize;
            let State::PcapNg {
                ifaces, last_ts, ..
            } = &mut self.state
            else {
                return Step::NeedMore(0);
            };
            match packet_of(block, ifaces, last_ts) {
                Ok(None) => {}
                Ok(Some((data, orig_len, link, ts_ns))) => {
                    self.records += 1;
                    frames.push(RawFrame {
                        off: (data.as_ptr() as usize - base) as u32,
                        caplen: data.len() as u32,
                        orig_len,
                        link,
                        ts_ns,
                        number: self.records,
                    });
                }
                Err(reason) => return Step::Stop(self.corrupt(self.start, reason)),
            }
            self.start += len;
        }
    }

    /// An enhanced packet block (type 6: if_id u32, ts high/low, caplen,
    /// origlen, data, options) or an obsolete one (type 2: if_id u16, drops
    /// u16, then the same), read by hand: its options are not parsed (a
    /// parser would collect them, millions in a 16 MiB block). An error
    /// when it names no interface or its data runs past the block.
    fn packet_block(
        &mut self,
        at: usize,
        len: usize,
        be: bool,
        enhanced: bool,
    ) -> Result<RawFrame, String> {
        let b = &self.buf[at..at + len];
        let State::PcapNg {
            ifaces, last_ts, ..
        } = &mut self.state
        else {
            return Err("obsolete packet block outside a pcapng section".into());
        };
        let what = if enhanced {
            "enhanced packet block"
        } else {
            "obsolete packet block"
        };
        let short = || format!("{what} too short for its header");
        let r32 = |o: usize| -> Option<u32> {
            let s = b.get(o..o + 4)?;
            let a = [s[0], s[1], s[2], s[3]];
            Some(if be {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            })
        };
        let head = r32(8).ok_or_else(short)?;
        let if_id = match (enhanced, be) {
            (true, _) => head,
            (false, true) => head >> 16,
            (false, false) => head & 0xFFFF,
        };
        let Some(iface) = ifaces.get(if_id as usize).copied() else {
            return Err(format!(
                "{what} names interface {if_id} but the section defines {}",
                ifaces.len()
            ));
        };
        let ticks =
            (u64::from(r32(12).ok_or_else(short)?) << 32) | u64::from(r32(16).ok_or_else(short)?);
        let caplen = r32(20).ok_or_else(short)?;
        let orig_len = r32(24).ok_or_else(short)?;
        let data_end = 28usize.checked_add(caplen as usize).ok_or_else(short)?;
        if data_end > b.len().saturating_sub(4) {
            return Err(format!(
                "{what}: {caplen} bytes of data run past its length {len}"
            ));
        }
        let ts = ticks_to_ns(ticks, iface.tps, iface.offset_s);
        *last_ts = ts;
        let off = (at + 28) as u32;
        self.records += 1;
        Ok(RawFrame {
            off,
            caplen,
            orig_len,
            link: iface.link,
            ts_ns: ts,
            number: self.records,
        })
    }
}
