//! Names of socket facts (types, protocols, TCP states) shared by every back end: these are
//! stable kernel ABI values, written the same way by checkpoints and kernel dumps.

/// A socket type name (`SOCK_STREAM` = 1 -> "stream").
pub fn sock_type(ty: u64) -> &'static str {
    match ty {
        1 => "stream",
        2 => "dgram",
        3 => "raw",
        4 => "rdm",
        5 => "seqpacket",
        6 => "dccp",
        10 => "packet",
        _ => "unknown",
    }
}

/// A protocol name from the IP protocol number (or, when 0, the socket type).
pub fn proto_name(proto: u64, ty: u64) -> String {
    match (proto, ty) {
        (6, _) | (0, 1) => "tcp".into(),
        (17, _) | (0, 2) => "udp".into(),
        (136, _) => "udplite".into(),
        (1 | 58, _) => "icmp".into(),
        (132, _) => "sctp".into(),
        (p, _) => format!("proto {p}"),
    }
}

/// A TCP state name (unix sockets use the same values).
pub fn tcp_state(s: u64) -> &'static str {
    match s {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}
