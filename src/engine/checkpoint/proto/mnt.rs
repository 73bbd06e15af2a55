//! `mountpoints-<ns>.img`: the mounts of a mount namespace, one entry per mount.

/// CRIU's filesystem type numbers (`fstype` enum) that podmortem names.
pub mod fstype {
    /// A filesystem CRIU has no special code for (overlay roots of old CRIU, ext4 binds).
    pub const UNSUPPORTED: u32 = 0;
    /// procfs.
    pub const PROC: u32 = 1;
    /// sysfs.
    pub const SYSFS: u32 = 2;
    /// devtmpfs.
    pub const DEVTMPFS: u32 = 3;
    /// binfmt_misc.
    pub const BINFMT_MISC: u32 = 4;
    /// tmpfs: CRIU saves its files in `tmpfs-dev-<kdev>.tar.gz.img`.
    pub const TMPFS: u32 = 5;
    /// devpts.
    pub const DEVPTS: u32 = 6;
    /// cgroup v1.
    pub const CGROUP: u32 = 12;
    /// mqueue.
    pub const MQUEUE: u32 = 14;
    /// overlayfs.
    pub const OVERLAYFS: u32 = 17;
    /// cgroup v2.
    pub const CGROUP2: u32 = 23;

    /// The name of a filesystem type number, as /proc/mounts spells it.
    pub fn name(t: u32) -> &'static str {
        match t {
            PROC => "proc",
            SYSFS => "sysfs",
            DEVTMPFS => "devtmpfs",
            BINFMT_MISC => "binfmt_misc",
            TMPFS => "tmpfs",
            DEVPTS => "devpts",
            7 => "simfs",
            8 => "pstore",
            9 => "securityfs",
            10 => "fusectl",
            11 => "debugfs",
            CGROUP => "cgroup",
            13 => "aufs",
            MQUEUE => "mqueue",
            15 => "fuse",
            16 => "auto",
            OVERLAYFS => "overlay",
            18 => "autofs",
            19 => "tracefs",
            CGROUP2 => "cgroup2",
            _ => "other",
        }
    }
}

/// One mount (`mnt_entry`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MntEntry {
    /// Filesystem type (see [`fstype`]).
    #[prost(uint32, required, tag = "1")]
    pub fstype: u32,
    /// Mount id.
    #[prost(uint32, required, tag = "2")]
    pub mnt_id: u32,
    /// The superblock's device, CRIU's encoding: major << 20 | minor.
    #[prost(uint32, required, tag = "3")]
    pub root_dev: u32,
    /// The parent mount's id.
    #[prost(uint32, required, tag = "4")]
    pub parent_mnt_id: u32,
    /// Mount flags (`MS_*`).
    #[prost(uint32, required, tag = "5")]
    pub flags: u32,
    /// The directory of the filesystem mounted here (`/` unless a bind mount).
    #[prost(string, required, tag = "6")]
    pub root: String,
    /// Where it is mounted, in the container.
    #[prost(string, required, tag = "7")]
    pub mountpoint: String,
    /// The mount's source.
    #[prost(string, required, tag = "8")]
    pub source: String,
    /// Filesystem options.
    #[prost(string, required, tag = "9")]
    pub options: String,
    /// Peer group of a shared mount.
    #[prost(uint32, optional, tag = "10")]
    pub shared_id: Option<u32>,
    /// Master of a slave mount.
    #[prost(uint32, optional, tag = "11")]
    pub master_id: Option<u32>,
    /// Restored by a plugin.
    #[prost(bool, optional, tag = "12")]
    pub with_plugin: Option<bool>,
    /// An external mount (older CRIU).
    #[prost(bool, optional, tag = "13")]
    pub ext_mount: Option<bool>,
    /// Filesystem name for types CRIU does not know.
    #[prost(string, optional, tag = "14")]
    pub fsname: Option<String>,
    /// Internal sharing.
    #[prost(bool, optional, tag = "15")]
    pub internal_sharing: Option<bool>,
    /// The mount point was deleted.
    #[prost(bool, optional, tag = "16")]
    pub deleted: Option<bool>,
    /// Superblock flags.
    #[prost(uint32, optional, tag = "17")]
    pub sb_flags: Option<u32>,
    /// Key of an external mount (its contents are not in the images: the engine provides
    /// them at restore, e.g. podman's /dev/shm, /etc/hosts).
    #[prost(string, optional, tag = "18")]
    pub ext_key: Option<String>,
}

impl MntEntry {
    /// The device as "major:minor".
    pub fn dev(&self) -> String {
        format!("{}:{}", self.root_dev >> 20, self.root_dev & 0xf_ffff)
    }
}
