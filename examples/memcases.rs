//! memcases: writes the captures of the memory benchmarks
//! (`benches/memory.py`, docs/performance.md): the worst traffic a
//! forensic tool is pointed at, each case one way finscope's memory could
//! follow what the capture throws at it.
//!
//! ```text
//! cargo run --release --example memcases -- CASE N OUT
//! ```
//!
//! | case | N | capture |
//! |---|---|---|
//! | `syn-flood` | SYNs | random sources and ports to one server, 1 us apart |
//! | `syn-flows` | flows | distinct flows that never close: one SYN each, 10 us apart |
//! | `open-flows` | flows | distinct handshaken connections that never close |
//! | `peers` | connections | each from its own remote address (11.x.y.z) to 192.0.2.80:443, which closes it (`--local 192.0.2.0/24`: N remote peers) |
//! | `one-flow` | packets | one connection, a packet every second |
//! | `dense` | packets | one connection, a packet every millisecond |
//! | `ifaces` | blocks | gzip of a pcapng section with N interface blocks |
//!
//! Classic pcap (Ethernet, microsecond timestamps) except `ifaces`.
//! Everything is deterministic.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

const BASE_S: u64 = 1_700_000_000;

/// Writes Ethernet/IPv4/TCP frames without payload into a pcap file.
struct Pcap<W: Write> {
    w: W,
}

impl<W: Write> Pcap<W> {
    fn new(mut w: W) -> io::Result<Pcap<W>> {
        let mut h = Vec::new();
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65_535u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        w.write_all(&h)?;
        Ok(Pcap { w })
    }

    /// One TCP segment at `t_us` microseconds after the base time.
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        t_us: u64,
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
    ) -> io::Result<()> {
        let mut f = [0u8; 54];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&40u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        let mut sum = 0u32;
        for c in ip.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let tcp = &mut f[34..54];
        tcp[0..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&dport.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&65_535u16.to_be_bytes());
        let secs = BASE_S + t_us / 1_000_000;
        let mut r = Vec::with_capacity(70);
        r.extend_from_slice(&(secs as u32).to_le_bytes());
        r.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&54u32.to_le_bytes());
        r.extend_from_slice(&54u32.to_le_bytes());
        r.extend_from_slice(&f);
        self.w.write_all(&r)
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;

/// splitmix64.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The n-th distinct client endpoint: 10.x.y.z, ports 1024..=65023.
fn client(n: u64) -> ([u8; 4], u16) {
    let host = n / 64_000;
    let port = 1024 + (n % 64_000) as u16;
    (
        [10, (host >> 16) as u8, (host >> 8) as u8, host as u8],
        port,
    )
}

const SERVER: [u8; 4] = [192, 0, 2, 80];

fn write(case: &str, n: u64, out: &str) -> io::Result<()> {
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    if case == "ifaces" {
        return ifaces(n, file);
    }
    let mut p = Pcap::new(file)?;
    match case {
        "syn-flood" => {
            for i in 0..n {
                let r = mix(i);
                let src = (r >> 32) as u32 | 0x0100_0000;
                p.tcp(i, src.to_be_bytes(), r as u16, SERVER, 80, r as u32, 0, SYN)?;
            }
        }
        "syn-flows" => {
            for i in 0..n {
                let (a, port) = client(i);
                p.tcp(i * 10, a, port, SERVER, 443, mix(i) as u32, 0, SYN)?;
            }
        }
        "open-flows" => {
            for i in 0..n {
                let (a, port) = client(i);
                let (c, s) = (mix(i) as u32, mix(!i) as u32);
                let t = i * 30;
                p.tcp(t, a, port, SERVER, 443, c, 0, SYN)?;
                p.tcp(t + 10, SERVER, 443, a, port, s, c + 1, SYN | ACK)?;
                p.tcp(t + 20, a, port, SERVER, 443, c + 1, s + 1, ACK)?;
            }
        }
        "peers" => {
            for i in 0..n {
                let a = (0x0b00_0000 + i as u32).to_be_bytes();
                let (c, sv) = (mix(i) as u32, mix(!i) as u32);
                let t = i * 50;
                p.tcp(t, a, 40_000, SERVER, 443, c, 0, SYN)?;
                p.tcp(t + 10, SERVER, 443, a, 40_000, sv, c + 1, SYN | ACK)?;
                p.tcp(t + 20, a, 40_000, SERVER, 443, c + 1, sv + 1, ACK)?;
                p.tcp(t + 30, SERVER, 443, a, 40_000, sv + 1, c + 1, FIN | ACK)?;
                p.tcp(t + 40, a, 40_000, SERVER, 443, c + 1, sv + 2, ACK)?;
            }
        }
        "one-flow" | "dense" => {
            let step = if case == "dense" { 1_000 } else { 1_000_000 };
            let (a, port) = client(0);
            p.tcp(0, a, port, SERVER, 443, 1, 0, SYN)?;
            p.tcp(1, SERVER, 443, a, port, 1, 2, SYN | ACK)?;
            for i in 2..n {
                let t = i * step;
                if i % 2 == 0 {
                    p.tcp(t, a, port, SERVER, 443, 2, 2, ACK)?;
                } else {
                    p.tcp(t, SERVER, 443, a, port, 2, 2, ACK)?;
                }
            }
        }
        _ => return Err(io::Error::other(format!("unknown case `{case}`"))),
    }
    p.w.flush()
}

/// A gzip'd pcapng section header followed by `n` interface blocks.
fn ifaces<W: Write>(n: u64, out: W) -> io::Result<()> {
    let mut z = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
    shb.extend_from_slice(&28u32.to_le_bytes());
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    shb.extend_from_slice(&28u32.to_le_bytes());
    z.write_all(&shb)?;
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u32.to_le_bytes());
    idb.extend_from_slice(&20u32.to_le_bytes());
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    idb.extend_from_slice(&20u32.to_le_bytes());
    let block: Vec<u8> = idb.repeat(4096);
    let mut left = n;
    while left > 0 {
        let k = left.min(4096);
        z.write_all(&block[..k as usize * idb.len()])?;
        left -= k;
    }
    z.finish()?.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: memcases syn-flood|syn-flows|open-flows|one-flow|dense|ifaces N OUT";
    let [case, n, out] = args.as_slice() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let Ok(n) = n.replace('_', "").parse::<u64>() else {
        eprintln!("memcases: bad count `{n}`\n{usage}");
        return ExitCode::from(2);
    };
    match write(case, n, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memcases: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
