//! TCP sequence numbers: 32-bit serial arithmetic (RFC 1982, RFC 9293 section 3.4).
//!
//! Invariant: raw `u32` sequence values are compared nowhere but in this file.
//! `a < b` means "b is ahead of a by less than 2^31", so ordering survives
//! the wrap from 0xFFFF_FFFF to 0.

use std::cmp::Ordering;
use std::ops::{Add, Sub};

/// A TCP sequence or acknowledgment number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance `self - other`, in the range -2^31 .. 2^31.
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl std::fmt::Display for SeqNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordering_across_wrap() {
        assert!(SeqNum(0xFFFF_FFF0) < SeqNum(0x10));
        assert!(SeqNum(0x10) > SeqNum(0xFFFF_FFF0));
        assert_eq!(SeqNum(0xFFFF_FFFF) + 1, SeqNum(0));
        assert_eq!(SeqNum(0) - 1, SeqNum(0xFFFF_FFFF));
        assert_eq!(SeqNum(5).diff(SeqNum(0xFFFF_FFFE)), 7);
        assert!(SeqNum(7) <= SeqNum(7));
        assert!(SeqNum(100) < SeqNum(101));
    }

    proptest! {
        #[test]
        fn antisymmetric(a in any::<u32>(), d in 1u32..0x7FFF_FFFF) {
            let x = SeqNum(a);
            let y = x + d;
            prop_assert!(x < y);
            prop_assert!(y > x);
            prop_assert!(y.partial_cmp(&x) == Some(std::cmp::Ordering::Greater));
            prop_assert_eq!(y.diff(x), d as i32);
        }
    }
}
