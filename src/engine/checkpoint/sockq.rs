//! Bytes in flight at the dump: what a TCP connection had received but the process had not
//! read, and had written but the peer had not acknowledged (`tcp-stream-<hex inode>.img`),
//! and the packets queued on unix sockets (`sk-queues.img`). Exfiltration in progress or a
//! command not yet read is often only here.

use std::collections::BTreeMap;

use crate::engine::checkpoint::archive::Archive;
use crate::engine::checkpoint::image::{ImageReader, decode_lenient, magic};
use crate::engine::checkpoint::proto::{SkPacketEntry, TcpStreamEntry};

/// A socket's queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queues {
    /// Received, not yet read by the process.
    pub recv: Vec<u8>,
    /// Written by the process, not yet acknowledged by the peer.
    pub send: Vec<u8>,
}

/// The queued packets of unix (and packet) sockets, by the socket's file id.
pub fn read_sk_queues(ar: &Archive, warnings: &mut Vec<String>) -> BTreeMap<u32, Queues> {
    let mut out: BTreeMap<u32, Queues> = BTreeMap::new();
    let Some(data) = ar.image("sk-queues.img") else {
        return out;
    };
    let file = ar.display_name("checkpoint/sk-queues.img");
    let mut reader = match ImageReader::expect(&file, data, magic::SK_QUEUES, "sk_queues") {
        Ok(r) => r,
        Err(e) => {
            warnings.push(e.to_string());
            return out;
        }
    };
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                warnings.push(e.to_string());
                break;
            }
        };
        let (pe, err) = decode_lenient::<SkPacketEntry>(&file, entry, "sk_packet");
        warnings.extend(err.map(|e| e.to_string()));
        match reader.raw(pe.length as usize) {
            Ok(bytes) => out
                .entry(pe.id_for)
                .or_default()
                .recv
                .extend_from_slice(bytes),
            Err(e) => {
                warnings.push(e.to_string());
                break;
            }
        }
    }
    out
}

/// The queues of the TCP connection whose socket inode is `ino`, if CRIU saved them.
pub fn read_tcp_stream(ar: &Archive, ino: u32, warnings: &mut Vec<String>) -> Option<Queues> {
    let name = format!("tcp-stream-{ino:x}.img");
    let data = ar.image(&name)?;
    let file = ar.display_name(&format!("checkpoint/{name}"));
    let read = || -> Result<Queues, String> {
        let mut reader = ImageReader::expect(&file, data, magic::TCP_STREAM, "tcp_stream")
            .map_err(|e| e.to_string())?;
        let entry = reader
            .next_entry()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{file}: no tcp_stream entry"))?;
        let (tse, err) = decode_lenient::<TcpStreamEntry>(&file, entry, "tcp_stream");
        if let Some(e) = err {
            return Err(e.to_string());
        }
        let recv = reader
            .raw(tse.inq_len as usize)
            .map_err(|e| e.to_string())?;
        let send = reader
            .raw(tse.outq_len as usize)
            .map_err(|e| e.to_string())?;
        Ok(Queues {
            recv: recv.to_vec(),
            send: send.to_vec(),
        })
    };
    match read() {
        Ok(q) => Some(q),
        Err(e) => {
            warnings.push(e);
            None
        }
    }
}
