//! Link-type numbers (tcpdump.org LINKTYPE_ values) finscope decodes, and their names.

pub const NULL: u16 = 0;
pub const ETHERNET: u16 = 1;
/// DLT_RAW as most systems number it in pcap files.
pub const DLT_RAW_12: u16 = 12;
/// DLT_RAW on OpenBSD.
pub const DLT_RAW_14: u16 = 14;
pub const RAW: u16 = 101;
/// Cisco HDLC (DLT_C_HDLC).
pub const C_HDLC: u16 = 104;
pub const LOOP: u16 = 108;
pub const LINUX_SLL: u16 = 113;
pub const IPV4: u16 = 228;
pub const IPV6: u16 = 229;
/// Linux netfilter log messages (`tcpdump -i nflog`).
pub const NFLOG: u16 = 239;
pub const LINUX_SLL2: u16 = 276;

/// Human name of a link type (tcpdump's names), or `LINKTYPE_<n>`.
pub fn name(link: u16) -> String {
    match link {
        NULL => "NULL".into(),
        ETHERNET => "EN10MB".into(),
        DLT_RAW_12 | DLT_RAW_14 | RAW => "RAW".into(),
        LOOP => "LOOP".into(),
        LINUX_SLL => "LINUX_SLL".into(),
        IPV4 => "IPV4".into(),
        IPV6 => "IPV6".into(),
        LINUX_SLL2 => "LINUX_SLL2".into(),
        C_HDLC => "C_HDLC".into(),
        NFLOG => "NFLOG".into(),
        other => format!("LINKTYPE_{other}"),
    }
}

/// True when finscope decodes this link type.
pub fn is_supported(link: u16) -> bool {
    matches!(
        link,
        NULL | ETHERNET
            | DLT_RAW_12
            | DLT_RAW_14
            | RAW
            | LOOP
            | LINUX_SLL
            | IPV4
            | IPV6
            | LINUX_SLL2
            | C_HDLC
            | NFLOG
    )
}
