//! `podmortem containers`' rows: each container's identity with its processes (and the
//! tree's marks), listeners, connections and mounts.

use std::collections::HashMap;

use crate::engine::error::Result;
use crate::engine::evidence::{Evidence, OpenFile, Pid, suspicious_areas};
use crate::engine::file_details::SocketDetails;
use crate::engine::identity::identify;
use crate::engine::identity::model::{ContainerReport, Endpoint, Member};

/// Every container of `ev` with what its processes hold, and the pids of the processes in no
/// container (the host's, kernel threads included).
pub fn report(ev: &dyn Evidence) -> Result<(Vec<ContainerReport>, Vec<Pid>)> {
    let procs = ev.processes()?;
    let containers = identify(ev, &procs);
    let by_pid: HashMap<Pid, _> = procs.iter().map(|p| (p.pid, p)).collect();
    let mounts = ev.container_fs().map(|fs| fs.mounts());
    let mut out = Vec::with_capacity(containers.len());
    for c in containers {
        let mut r = ContainerReport {
            processes: Vec::new(),
            listeners: Vec::new(),
            connections: Vec::new(),
            // A checkpoint holds one container: its mounts are this one's.
            mounts: mounts.clone(),
            warnings: Vec::new(),
            container: c,
        };
        for pid in r.container.pids.clone() {
            let Some(p) = by_pid.get(&pid) else { continue };
            let live = !matches!(p.state.as_str(), "dead" | "zombie");
            let marks = if live {
                match suspicious_areas(ev, pid) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        r.warnings.push(format!("pid {pid}: maps: {e}"));
                        None
                    }
                }
            } else {
                None
            };
            r.processes.push(Member {
                pid,
                ppid: p.ppid,
                comm: p.comm.clone(),
                suspicious_vmas: marks,
            });
            if !live {
                continue;
            }
            match ev.files(pid) {
                Ok(walk) => {
                    r.warnings.extend(
                        walk.problems
                            .iter()
                            .map(|w| format!("pid {pid}: files: {w}")),
                    );
                    for f in walk.iter() {
                        endpoint(&mut r, f);
                    }
                }
                Err(e) => r.warnings.push(format!("pid {pid}: files: {e}")),
            }
        }
        out.push(r);
    }
    let inside: std::collections::HashSet<Pid> = out
        .iter()
        .flat_map(|r| r.container.pids.iter().copied())
        .collect();
    let host = procs
        .iter()
        .map(|p| p.pid)
        .filter(|p| !inside.contains(p))
        .collect();
    Ok((out, host))
}

/// Files a socket of `f` as a listener or a connection (sockets shared by several
/// descriptors or processes are listed once).
fn endpoint(r: &mut ContainerReport, f: &OpenFile) {
    let (listening, e) = match &f.details.socket {
        Some(SocketDetails::Inet(s)) => {
            let addr = |ip: std::net::IpAddr, port: u64| match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                v4 => format!("{v4}:{port}"),
            };
            let bound_udp = s.protocol == "udp" && s.dst.is_unspecified() && s.dst_port == 0;
            let listening = s.state == "LISTEN" || bound_udp;
            if !listening && (s.dst.is_unspecified() || s.dst_port == 0) {
                return; // neither listening nor connected
            }
            let remote = (!listening).then(|| addr(s.dst, s.dst_port));
            let e = Endpoint {
                pid: f.pid,
                fd: f.fd,
                protocol: s.protocol.clone(),
                state: s.state.clone(),
                local: addr(s.src, s.src_port),
                remote,
            };
            (listening, e)
        }
        Some(SocketDetails::Unix(u)) if u.state == "LISTEN" => {
            let e = Endpoint {
                pid: f.pid,
                fd: f.fd,
                protocol: "unix".into(),
                state: u.state.clone(),
                local: u.name.clone(),
                remote: None,
            };
            (true, e)
        }
        _ => return,
    };
    let list = if listening {
        &mut r.listeners
    } else {
        &mut r.connections
    };
    let same = |o: &Endpoint| {
        (&o.protocol, &o.state, &o.local, &o.remote) == (&e.protocol, &e.state, &e.local, &e.remote)
    };
    if !list.iter().any(same) {
        list.push(e);
    }
}
