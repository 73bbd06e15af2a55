//! Network rules: listening sockets (every one inside a container) and established
//! connections with their peers.

use std::net::IpAddr;

use crate::engine::file_details::{InetSocket, SocketDetails};
use crate::engine::triage::Subject;
use crate::engine::triage::model::{Detection, Rule, Severity};

/// Ports that backdoors, reverse shells and exploit kits use by default (Metasploit's 4444,
/// "elite" 1337/31337, IRC bots' 6667, Tor-ish 9001...).
pub const BACKDOOR_PORTS: [u64; 12] = [
    1337, 2222, 4444, 4445, 5555, 6666, 6667, 7777, 9001, 12345, 31337, 54321,
];

/// The inet sockets of a process with their descriptors.
fn inet_sockets<'a>(s: &'a Subject<'_>) -> impl Iterator<Item = (Option<i64>, &'a InetSocket)> {
    s.files.iter().filter_map(|f| match &f.details.socket {
        Some(SocketDetails::Inet(i)) => Some((f.fd, i)),
        _ => None,
    })
}

/// True for a socket waiting for peers: TCP in LISTEN, or UDP bound to a port with no peer.
fn listening(i: &InetSocket) -> bool {
    match i.protocol.as_str() {
        "tcp" => i.state == "LISTEN",
        "udp" | "udplite" => i.src_port != 0 && i.dst_port == 0,
        _ => false,
    }
}

/// `address:port`, IPv6 in brackets.
fn endpoint(ip: &IpAddr, port: u64) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// `network.listener`: a listening TCP socket or bound UDP socket. High on a port backdoors
/// use by default ([`BACKDOOR_PORTS`]), medium inside a container (a container should
/// listen only where its image says), low on the host. Why: bind shells and implants wait
/// for their operator on a port. False positives: every legitimate server; a service that
/// happens to use one of the listed ports.
pub fn listeners(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    let mut seen = Vec::new();
    for (fd, i) in inet_sockets(s) {
        if !listening(i) || seen.contains(&(i.src_port, &i.protocol)) {
            continue;
        }
        seen.push((i.src_port, &i.protocol));
        let backdoor = BACKDOOR_PORTS.contains(&i.src_port);
        let severity = if backdoor {
            Severity::High
        } else if s.in_container {
            Severity::Medium
        } else {
            Severity::Low
        };
        let place = if s.in_container {
            " in a container"
        } else {
            ""
        };
        let note = if backdoor {
            " (a port backdoors use by default)"
        } else {
            ""
        };
        let mut d = Detection::new(
            Rule::Listener,
            severity,
            format!(
                "{} listener on {}{place}{note}",
                i.protocol,
                endpoint(&i.src, i.src_port)
            ),
        )
        .process(p.pid, &p.comm);
        d.port = Some(i.src_port);
        d.fd = fd;
        out.push(d);
    }
}

/// `network.established`: an established TCP connection, with its peer; low when the peer
/// is off the machine, info on loopback. Why: a reverse shell or an exfiltration channel
/// is a connection to the operator. False positives: every client and server connection.
pub fn established(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    for (fd, i) in inet_sockets(s) {
        if i.protocol != "tcp" || i.state != "ESTABLISHED" {
            continue;
        }
        let peer = endpoint(&i.dst, i.dst_port);
        let severity = if i.dst.is_loopback() {
            Severity::Info
        } else {
            Severity::Low
        };
        let mut d = Detection::new(
            Rule::Established,
            severity,
            format!("connection from {} to {peer}", endpoint(&i.src, i.src_port)),
        )
        .process(p.pid, &p.comm);
        d.port = Some(i.src_port);
        d.fd = fd;
        d.peer = Some(peer);
        out.push(d);
    }
}
