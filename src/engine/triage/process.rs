//! Process rules: name spoofing, user processes posing as kernel threads, dynamic-loader
//! hijacking through the environment.
//!
//! Traced processes (`process.ptraced`) are read from a dump's kernel, not from the
//! [`Process`] model: see [`kernel::ptraced`](crate::engine::triage::kernel::ptraced).

use crate::engine::evidence::Process;
use crate::engine::triage::Subject;
use crate::engine::triage::model::{Detection, Rule, Severity};

/// The last component of a path (the whole text when it has no `/`).
pub fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The program `argv[0]` names: its basename, without the `: status` tail that programs
/// rewriting their title add (`sshd: root@pts/0`, `nginx: worker process`).
fn argv0_program(a0: &str) -> &str {
    let head = a0.split([':', ' ']).next().unwrap_or(a0);
    let name = basename(head);
    // A login shell's argv[0] is "-bash".
    name.strip_prefix('-').unwrap_or(name)
}

/// Multi-call binaries under their own name: they pick what they are from argv\[0\] and
/// their shells run applets in forks without exec, so comm and argv disagree by design.
const MULTI_CALL: [&str; 2] = ["busybox", "toybox"];

/// `argv[0]`'s program is neither the comm nor the executable's name, nor is the comm the
/// script an interpreter runs (`python3 counter.py`, comm `counter.py`), as Volatility's
/// `process_spoofing` compares them. The kernel cuts a comm at 15 bytes.
///
/// A busybox-style multi-call binary is not spoofing when argv\[0\] names the applet and the
/// comm follows it (`sleep` run through `/bin/busybox`: comm `sleep`); it is when the comm
/// and exe name another file than argv\[0\] (a busybox copy `/tmp/.kdevtmpfsi` started as
/// `sleep`). A binary named `busybox` or `toybox` is never taken as spoofing (its ash runs
/// `dd` in a fork with the shell's argv): a renamed copy is. The peer diff uses the same
/// test.
pub fn masquerades(p: &Process) -> bool {
    let Some(a0) = p
        .cmdline
        .first()
        .map(|a| argv0_program(a))
        .filter(|a| !a.is_empty())
    else {
        return false;
    };
    let same = |arg: &str, name: &str| {
        !name.is_empty() && (arg == name || (name.len() >= 15 && arg.starts_with(name)))
    };
    let script = p.cmdline.get(1).map(|a| basename(a)).unwrap_or_default();
    let exe = p.exe.as_deref().map(basename).unwrap_or_default();
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    if MULTI_CALL.contains(&exe) {
        // Its shells fork and run applets in place: comm `dd`, argv still `/bin/sh ...`.
        return false;
    }
    // Started through a link with a shorter name (`python3` runs `python3.11`) or the
    // aliases of a well-known link (`/sbin/init` is systemd).
    let alias = (a0.len() >= 2 && exe.starts_with(a0))
        || ALIASES.iter().any(|(a, e)| *a == a0 && *e == exe);
    !same(a0, &p.comm) && !same(script, &p.comm) && !same(a0, exe) && !alias
}

/// argv\[0\] names that are links to another executable on common systems.
const ALIASES: [(&str, &str); 3] = [("init", "systemd"), ("vi", "vim"), ("sh", "dash")];

/// `process.spoofed_name`: argv\[0\] names another program than the comm and the executable
/// (see [`masquerades`]). Why: malware renames itself after a harmless tool (`sleep`,
/// `kworker`) in its command line, which is what `ps` shows. False positives: programs that
/// set argv\[0\] on purpose (login shells' `-bash` and `sshd: ...` titles are handled; some
/// daemons rewrite it to free text), interpreters running a script under another name.
pub fn spoofed_name(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    if p.kernel_thread || !masquerades(p) {
        return;
    }
    let a0 = p.cmdline.first().map(String::as_str).unwrap_or_default();
    let exe = p.exe.as_deref().unwrap_or("?");
    let mut d = Detection::new(
        Rule::SpoofedName,
        Severity::High,
        format!(
            "argv[0] {a0:?} names neither comm {:?} nor executable {exe}",
            p.comm
        ),
    )
    .process(p.pid, &p.comm);
    d.path = p.exe.clone();
    out.push(d);
}

/// True for a kernel thread's look: `[name]`.
fn bracketed(s: &str) -> bool {
    s.len() > 2 && s.starts_with('[') && s.ends_with(']')
}

/// `process.fake_kernel_thread`: a user process (it has memory, an executable or arguments)
/// whose comm or argv\[0\] is bracketed like a kernel thread's in `ps` (`[kworker/0:1]`).
/// Why: miners and rootkits hide in the long list of kernel threads. False positives: none
/// known; kernel threads themselves are skipped.
pub fn fake_kernel_thread(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    if p.kernel_thread {
        return;
    }
    let a0 = p.cmdline.first().map(String::as_str).unwrap_or_default();
    let name = if bracketed(&p.comm) {
        p.comm.as_str()
    } else if bracketed(a0.trim()) {
        a0.trim()
    } else {
        return;
    };
    let mut d = Detection::new(
        Rule::FakeKernelThread,
        Severity::High,
        format!(
            "user process named {name:?} like a kernel thread (executable {})",
            p.exe.as_deref().unwrap_or("?")
        ),
    )
    .process(p.pid, &p.comm);
    d.path = p.exe.clone();
    out.push(d);
}

/// Loader variables and the severity of each.
const LOADER_VARS: [(&str, Severity); 3] = [
    ("LD_PRELOAD", Severity::High),
    ("LD_AUDIT", Severity::High),
    ("LD_LIBRARY_PATH", Severity::Low),
];

/// `process.preload`: `LD_PRELOAD` or `LD_AUDIT` (high) or `LD_LIBRARY_PATH` (low) set in
/// the environment. Why: the dynamic loader then runs the named code inside every
/// program the process starts (userland rootkits, credential sniffers). False positives:
/// profilers, sanitizers and memory allocators preloaded on purpose; `LD_LIBRARY_PATH` in
/// many vendor start scripts.
pub fn preload(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    for var in s.env {
        let Some((name, value)) = var.split_once('=') else {
            continue;
        };
        let Some((_, severity)) = LOADER_VARS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        let mut d = Detection::new(
            Rule::Preload,
            *severity,
            format!("{name}={value} in the environment"),
        )
        .process(p.pid, &p.comm);
        d.variable = Some(name.to_string());
        d.path = Some(value.to_string());
        out.push(d);
    }
}
