//! What the timeline counts, each named once: its series ([`Series`]) and
//! its per-bucket counters ([`Count`]).

use crate::flow::state::{NSTATES, TcpState};

/// A series of the timeline: the one place that names it. A state's
/// series is named by the state ([`TcpState::key`], which also names the
/// states a kill happened in); the derived series by [`Series::name`].
/// Everything else (the report's bucket fields, `peaks`, `state_time_us`,
/// the CSV columns, `mergeable.timeline`) reads its name from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Series {
    /// One of [`TcpState::SERIES`]: the sockets in that state.
    State(TcpState),
    /// FIN-WAIT-1 + CLOSING + LAST-ACK (+ FIN-WAIT-2 when `fin_timeout` is
    /// above 60 s): the orphan estimate.
    Orphans,
    /// The what-if (`--orphan-retries`): FIN-WAIT-1 with the orphans it
    /// would kill gone.
    FinWait1Limited,
    /// The what-if: orphans with the ones it would kill gone.
    OrphansLimited,
}

/// Series kept per bucket: the states, then orphans and the what-if series.
pub const NSERIES: usize = NSTATES + 3;

impl Series {
    /// Every series, in the order of [`super::Timeline`]'s arrays (the states in
    /// [`TcpState::SERIES`]' order first).
    pub const ALL: [Series; NSERIES] = {
        let mut all = [Series::Orphans; NSERIES];
        let mut i = 0;
        while i < NSTATES {
            all[i] = Series::State(TcpState::SERIES[i]);
            i += 1;
        }
        all[NSTATES + 1] = Series::FinWait1Limited;
        all[NSTATES + 2] = Series::OrphansLimited;
        all
    };

    /// Its name: JSON key (bucket field, `peaks`, `state_time_us`,
    /// `mergeable.timeline`) and CSV column.
    pub const fn name(self) -> &'static str {
        match self {
            Series::State(st) => st.key(),
            Series::Orphans => "orphans",
            Series::FinWait1Limited => "fin_wait_1_limited",
            Series::OrphansLimited => "orphans_limited",
        }
    }

    /// The series named `name`, if one is.
    pub fn from_name(name: &str) -> Option<Series> {
        Series::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its index in [`super::Timeline`]'s arrays (position in [`Series::ALL`]); a
    /// state that is not a series maps to 0 and is never added
    /// ([`crate::flow::conn::Conn::intervals`] lists series states only).
    pub fn index(self) -> usize {
        match self {
            Series::State(st) => st.series().unwrap_or(0),
            Series::Orphans => NSTATES,
            Series::FinWait1Limited => NSTATES + 1,
            Series::OrphansLimited => NSTATES + 2,
        }
    }

    /// A what-if series (`--orphan-retries`): the report holds its levels
    /// and peaks only with the what-if, and no state time.
    pub fn is_what_if(self) -> bool {
        matches!(self, Series::FinWait1Limited | Series::OrphansLimited)
    }
}

impl From<TcpState> for Series {
    fn from(st: TcpState) -> Series {
        Series::State(st)
    }
}

/// A per-bucket counter of segments and connections: the one place that
/// names it (the report's bucket field and CSV column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// TCP segments.
    Segments,
    Fin,
    FinRetransmissions,
    Rst,
    /// Connections whose first packet is in the bucket.
    NewConnections,
    /// Connections whose close began in the bucket.
    Closes,
}

/// Counters kept per bucket.
pub const NCOUNTERS: usize = 6;

impl Count {
    /// Every counter, in the order of [`super::BucketDelta::counts`].
    pub const ALL: [Count; NCOUNTERS] = [
        Count::Segments,
        Count::Fin,
        Count::FinRetransmissions,
        Count::Rst,
        Count::NewConnections,
        Count::Closes,
    ];

    /// Its name: the report's bucket field and CSV column.
    pub const fn name(self) -> &'static str {
        match self {
            Count::Segments => "tcp",
            Count::Fin => "fin",
            Count::FinRetransmissions => "fin_retransmissions",
            Count::Rst => "rst",
            Count::NewConnections => "new_connections",
            Count::Closes => "closes",
        }
    }

    /// Its index in [`super::BucketDelta::counts`] (its place in [`Count::ALL`]).
    pub const fn index(self) -> usize {
        self as usize
    }
}
