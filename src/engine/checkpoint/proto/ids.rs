//! `ids-<pid>.img` (and `core_entry.ids`, `inventory_entry.root_ids`): the ids of the kernel
//! objects a task uses, which say which tasks share memory, files or namespaces.

/// Kernel object ids of a task (`task_kobj_ids_entry`).
///
/// Equal ids mean a shared object. `files_id` names the `fdinfo-<id>.img` of the task's
/// descriptor table; the namespace ids name `utsns-<id>.img`, `netns-<id>.img` and so on.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskKobjIdsEntry {
    /// Address space (`mm`) id.
    #[prost(uint32, required, tag = "1")]
    pub vm_id: u32,
    /// File descriptor table id (`fdinfo-<files_id>.img`).
    #[prost(uint32, required, tag = "2")]
    pub files_id: u32,
    /// `fs_struct` (cwd, root, umask) id.
    #[prost(uint32, required, tag = "3")]
    pub fs_id: u32,
    /// Signal handler table id.
    #[prost(uint32, required, tag = "4")]
    pub sighand_id: u32,
    /// PID namespace id.
    #[prost(uint32, optional, tag = "5")]
    pub pid_ns_id: Option<u32>,
    /// Network namespace id.
    #[prost(uint32, optional, tag = "6")]
    pub net_ns_id: Option<u32>,
    /// IPC namespace id.
    #[prost(uint32, optional, tag = "7")]
    pub ipc_ns_id: Option<u32>,
    /// UTS namespace id (`utsns-<id>.img`).
    #[prost(uint32, optional, tag = "8")]
    pub uts_ns_id: Option<u32>,
    /// Mount namespace id (`mountpoints-<id>.img`).
    #[prost(uint32, optional, tag = "9")]
    pub mnt_ns_id: Option<u32>,
    /// User namespace id.
    #[prost(uint32, optional, tag = "10")]
    pub user_ns_id: Option<u32>,
    /// Cgroup namespace id.
    #[prost(uint32, optional, tag = "11")]
    pub cgroup_ns_id: Option<u32>,
    /// Time namespace id (`timens-<id>.img`).
    #[prost(uint32, optional, tag = "12")]
    pub time_ns_id: Option<u32>,
}
