//! Classic pcap records (both byte orders, us/ns, the "modified" variant):
//! every record length checked before it is trusted.

use super::*;

impl<R: Read> CaptureReader<R> {
    pub(super) fn parse_pcap(&mut self, frames: &mut Vec<RawFrame>) -> Step {
        let State::Pcap {
            big_endian,
            nanos,
            link,
            max_caplen,
            extra,
        } = self.state
        else {
            return Step::NeedMore(0);
        };
        loop {
            let a = &self.buf[self.start..self.end];
            if a.len() < 16 {
                return Step::NeedMore(16);
            }
            let b = [a[8], a[9], a[10], a[11]];
            let caplen = if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
            if caplen > max_caplen {
                return Step::Stop(self.corrupt(
                    self.start,
                    format!(
                        "record claims {caplen} captured bytes, more than the maximum of {max_caplen}"
                    ),
                ));
            }
            let need = 16 + extra + caplen as usize;
            if a.len() < need {
                return Step::NeedMore(need);
            }
            // pcap-parser reads the standard 16-byte header; in the modified
            // format its 8 extra bytes (ifindex, protocol, type) are skipped.
            let parsed = if big_endian {
                parse_pcap_frame_be(&a[..need]).map(|(_, b)| (b.ts_sec, b.ts_usec, b.origlen))
            } else {
                parse_pcap_frame(&a[..need]).map(|(_, b)| (b.ts_sec, b.ts_usec, b.origlen))
            };
            let (ts_sec, ts_frac, origlen) = match parsed {
                Ok(x) => x,
                Err(e) => {
                    return Step::Stop(self.corrupt(self.start, format!("bad record: {e:?}")));
                }
            };
            let frac = if nanos {
                u64::from(ts_frac)
            } else {
                u64::from(ts_frac) * 1_000
            };
            self.records += 1;
            frames.push(RawFrame {
                off: (self.start + 16 + extra) as u32,
                caplen,
                orig_len: origlen,
                link,
                ts_ns: u64::from(ts_sec) * 1_000_000_000 + frac,
                number: self.records,
            });
            self.start += need;
        }
    }
}
