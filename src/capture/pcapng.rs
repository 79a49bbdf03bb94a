//! pcapng: block framing (lengths checked before use), section headers,
//! interface descriptions (link type, timestamp resolution and offset),
//! enhanced, simple and obsolete packet blocks.

use super::*;

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
    /// An interface description block's link type and timestamp units.
    fn of(idb: &pcap_parser::InterfaceDescriptionBlock) -> Iface {
        let r = idb.if_tsresol;
        let tps = if r & 0x80 != 0 {
            1u64.checked_shl(u32::from(r & 0x7f)).unwrap_or(0)
        } else {
            10u64.checked_pow(u32::from(r)).unwrap_or(0)
        };
        Iface {
            link: (idb.linktype.0 & 0xFFFF) as u16,
            tps: if tps == 0 { 1_000_000 } else { tps },
            offset_s: idb.if_tsoffset,
        }
    }
}

/// What a pcapng block means to the reader: an interface description is
/// remembered; a packet block gives its data, original length, link type
/// and timestamp; other blocks give nothing. An error names what is wrong.
fn packet_of<'a>(
    block: Block<'a>,
    ifaces: &mut Vec<Iface>,
    last_ts: &mut u64,
) -> Result<Option<Packet<'a>>, String> {
    match block {
        Block::InterfaceDescription(idb) => {
            ifaces.push(Iface::of(&idb));
            Ok(None)
        }
        Block::EnhancedPacket(epb) => {
            let Some(iface) = ifaces.get(epb.if_id as usize).copied() else {
                return Err(format!(
                    "packet block names interface {} but the section defines {}",
                    epb.if_id,
                    ifaces.len()
                ));
            };
            let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let ts = ticks_to_ns(ticks, iface.tps, iface.offset_s);
            *last_ts = ts;
            Ok(Some((epb.data, epb.origlen, iface.link, ts)))
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
            if btype == PCAPNG_OPB {
                let at = self.start;
                if let Some(f) = self.opb(at, len, be) {
                    frames.push(f);
                }
                self.start += len;
                continue;
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

    /// Obsolete Packet Block (type 2): if_id u16, drops u16, ts high/low,
    /// caplen, origlen, data.
    fn opb(&mut self, at: usize, len: usize, be: bool) -> Option<RawFrame> {
        let b = &self.buf[at..at + len];
        let State::PcapNg {
            ifaces, last_ts, ..
        } = &mut self.state
        else {
            return None;
        };
        let r32 = |o: usize| -> Option<u32> {
            let s = b.get(o..o + 4)?;
            let a = [s[0], s[1], s[2], s[3]];
            Some(if be {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            })
        };
        let head = r32(8)?;
        let if_id = if be { head >> 16 } else { head & 0xFFFF };
        let iface = ifaces.get(if_id as usize).copied()?;
        let ticks = (u64::from(r32(12)?) << 32) | u64::from(r32(16)?);
        let caplen = r32(20)?;
        let orig_len = r32(24)?;
        let data_end = 28usize.checked_add(caplen as usize)?;
        if data_end > b.len() - 4 {
            return None;
        }
        let ts = ticks_to_ns(ticks, iface.tps, iface.offset_s);
        *last_ts = ts;
        let off = (at + 28) as u32;
        self.records += 1;
        Some(RawFrame {
            off,
            caplen,
            orig_len,
            link: iface.link,
            ts_ns: ts,
            number: self.records,
        })
    }
}
