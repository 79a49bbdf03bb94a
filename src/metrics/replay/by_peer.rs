//! Values grouped by peer index, each group sorted: the demand's ACKed
//! lengths, FIN-WAIT-2 times and first RTOs per peer (`Replay::new`), in
//! one list counted out by peer instead of a hash map of vectors (one
//! lookup per life and value, one allocation per peer).

/// Values of each peer `p` (an index into the replay's peer list) in
/// `values[start[p]..start[p + 1]]`, sorted.
#[derive(Clone, Debug, Default)]
pub(super) struct ByPeer {
    start: Vec<u32>,
    values: Vec<u64>,
}

impl ByPeer {
    /// Groups for `peers` peers, filled in two passes over the values:
    /// [`ByPeer::count`] each value's peer, then [`ByPeer::place`] each
    /// value (in the same order or any), then [`ByPeer::done`].
    pub(super) fn counting(peers: usize) -> ByPeer {
        ByPeer {
            start: vec![0; peers + 1],
            values: Vec::new(),
        }
    }

    /// Counts a value of peer `p` (below `peers`; fewer than 2^32 values).
    pub(super) fn count(&mut self, p: u32) {
        self.start[p as usize + 1] += 1;
    }

    /// After the counts: `start[p]` is where peer p's values begin (a
    /// cursor from here on) and the values have their room.
    pub(super) fn counted(&mut self) {
        for p in 1..self.start.len() {
            self.start[p] += self.start[p - 1];
        }
        self.values = vec![0; self.start.last().copied().unwrap_or(0) as usize];
    }

    /// Places a value of peer `p` (one counted).
    pub(super) fn place(&mut self, p: u32, v: u64) {
        let at = &mut self.start[p as usize];
        self.values[*at as usize] = v;
        *at += 1;
    }

    /// After the values: each cursor is where the next peer begins, so
    /// shifted by one they are the starts again; each group sorted.
    pub(super) fn done(&mut self) {
        let n = self.start.len();
        self.start.copy_within(0..n - 1, 1);
        self.start[0] = 0;
        for w in self.start.windows(2) {
            self.values[w[0] as usize..w[1] as usize].sort_unstable();
        }
    }

    /// The values of peer `p`, sorted (none for a peer without).
    pub(super) fn get(&self, p: u32) -> &[u64] {
        let p = p as usize;
        match (self.start.get(p), self.start.get(p + 1)) {
            (Some(&a), Some(&z)) => &self.values[a as usize..z as usize],
            _ => &[],
        }
    }

    /// Every value, grouped by peer (unsorted across peers).
    pub(super) fn all(&self) -> &[u64] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_grouped_by_peer_and_sorted() {
        let items = [(2u32, 5u64), (0, 9), (2, 1), (0, 3), (2, 4)];
        let mut g = ByPeer::counting(4);
        items.iter().for_each(|(p, _)| g.count(*p));
        g.counted();
        items.iter().rev().for_each(|(p, v)| g.place(*p, *v));
        g.done();
        assert_eq!(g.get(0), [3, 9]);
        assert_eq!(g.get(1), [] as [u64; 0]);
        assert_eq!(g.get(2), [1, 4, 5]);
        assert_eq!(g.get(3), [] as [u64; 0]);
        assert_eq!(g.get(4), [] as [u64; 0]);
        assert_eq!(g.all(), [3, 9, 1, 4, 5]);
        let mut none = ByPeer::counting(0);
        none.counted();
        none.done();
        assert!(none.get(0).is_empty() && none.all().is_empty());
    }
}
