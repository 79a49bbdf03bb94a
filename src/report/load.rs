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
    #[error("{} is a capture, not a report: run `finscope analyze --json` on it first", path.display())]
    Capture { path: PathBuf },
    #[error("{}: not JSON: not UTF-8 text (a finscope report is written by `finscope analyze --json`)", path.display())]
    NotText { path: PathBuf },
    #[error("{}: key `{key}` appears twice in one object (at {at}): not a report finscope wrote", path.display())]
    DuplicateKey {
        path: PathBuf,
        key: String,
        at: String,
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
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if crate::capture::open::capture_kind(&bytes).is_some() {
        return Err(LoadError::Capture { path: p() });
    }
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(LoadError::TooLarge { path: p() });
    }
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText { path: p() })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| LoadError::NotJson { path: p(), source })?;
    // serde_json keeps the last of two equal keys without a word: a
    // report edited by hand (or two concatenated) would say one figure
    // while its file shows another.
    if let Some((key, at)) = duplicate_key(&text) {
        return Err(LoadError::DuplicateKey { path: p(), key, at });
    }
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

/// The first key found twice in one object of the JSON `text`, with
/// where: `None` when there is none (a second parse, without building
/// anything).
fn duplicate_key(text: &str) -> Option<(String, String)> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    use std::fmt;
    // A visitor that walks every value, keeping the path, and stops at
    // the first repeated key.
    struct Walk<'a> {
        path: &'a str,
        found: &'a mut Option<(String, String)>,
    }
    impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0usize;
            loop {
                let path = format!("{}[{i}]", self.path);
                let walk = Walk {
                    path: &path,
                    found: &mut *self.found,
                };
                if seq.next_element_seed(walk)?.is_none() || self.found.is_some() {
                    return Ok(());
                }
                i += 1;
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.path)
                };
                if !seen.insert(key.clone()) {
                    let at = if self.path.is_empty() {
                        "the top level".to_string()
                    } else {
                        format!("`{}`", self.path)
                    };
                    *self.found = Some((key, at));
                    return Ok(());
                }
                map.next_value_seed(Walk {
                    path: &path,
                    found: &mut *self.found,
                })?;
                if self.found.is_some() {
                    return Ok(());
                }
            }
            Ok(())
        }
    }
    let mut found = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = serde::de::DeserializeSeed::deserialize(
        Walk {
            path: "",
            found: &mut found,
        },
        &mut de,
    );
    found
}
