//! The per-process scratch file of the targets that need a path (included
//! with `#[path]`: each target is its own binary).

use std::path::PathBuf;
use std::sync::OnceLock;

/// `finscope-fuzz-<name>-<pid>` in /dev/shm where it exists, else in the
/// temporary directory; the same path for the whole process.
pub fn scratch(name: &str) -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("finscope-fuzz-{name}-{}", std::process::id()))
    })
}
