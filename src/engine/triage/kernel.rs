//! Kernel rules (memory dumps): the running kernel's own integrity, read through the
//! [`KernelObjects`] capability: system-call hooks, modules hidden from the module list,
//! loaded modules and their taints, eBPF programs; and traced processes. Evidence without a
//! kernel (checkpoints) offers no such capability and these rules see nothing there.
//!
//! Each rule is documented where it is written: what it looks for, why it matters, its
//! known false positives.

use crate::engine::capability::KernelObjects;
use crate::engine::evidence::Evidence;
use crate::engine::kernel::bpf::BpfProgram;
use crate::engine::kernel::modules::Module;
use crate::engine::triage::model::{Detection, Rule, Severity};

/// Taint letters that mark a module as not from the kernel's own tree or build: `O`
/// out-of-tree, `E` unsigned, `P` proprietary, `F` force-loaded, `C` staging.
const SUSPECT_TAINTS: &str = "OEPFC";

/// Runs every kernel rule on `ev` when it holds a kernel; returns what could not be read.
pub fn kernel_rules(ev: &dyn Evidence, out: &mut Vec<Detection>) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(k) = ev.kernel() else {
        return problems;
    };
    let listed = match k.modules() {
        Ok(w) => {
            problems.extend(w.problems.iter().map(|p| format!("kernel modules: {p}")));
            w.items
        }
        Err(e) => {
            problems.push(format!("kernel modules: {e}"));
            Vec::new()
        }
    };
    modules(&listed, out);
    let hidden = match k.hidden_modules() {
        Ok(scan) => {
            problems.extend(scan.problems.iter().map(|p| format!("hidden modules: {p}")));
            hidden_modules(&scan.modules, out);
            scan.modules
        }
        Err(e) => {
            problems.push(format!("hidden modules: {e}"));
            Vec::new()
        }
    };
    syscall_hooks(k, &hidden, out, &mut problems);
    match k.bpf_programs() {
        Ok(w) => {
            problems.extend(w.problems.iter().map(|p| format!("eBPF programs: {p}")));
            ebpf(&w.items, out);
        }
        Err(e) => problems.push(format!("eBPF programs: {e}")),
    }
    ptraced(k, out, &mut problems);
    problems
}

/// `kernel.module`: one info result summing up the loaded modules (how many, their names),
/// and a medium one per module tainted as out-of-tree (`O`), unsigned (`E`), proprietary
/// (`P`), force-loaded (`F`) or from staging (`C`), naming the module and its
/// `struct module`. Why: the module list is the first thing to read of a host's kernel,
/// and a rootkit module is built out of tree and seldom signed by the distribution's key.
/// False positives: third-party drivers (NVIDIA, VirtualBox, ZFS, vendor agents, DKMS
/// builds) are out-of-tree and often unsigned.
pub fn modules(listed: &[Module], out: &mut Vec<Detection>) {
    if listed.is_empty() {
        return;
    }
    let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    out.push(Detection::new(
        Rule::KernelModule,
        Severity::Info,
        format!(
            "{} kernel modules loaded: {}",
            listed.len(),
            names.join(", ")
        ),
    ));
    for m in listed {
        let flagged: String = m
            .taints
            .chars()
            .filter(|c| SUSPECT_TAINTS.contains(*c))
            .collect();
        if flagged.is_empty() {
            continue;
        }
        let mut d = Detection::new(
            Rule::KernelModule,
            Severity::Medium,
            format!(
                "kernel module {} is tainted {} ({}), code at {:#x}",
                m.name,
                m.taints,
                taint_words(&flagged),
                m.base
            ),
        );
        d.module = Some(m.name.clone());
        d.address = Some(m.address);
        out.push(d);
    }
}

