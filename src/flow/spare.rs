//! Spare connection boxes: a shard keeps the boxes of connections that
//! left its table (compacted, retired by a sweep) and writes the next new
//! or returning connection into one, so that it goes into memory just
//! touched and the allocator sees no round trip of a 992-byte block per
//! connection (docs/performance.md, "Hot and cold connection").

use super::conn::Conn;

/// At most this many spares a shard: enough for the gap between
/// connections closing and new ones starting, about 63 KB (not counted
/// in [`super::table::Shard::memory`]).
pub const SPARE_BOXES: usize = 64;

/// A shard's spare boxes.
#[derive(Default)]
pub struct SpareBoxes {
    #[allow(clippy::vec_box)] // the boxes are the point: allocations kept for reuse
    boxes: Vec<Box<Conn>>,
}

impl SpareBoxes {
    /// `c` in a box: a spare one when there is one.
    pub fn boxed(&mut self, c: Conn) -> Box<Conn> {
        match self.boxes.pop() {
            Some(mut b) => {
                *b = c;
                b
            }
            None => Box::new(c),
        }
    }

    /// Keeps `b` for a later connection, while there are fewer than
    /// [`SPARE_BOXES`].
    pub fn keep(&mut self, b: Box<Conn>) {
        if self.boxes.len() < SPARE_BOXES {
            self.boxes.push(b);
        }
    }

    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Segment;
    use crate::flow::key::FlowKey;

    /// A kept box is the next one handed out (the same allocation, the new
    /// connection in it), and no more than [`SPARE_BOXES`] are kept.
    #[test]
    fn a_kept_box_is_reused_and_the_spares_are_capped() {
        let mut s1 = Segment::between("10.0.0.1", 40000, "192.0.2.7", 80);
        s1.ts_ns = 7;
        let s2 = Segment::between("10.0.0.2", 40001, "192.0.2.7", 80);
        let (k1, _) = FlowKey::of(&s1);
        let (k2, _) = FlowKey::of(&s2);
        let mut spare = SpareBoxes::default();
        let b = spare.boxed(Conn::new(k1, &s1));
        let at = &*b as *const Conn;
        spare.keep(b);
        assert_eq!(spare.len(), 1);
        let b2 = spare.boxed(Conn::new(k2, &s2));
        assert_eq!(&*b2 as *const Conn, at);
        assert_eq!(*b2, Conn::new(k2, &s2));
        assert!(spare.is_empty());
        for _ in 0..SPARE_BOXES + 10 {
            spare.keep(Box::new(Conn::new(k1, &s1)));
        }
        assert_eq!(spare.len(), SPARE_BOXES);
    }
}
