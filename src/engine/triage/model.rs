//! What triage returns: [`Detection`]s, each a finding candidate naming its [`Rule`], its
//! [`Severity`], a one-line reason and the identifiers of the object it is about.

use serde::{Serialize, Serializer};

use crate::engine::evidence::{Pid, hex};

/// How much a detection matters, from `info` to `critical` (ordered: `Critical` is the
/// greatest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context for the analyst (an established connection).
    Info,
    /// Often benign, worth knowing.
    Low,
    /// Worth a look: exposure or an unusual but explainable fact.
    Medium,
    /// A strong sign of tampering or of a credential at hand.
    High,
    /// Seldom benign: code hidden in memory, a binary run from a hidden temporary file.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name (`"high"`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown severity {s:?} (info, low, medium, high, critical)"))
    }
}

/// A triage rule. The declaration order is the tie-break of the ranking after severity
/// (the object's identity comes last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// `kernel.syscall_hook`: a system-call table entry points outside the kernel's code.
    SyscallHook,
    /// `kernel.hidden_module`: a kernel module in memory but not on the module list.
    HiddenModule,
    /// `memory.exe_path`: an executable run from /tmp, /var/tmp, /dev/shm, or with a hidden
    /// (dot) name.
    ExePath,
    /// `memory.memfd_exec`: executable code mapped from a memfd (fileless execution).
    MemfdExec,
    /// `process.spoofed_name`: argv\[0\] names neither the comm nor the executable.
    SpoofedName,
    /// `process.fake_kernel_thread`: a user process named like a kernel thread (`[kworker/0:1]`).
    FakeKernelThread,
    /// `process.ptraced`: a process traced through ptrace, and its tracer.
    Ptraced,
    /// `memory.rwx`: a writable and executable memory area.
    Rwx,
    /// `memory.deleted_exec`: executable code mapped from a deleted file.
    DeletedExec,
    /// `process.preload`: `LD_PRELOAD`, `LD_AUDIT` or `LD_LIBRARY_PATH` in the environment.
    Preload,
    /// `network.listener`: a listening socket.
    Listener,
    /// `memory.anon_exec`: an anonymous executable area (not writable).
    AnonExec,
    /// `credentials.env`: an environment variable holding something shaped like a secret.
    EnvSecret,
    /// `credentials.memory`: a secret-shaped string in a process's writable memory.
    MemorySecret,
    /// `yara`: a YARA rule matched in memory (the bundled rules or the analyst's).
    Yara,
    /// `credentials.service_account`: a Kubernetes service-account token or mounted secret
    /// in the container's files.
    ServiceAccount,
    /// `network.established`: an established connection and its peer.
    Established,
    /// `kernel.ebpf`: a loaded eBPF program.
    Ebpf,
    /// `kernel.module`: the loaded kernel modules, and each tainted one.
    KernelModule,
}

impl Rule {
    /// Every rule, in ranking order.
    pub const ALL: [Rule; 19] = [
        Rule::SyscallHook,
        Rule::HiddenModule,
        Rule::ExePath,
        Rule::MemfdExec,
        Rule::SpoofedName,
        Rule::FakeKernelThread,
        Rule::Ptraced,
        Rule::Rwx,
        Rule::DeletedExec,
        Rule::Preload,
        Rule::Listener,
        Rule::AnonExec,
        Rule::EnvSecret,
        Rule::MemorySecret,
        Rule::Yara,
        Rule::ServiceAccount,
        Rule::Established,
        Rule::Ebpf,
        Rule::KernelModule,
    ];

