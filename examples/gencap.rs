//! gencap: writes a large, realistic, deterministic capture of a proxy's
//! upstream TCP traffic and `<out>.expected.json`, the exact counts
//! finscope must report on it ([`finscope_testkit::gencap`]).
//!
//! ```text
//! cargo run --release --example gencap -- --packets 20000000 --out big.pcap
//! ```

use finscope_testkit::gencap::{Config, Expected, generate};
use std::io;

fn main() -> std::process::ExitCode {
    let usage = "usage: gencap [--profile default|gateway] [--packets N] [--out FILE] [--seed S] [--servers N] [--rate CONN/S] [--snaplen N] [--dns-pct P]";
    let mut cfg = Config::default();
    let mut out = std::path::PathBuf::from("gen.pcap");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        let num = |s: String| s.replace('_', "").parse::<u64>().ok();
        let ok = match a.as_str() {
            "--packets" => num(val()).map(|v| cfg.packets = v),
            "--seed" => num(val()).map(|v| cfg.seed = v),
            "--servers" => num(val()).map(|v| cfg.servers = v as u32),
            "--rate" => num(val()).map(|v| cfg.rate = v),
            "--snaplen" => num(val()).map(|v| cfg.snaplen = v as u32),
            "--dns-pct" => num(val()).map(|v| cfg.dns_pct = v.min(100)),
            "--profile" => match val().as_str() {
                "gateway" => {
                    cfg = Config::gateway(cfg.packets);
                    Some(())
                }
                "default" => {
                    cfg = Config::default();
                    Some(())
                }
                _ => None,
            },
            "--out" => {
                out = val().into();
                Some(())
            }
            _ => None,
        };
        if ok.is_none() {
            eprintln!("gencap: bad argument `{a}`\n{usage}");
            return std::process::ExitCode::from(2);
        }
    }
    let run = || -> io::Result<Expected> {
        let f = std::fs::File::create(&out)?;
        let e = generate(&cfg, f)?;
        let mut name = out.clone().into_os_string();
        name.push(".expected.json");
        let json = serde_json::to_string_pretty(&e.paths()).map_err(io::Error::other)?;
        std::fs::write(&name, json + "\n")?;
        Ok(e)
    };
    match run() {
        Ok(e) => {
            println!(
                "gencap: {} frames, {} bytes, {} connections, {} peers -> {}",
                e.frames,
                e.bytes,
                e.connections,
                e.peers,
                out.display()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gencap: {}: {e}", out.display());
            std::process::ExitCode::from(2)
        }
    }
}
