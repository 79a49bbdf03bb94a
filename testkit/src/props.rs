//! proptest's configuration for finscope's integration tests: every
//! property test keeps the seeds of its failing cases in the one folder
//! `proptest-regressions/` at the repository root, as
//! `proptest-regressions/tests/<test file>.txt`. (The unit tests in src/,
//! with proptest's default `SourceParallel`, already write theirs there, as
//! `proptest-regressions/<module path>.txt`; from tests/ the default finds no
//! `lib.rs` above the file and would write `tests/<file>.proptest-regressions`.)
//! The files are committed: the saved cases run first on every run.

use proptest::test_runner::{Config, FileFailurePersistence};

/// `proptest-regressions/tests/TEST.txt` under the repository root.
pub fn regressions(test: &str) -> std::path::PathBuf {
    crate::cli::root()
        .join("proptest-regressions")
        .join("tests")
        .join(format!("{test}.txt"))
}

/// proptest's default configuration with `cases` cases and the seeds of
/// failures kept in [`regressions`]`(test)`.
pub fn config(test: &str, cases: u32) -> Config {
    // `Direct` takes a `&'static str`: one path leaked per property.
    let path: &'static str = Box::leak(regressions(test).display().to_string().into_boxed_str());
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        ..Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_seeds_are_where_the_config_looks() {
        let p = regressions("close_model_props");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(text.lines().filter(|l| l.starts_with("cc ")).count(), 7);
        assert!(regressions("robustness").is_file());
    }
}