/// The meaning of taint letters, in words.
fn taint_words(letters: &str) -> String {
    letters
        .chars()
        .map(|c| match c {
            'O' => "out-of-tree",
            'E' => "unsigned",
            'P' => "proprietary",
            'F' => "force-loaded",
            'C' => "staging",
            _ => "other",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kernel.hidden_module`: a `struct module` found in the modules' memory, consistent
/// (its kobject points back at it, a known state, a printable name, code of a plausible
/// size) but not on the kernel's module list (as Volatility's `linux.hidden_modules`),
/// high. Why: rootkits (Diamorphine, Reptile, ...) unlink themselves from the list so that
/// lsmod and `/proc/modules` do not show them, while their code keeps running. False
/// positives: a module caught in the middle of loading or unloading at the moment of the
/// dump (its state says `coming` or `going`).
pub fn hidden_modules(hidden: &[Module], out: &mut Vec<Detection>) {
    for m in hidden {
        let mut d = Detection::new(
            Rule::HiddenModule,
            Severity::High,
            format!(
                "kernel module {} (state {}, code at {:#x}, {} bytes) is in memory but not on \
                 the module list",
                m.name, m.state, m.base, m.size
            ),
        );
        d.module = Some(m.name.clone());
        d.address = Some(m.address);
        out.push(d);
    }
}

/// `kernel.syscall_hook`: an entry of a system-call table (`sys_call_table`, and the
/// 32-bit and x32 ones) that points outside the kernel's code (`_stext.._etext`), naming
/// the module whose memory holds it (hidden ones included), critical (as Volatility's
/// `linux.check_syscall`). Why: replacing a system call's handler is the classic way a
/// kernel rootkit hides files, processes and connections or grants root. False positives:
/// none known on current kernels (livepatch redirects functions with ftrace, not the
/// table).
pub fn syscall_hooks(
    k: &dyn KernelObjects,
    hidden: &[Module],
    out: &mut Vec<Detection>,
    problems: &mut Vec<String>,
) {
    let check = match k.syscall_tables() {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("system-call tables: {e}"));
            return;
        }
    };
    problems.extend(
        check
            .problems
            .iter()
            .map(|p| format!("system-call tables: {p}")),
    );
    for table in &check.tables {
        for h in &table.hooks {
            let owner = h.module.clone().or_else(|| {
                hidden
                    .iter()
                    .find(|m| m.core_contains(h.handler))
                    .map(|m| m.name.clone())
            });
            let place = match &owner {
                Some(m) => format!("in kernel module {m}"),
                None => "in memory no module holds".into(),
            };
            let mut d = Detection::new(
                Rule::SyscallHook,
                Severity::Critical,
                format!(
                    "{}[{}] ({} system call {}) points to {:#x} {place}, outside the kernel's \
                     code ({} of {} entries of the table hooked)",
                    h.table,
                    h.index,
                    table.abi,
                    h.index,
                    h.handler,
                    table.hooks.len(),
                    table.entries
                ),
            );
            d.address = Some(h.handler);
            d.module = owner;
            out.push(d);
        }
    }
}

/// The severity of a loaded eBPF program by its type (`BPF_PROG_TYPE_` dropped, lower
/// case): medium for programs that hook into the kernel's functions or decisions and can
/// read or change what they see (kprobes, tracepoints, fentry/fexit/fmod_ret tracing, LSM,
/// struct_ops, extensions, perf events; `bpf_probe_write_user` and `bpf_override_return`
/// come from these); low for programs on the network path, which can hide, redirect or
/// answer traffic (XDP, traffic control, socket and lightweight-tunnel programs); info
/// for the rest (cgroup device and socket filters that systemd and container runtimes
/// load, ...).
pub fn ebpf_severity(short_type: &str) -> Severity {
    const TAMPER: [&str; 9] = [
        "kprobe",
        "tracepoint",
        "raw_tracepoint",
        "raw_tracepoint_writable",
        "tracing",
        "lsm",
        "struct_ops",
        "ext",
        "perf_event",
    ];
    const NETWORK: [&str; 9] = [
        "xdp",
        "sched_cls",
        "sched_act",
        "socket_filter",
        "sk_skb",
        "sk_msg",
        "sk_lookup",
        "flow_dissector",
        "sk_reuseport",
    ];
    if TAMPER.contains(&short_type) {
        Severity::Medium
    } else if NETWORK.contains(&short_type) || short_type.starts_with("lwt_") {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// `kernel.ebpf`: every loaded eBPF program (as Volatility's `linux.ebpf`), with its id,
/// type, name, tag and attach point; severity by type (see [`ebpf_severity`]). Why: eBPF
/// rootkits (ebpfkit, TripleCross, BPFDoor's successors) hide processes and files, steal
/// credentials and open backdoors without a module. False positives: observability and
/// security agents (Falco, Cilium, Tetragon, bpftrace, systemd's own programs) load the
/// same types.
pub fn ebpf(progs: &[BpfProgram], out: &mut Vec<Detection>) {
    for p in progs {
        let ty = p.short_type();
        let name = if p.name.is_empty() {
            "(no name)"
        } else {
            p.name.as_str()
        };
        let attach = p
            .attach_to
            .as_deref()
            .map(|a| format!(", attached to {a}"))
            .unwrap_or_default();
        let mut d = Detection::new(
            Rule::Ebpf,
            ebpf_severity(&ty),
            format!(
                "eBPF program {} {name} of type {ty} (tag {}){attach}",
                p.id, p.tag
            ),
        );
        d.address = Some(p.address);
        d.bpf_program = Some(p.name.clone());
        out.push(d);
    }
}

/// `process.ptraced`: a process with a tracer (`task_struct.ptrace` set), naming the
/// tracer (`task->parent`): high when the tracer attached to a running process that is
/// not its child (`PTRACE_ATTACH`/`PTRACE_SEIZE` from elsewhere), medium when the tracer
/// is the process's own parent (a debugger or strace that started it). Why: ptrace is how
/// code is injected into another process and how its memory (credentials) is read. False
/// positives: debuggers, strace, crash reporters and sandboxes (gVisor's ptrace platform)
/// at work. Checkpoints: CRIU itself stops tasks with ptrace (`PTRACE_SEIZE`) to dump them
/// and refuses a task that another tracer holds, so a checkpoint never holds a traced
/// process and the rule sees nothing there.
pub fn ptraced(k: &dyn KernelObjects, out: &mut Vec<Detection>, problems: &mut Vec<String>) {
    let walk = match k.traced() {
        Ok(w) => w,
        Err(e) => {
            problems.push(format!("traced processes: {e}"));
            return;
        }
    };
    problems.extend(
        walk.problems
            .iter()
            .map(|p| format!("traced processes: {p}")),
    );
    for t in &walk.items {
        let tracer = match (t.tracer, &t.tracer_comm) {
            (Some(pid), Some(comm)) => format!("pid {pid} ({comm})"),
            (Some(pid), None) => format!("pid {pid}"),
            _ => "an unreadable tracer".into(),
        };
        let (severity, how) = if t.attached() {
            let parent = t
                .real_parent
                .map_or_else(|| "?".to_string(), |p| p.to_string());
            (
                Severity::High,
                format!("attached to it (its parent is pid {parent})"),
            )
        } else {
            (Severity::Medium, "its own parent".to_string())
        };
        let threads = if t.tids == [t.pid] {
            String::new()
        } else {
            let shown: Vec<String> = t.tids.iter().take(8).map(ToString::to_string).collect();
            let more = if t.tids.len() > 8 { ", ..." } else { "" };
            format!(
                "; threads traced: {}{more} ({} of {})",
                shown.join(", "),
                t.tids.len(),
                t.thread_count
            )
        };
        out.push(
            Detection::new(
                Rule::Ptraced,
                severity,
                format!(
                    "traced by {tracer}, {how}; ptrace flags {:#x}{threads}",
                    t.ptrace
                ),
            )
            .process(t.pid, &t.comm),
        );
    }
}
