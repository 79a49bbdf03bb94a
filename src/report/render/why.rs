//! "Who holds the FIN" in the renderers: a peer's verdict for the peers
//! table's "why" column and its evidence for the line under the row (text)
//! or the row's cell (HTML).

use crate::report::schema::Peer;

/// The verdict's short name, `-` in a report without one.
pub fn verdict(p: &Peer) -> &str {
    p.fin_delay.as_ref().map_or("-", |f| f.verdict.as_str())
}

/// The verdict's evidence joined, for a verdict that names a holder (not
/// `none` / `unknown`); `None` otherwise.
pub fn evidence(p: &Peer) -> Option<String> {
    let f = p.fin_delay.as_ref()?;
    if matches!(f.verdict.as_str(), "none" | "unknown") || f.evidence.is_empty() {
        return None;
    }
    Some(f.evidence.join("; "))
}
