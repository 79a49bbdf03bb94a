//! The scan baseline: the bare single-threaded loop that reads a classic
//! pcap with pcap-parser and slices every frame with etherparse, counting
//! FIN flags. Nothing can analyse a capture faster than it reads and slices
//! it, so finscope's figures are given as a ratio to this loop's time.

use etherparse::{SlicedPacket, TransportSlice};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, traits::PcapReaderIterator};
use std::fs::File;
use std::path::Path;

/// Frames and FIN segments counted by [`scan`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCount {
    pub frames: u64,
    pub fins: u64,
}

/// Reads the whole pcap at `path` (buffer of `buffer` bytes, the same size
/// finscope reads with) and counts frames and FINs.
pub fn scan(path: &Path, buffer: usize) -> Result<ScanCount, String> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut r =
        LegacyPcapReader::new(buffer, f).map_err(|e| format!("{}: {e:?}", path.display()))?;
    let mut c = ScanCount::default();
    loop {
        match r.next() {
            Ok((off, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    c.frames += 1;
                    if let Ok(p) = SlicedPacket::from_ethernet(b.data)
                        && let Some(TransportSlice::Tcp(t)) = p.transport
                    {
                        c.fins += u64::from(t.fin());
                    }
                }
                r.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if r.reader_exhausted() {
                    break;
                }
                r.refill()
                    .map_err(|e| format!("{}: {e:?}", path.display()))?;
            }
            Err(e) => return Err(format!("{}: {e:?}", path.display())),
        }
    }
    Ok(c)
}
