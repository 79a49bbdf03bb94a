//! Reading a saved `analyze --json` report back (`check`, `diff`):
//! refusing other documents and schema versions this finscope does not
//! read, with an error that says which.

use super::schema::{Report, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

/// Largest report read (`diff`, `check`): far above any real report, and
/// keeps `diff /dev/zero x` from eating memory.
pub const MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;

/// Oldest report schema this finscope reads.
pub const MIN_SCHEMA_VERSION: u32 = 1;

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: larger than {MAX_REPORT_BYTES} bytes: not a finscope report", path.display())]
    TooLarge { path: PathBuf },
    #[error("{}: not JSON: {source}", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: not a finscope report (no `schema_version`; write one with `finscope analyze --json`)", path.display())]
    NotAReport { path: PathBuf },
    #[error("{}: `schema_version` is not a number", path.display())]
    BadVersion { path: PathBuf },
    #[error("{}: report schema version {version} is newer than this finscope reads ({SCHEMA_VERSION}); upgrade finscope", path.display())]
    TooNew { path: PathBuf, version: u64 },
    #[error("{}: report schema version {version} is no longer read (oldest: {MIN_SCHEMA_VERSION}); re-run `finscope analyze --json` on the capture", path.display())]
    TooOld { path: PathBuf, version: u64 },
    #[error("{}: does not match report schema version {version}: {source}", path.display())]
    Schema {
        path: PathBuf,
        version: u64,
        source: serde_json::Error,
    },
    #[error("{}: `peers[{index}]`: peer `{addr}` is listed twice (not a report finscope wrote)", path.display())]
    DuplicatePeer {
        path: PathBuf,
        index: usize,
        addr: String,
    },
}

/// Reads an `analyze --json` report of a schema version this finscope reads.
pub fn load(path: &Path) -> Result<Report, LoadError> {
    let p = || path.to_path_buf();
    use std::io::Read;
    let io = |source| LoadError::Io { path: p(), source };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_REPORT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        return Err(LoadError::TooLarge { path: p() });
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| LoadError::NotJson { path: p(), source })?;
    let Some(version) = v.get("schema_version") else {
        return Err(LoadError::NotAReport { path: p() });
    };
    let version = version
        .as_u64()
        .ok_or_else(|| LoadError::BadVersion { path: p() })?;
    if version > u64::from(SCHEMA_VERSION) {
        return Err(LoadError::TooNew { path: p(), version });
    }
    if version < u64::from(MIN_SCHEMA_VERSION) {
        return Err(LoadError::TooOld { path: p(), version });
    }
    let report: Report = serde_json::from_value(v).map_err(|source| LoadError::Schema {
        path: p(),
        version,
        source,
    })?;
    // `diff` pairs peers by address (or group label): one row each.
    let mut seen = std::collections::HashSet::new();
    if let Some((index, peer)) = report
        .peers
        .iter()
        .enumerate()
        .find(|(_, peer)| !seen.insert(peer.addr.as_str()))
    {
        return Err(LoadError::DuplicatePeer {
            path: p(),
            index,
            addr: peer.addr.clone(),
        });
    }
    Ok(report)
}
