//! `finscope man`: the manual pages, finscope(1) and one per subcommand
//! (finscope-analyze(1), ...) with all its options, as clap_mangen renders
//! them from the same definitions as `--help`.

use super::{Error, print_all};
use crate::cli::Cli;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Why a page cannot be printed.
#[derive(Debug, thiserror::Error)]
#[error(
    "man: `{0}` is not a subcommand (analyze, check, diff, timeline, merge, ss, completions, man)"
)]
pub struct NoSuchPage(pub String);

/// The command tree as the pages show it: built, so that a subcommand's
/// name reads `finscope-analyze`.
fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every page: finscope(1) first, then each subcommand's, as (file name,
/// roff).
fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let cmd = command();
    let mut out = Vec::new();
    for c in std::iter::once(cmd.clone()).chain(cmd.get_subcommands().cloned()) {
        let name = c.get_display_name().unwrap_or(c.get_name()).to_string();
        out.push((format!("{name}.1"), page(c)?));
    }
    Ok(out)
}

/// One page, its footer naming finscope's version; finscope(1) ends with
/// SEE ALSO, the subcommands' pages.
fn page(c: clap::Command) -> std::io::Result<Vec<u8>> {
    let top = c.get_name() == "finscope";
    let see_also: Vec<String> = c
        .get_subcommands()
        .map(|s| {
            let name = s.get_display_name().unwrap_or(s.get_name());
            format!("\\fB{}\\fR(1)", name.replace('-', "\\-"))
        })
        .collect();
    let man = clap_mangen::Man::new(c).source(format!("finscope {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    if top && !see_also.is_empty() {
        buf.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", see_also.join(", ")).as_bytes());
    }
    Ok(buf)
}

/// Prints finscope(1), or `subcommand`'s page; with `dir`, writes every
/// page there and names each on standard output.
pub fn run(subcommand: Option<&str>, dir: Option<&Path>) -> Result<ExitCode, Error> {
    if let Some(dir) = dir {
        let mut written = Vec::new();
        for (name, roff) in pages()? {
            let path = dir.join(&name);
            let write = || {
                let mut f = std::fs::File::create(&path)?;
                f.write_all(&roff)?;
                f.flush()
            };
            write().map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path.display().to_string());
        }
        print_all(format!("{}\n", written.join("\n")).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let cmd = command();
    let page = match subcommand {
        None => cmd,
        Some(name) => cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| Error::Man(NoSuchPage(name.to_string())))?,
    };
    print_all(&self::page(page)?)?;
    Ok(ExitCode::SUCCESS)
}