    /// The stable id (`"memory.rwx"`), as the JSON and the README name it.
    pub fn id(self) -> &'static str {
        match self {
            Rule::SyscallHook => "kernel.syscall_hook",
            Rule::HiddenModule => "kernel.hidden_module",
            Rule::ExePath => "memory.exe_path",
            Rule::MemfdExec => "memory.memfd_exec",
            Rule::SpoofedName => "process.spoofed_name",
            Rule::FakeKernelThread => "process.fake_kernel_thread",
            Rule::Ptraced => "process.ptraced",
            Rule::Rwx => "memory.rwx",
            Rule::DeletedExec => "memory.deleted_exec",
            Rule::Preload => "process.preload",
            Rule::Listener => "network.listener",
            Rule::AnonExec => "memory.anon_exec",
            Rule::EnvSecret => "credentials.env",
            Rule::MemorySecret => "credentials.memory",
            Rule::Yara => "yara",
            Rule::ServiceAccount => "credentials.service_account",
            Rule::Established => "network.established",
            Rule::Ebpf => "kernel.ebpf",
            Rule::KernelModule => "kernel.module",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// How the first bytes of a memory area look (as malfind shows them, classified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadClass {
    /// An ELF header (`\x7fELF`): a whole binary loaded by hand.
    Elf,
    /// Opcodes a function or shellcode often starts with (x86-64).
    Code,
    /// Only zeros.
    Zeros,
    /// Anything else.
    Other,
    /// The first bytes are not in the evidence.
    NotCaptured,
}

/// One result of triage: a finding candidate.
///
/// JSON: `rule`, `severity`, `reason`, then the identifiers that apply (absent ones left
/// out): `pid`, `comm`, `start`/`end` or `address` (`"0x..."`), `path`, `port`, `fd`,
/// `peer`, `variable`, `secret` (masked unless asked), `secret_kind`, `head` (class of the
/// first bytes), `head_hex` (the first 64 bytes), `module` (a kernel module's name),
/// `bpf_program` (an eBPF program's name),
/// `phys_address` and the `yara_*` keys of a [`YaraMatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The rule that fired.
    pub rule: Rule,
    /// How much it matters.
    pub severity: Severity,
    /// Why, in one line (secrets in it masked unless asked).
    pub reason: String,
    /// The process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<Pid>,
    /// The process's comm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// First address of a memory area.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "hex::opt_u64"
    )]
    pub start: Option<u64>,
    /// One past the last address of a memory area.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "hex::opt_u64"
    )]
    pub end: Option<u64>,
    /// Address of a string in memory.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "hex::opt_u64"
    )]
    pub address: Option<u64>,
    /// A file: an executable, a mapped file, a socket's path, a rootfs file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A socket's local port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u64>,
    /// A descriptor number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<i64>,
    /// A connection's peer, `address:port` (`[v6]:port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// An environment variable's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// A secret's value: masked (first 4 characters and the length) unless asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// What the secret looks like ("GitHub token", "AWS access key", "generic").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_kind: Option<&'static str>,
    /// The class of a memory area's first bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadClass>,
    /// A memory area's first 64 bytes, lower-case hex (captured bytes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hex: Option<String>,
    /// A kernel module's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// An eBPF program's name (`kernel.ebpf`; empty when the program has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpf_program: Option<String>,
    /// A physical address (kernel dumps' physical memory).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "hex::opt_u64"
    )]
    pub phys_address: Option<u64>,
    /// What a YARA rule matched (`yara` detections), flattened into `yara_*` keys.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub yara: Option<YaraMatch>,
}

/// What a YARA rule matched. JSON (flattened into its [`Detection`]): `yara_rule`,
/// `yara_namespace`, `yara_string`, `yara_data`, `yara_length` and, when the cap left
/// matches out, `yara_left_out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YaraMatch {
    /// The rule's name.
    #[serde(rename = "yara_rule")]
    pub rule: String,
    /// Its namespace: `podmortem` for the bundled rules, the file's name for the analyst's.
    #[serde(rename = "yara_namespace")]
    pub namespace: String,
    /// The string that matched (`$url`).
    #[serde(rename = "yara_string")]
    pub string: String,
    /// The first bytes matched (at most 64), other than printable ASCII escaped (`\x00`).
    #[serde(rename = "yara_data")]
    pub data: String,
    /// The match's length in bytes.
    #[serde(rename = "yara_length")]
    pub length: usize,
    /// Further matches of this rule in the same memory area (physical run) left out.
    #[serde(rename = "yara_left_out", skip_serializing_if = "is_zero")]
    pub left_out: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Detection {
    /// A detection with only its rule, severity and reason; identifiers are set by the rule.
    pub fn new(rule: Rule, severity: Severity, reason: impl Into<String>) -> Detection {
        Detection {
            rule,
            severity,
            reason: reason.into(),
            pid: None,
            comm: None,
            start: None,
            end: None,
            address: None,
            path: None,
            port: None,
            fd: None,
            peer: None,
            variable: None,
            secret: None,
            secret_kind: None,
            head: None,
            head_hex: None,
            module: None,
            bpf_program: None,
            phys_address: None,
            yara: None,
        }
    }

    /// Sets the process.
    pub fn process(mut self, pid: Pid, comm: &str) -> Detection {
        self.pid = Some(pid);
        self.comm = Some(comm.to_string());
        self
    }

    /// The ranking key: severity (highest first), rule, then the object.
    fn rank_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.severity),
            self.rule,
            self.pid,
            self.start.or(self.address).or(self.phys_address),
            self.address,
            self.port,
            self.path.as_deref(),
            self.variable.as_deref(),
            self.module.as_deref(),
        )
    }
}

/// Sorts detections by severity (highest first), then rule, then object.
pub fn rank(detections: &mut [Detection]) {
    detections.sort_by(|a, b| a.rank_key().cmp(&b.rank_key()));
}

/// What a triage run found, with the damage met on the way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The detections, ranked (see [`rank`]).
    pub detections: Vec<Detection>,
    /// What could not be read or checked (a process's maps, a capped memory scan...).
    pub problems: Vec<String>,
    /// True when the run was cancelled before its end (the detections are partial).
    pub stopped: bool,
}
