//! Bytes queued on sockets at the dump: `sk-queues.img` (each queued packet of a unix or
//! packet socket, its bytes after the entry) and `tcp-stream-<hex inode>.img` (a TCP
//! connection's receive queue, then its send queue, after the entry).

/// Control data sent with a packet (`scm_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScmEntry {
    /// `SCM_*` type.
    #[prost(uint32, required, tag = "1")]
    pub r#type: u32,
    /// File ids passed (`SCM_RIGHTS`).
    #[prost(uint32, repeated, packed = "false", tag = "2")]
    pub rights: Vec<u32>,
}

/// One queued packet (`sk_packet_entry`); `length` raw bytes follow.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SkPacketEntry {
    /// The socket's file id (`files.img`).
    #[prost(uint32, required, tag = "1")]
    pub id_for: u32,
    /// Bytes of the packet.
    #[prost(uint32, required, tag = "2")]
    pub length: u32,
    /// Control data.
    #[prost(message, repeated, tag = "4")]
    pub scm: Vec<ScmEntry>,
}

/// A TCP connection's queues (`tcp_stream_entry`); `inq_len` bytes of the receive queue then
/// `outq_len` bytes of the send queue follow.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TcpStreamEntry {
    /// Bytes received, not yet read by the process.
    #[prost(uint32, required, tag = "1")]
    pub inq_len: u32,
    /// Sequence number of the receive queue's first byte.
    #[prost(uint32, required, tag = "2")]
    pub inq_seq: u32,
    /// Bytes written by the process, sent or not, not yet acknowledged.
    #[prost(uint32, required, tag = "3")]
    pub outq_len: u32,
    /// Sequence number of the send queue's first byte.
    #[prost(uint32, required, tag = "4")]
    pub outq_seq: u32,
    /// `TCPI_OPT_*` bits.
    #[prost(uint32, required, tag = "5")]
    pub opt_mask: u32,
    /// Send window scale.
    #[prost(uint32, required, tag = "6")]
    pub snd_wscale: u32,
    /// MSS clamp.
    #[prost(uint32, required, tag = "7")]
    pub mss_clamp: u32,
    /// Bytes of the send queue not yet sent.
    #[prost(uint32, optional, tag = "12")]
    pub unsq_len: Option<u32>,
}
