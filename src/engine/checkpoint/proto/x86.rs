//! x86-64 thread state from `core-<tid>.img` (`thread_info_x86`, `user_x86_regs_entry`):
//! the general-purpose registers. FPU/xsave state and TLS descriptors are not read.

/// Architecture-specific part of an x86 thread (`thread_info_x86`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ThreadInfoX86 {
    /// `set_tid_address` value (cleared and futex-woken at thread exit).
    #[prost(uint64, required, tag = "1")]
    pub clear_tid_addr: u64,
    /// General-purpose registers.
    #[prost(message, optional, tag = "2")]
    pub gpregs: Option<UserX86RegsEntry>,
}

/// Register set flavour of [`UserX86RegsEntry::mode`] (`user_x86_regs_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum UserX86RegsMode {
    /// 64-bit registers (also what an absent `mode` means).
    Native = 1,
    /// 32-bit (compat) task; the values are zero-extended 32-bit registers.
    Compat = 2,
}

/// General-purpose registers of a thread (`user_x86_regs_entry`), as `struct user_regs_struct`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserX86RegsEntry {
    /// `r15`.
    #[prost(uint64, required, tag = "1")]
    pub r15: u64,
    /// `r14`.
    #[prost(uint64, required, tag = "2")]
    pub r14: u64,
    /// `r13`.
    #[prost(uint64, required, tag = "3")]
    pub r13: u64,
    /// `r12`.
    #[prost(uint64, required, tag = "4")]
    pub r12: u64,
    /// `rbp`.
    #[prost(uint64, required, tag = "5")]
    pub bp: u64,
    /// `rbx`.
    #[prost(uint64, required, tag = "6")]
    pub bx: u64,
    /// `r11`.
    #[prost(uint64, required, tag = "7")]
    pub r11: u64,
    /// `r10`.
    #[prost(uint64, required, tag = "8")]
    pub r10: u64,
    /// `r9`.
    #[prost(uint64, required, tag = "9")]
    pub r9: u64,
    /// `r8`.
    #[prost(uint64, required, tag = "10")]
    pub r8: u64,
    /// `rax`.
    #[prost(uint64, required, tag = "11")]
    pub ax: u64,
    /// `rcx`.
    #[prost(uint64, required, tag = "12")]
    pub cx: u64,
    /// `rdx`.
    #[prost(uint64, required, tag = "13")]
    pub dx: u64,
    /// `rsi`.
    #[prost(uint64, required, tag = "14")]
    pub si: u64,
    /// `rdi`.
    #[prost(uint64, required, tag = "15")]
    pub di: u64,
    /// Syscall number the thread was in (`orig_rax`).
    #[prost(uint64, required, tag = "16")]
    pub orig_ax: u64,
    /// Instruction pointer (`rip`).
    #[prost(uint64, required, tag = "17")]
    pub ip: u64,
    /// Code segment selector.
    #[prost(uint64, required, tag = "18")]
    pub cs: u64,
    /// `rflags`.
    #[prost(uint64, required, tag = "19")]
    pub flags: u64,
    /// Stack pointer (`rsp`).
    #[prost(uint64, required, tag = "20")]
    pub sp: u64,
    /// Stack segment selector.
    #[prost(uint64, required, tag = "21")]
    pub ss: u64,
    /// `fs` base (thread pointer on x86-64).
    #[prost(uint64, required, tag = "22")]
    pub fs_base: u64,
    /// `gs` base.
    #[prost(uint64, required, tag = "23")]
    pub gs_base: u64,
    /// `ds` selector.
    #[prost(uint64, required, tag = "24")]
    pub ds: u64,
    /// `es` selector.
    #[prost(uint64, required, tag = "25")]
    pub es: u64,
    /// `fs` selector.
    #[prost(uint64, required, tag = "26")]
    pub fs: u64,
    /// `gs` selector.
    #[prost(uint64, required, tag = "27")]
    pub gs: u64,
    /// A [`UserX86RegsMode`] value; absent means [`UserX86RegsMode::Native`].
    #[prost(enumeration = "UserX86RegsMode", optional, tag = "28")]
    pub mode: Option<i32>,
}
