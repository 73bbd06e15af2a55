//! Memory rules: injected code (malfind's writable+executable and anonymous executable
//! areas, with their first bytes classified), fileless and deleted executables, and
//! executables run from temporary or hidden places.

use crate::engine::evidence::{Evidence, Pid, Vma, VmaKind};
use crate::engine::findings::hex_string;
use crate::engine::triage::Subject;
use crate::engine::triage::model::{Detection, HeadClass, Rule, Severity};
use crate::engine::triage::process::basename;

/// How many first bytes of an area are read, classified and shown.
pub const HEAD_BYTES: usize = 64;

/// The area rule a memory area falls under, if any: [`Rule::Rwx`] for writable and
/// executable, [`Rule::AnonExec`] for executable anonymous memory (heap, stack, private
/// anonymous). The one test behind the process tree's `!` marks, the maps' `!` and the
/// peer diff's "suspicious" areas.
pub fn area_rule(v: &Vma) -> Option<Rule> {
    if !v.perms.exec {
        return None;
    }
    if v.perms.write {
        return Some(Rule::Rwx);
    }
    matches!(v.kind, VmaKind::Anon | VmaKind::Heap | VmaKind::Stack).then_some(Rule::AnonExec)
}

/// How many areas of `maps` [`area_rule`] flags (the tree's mark count).
pub fn flagged_areas(maps: &[Vma]) -> usize {
    maps.iter().filter(|v| area_rule(v).is_some()).count()
}

/// Classifies the first bytes of an area.
pub fn classify_head(head: &[u8]) -> HeadClass {
    match head {
        [] => HeadClass::NotCaptured,
        [0x7f, b'E', b'L', b'F', ..] => HeadClass::Elf,
        h if h.iter().all(|&b| b == 0) => HeadClass::Zeros,
        // endbr64, push rbp, REX.W, nop, call/jmp, xor, cld, push imm8, int3, sub/and rsp.
        [0xf3, 0x0f, 0x1e, 0xfa, ..]
        | [0x55, ..]
        | [0x48 | 0x49 | 0x4c | 0x4d, ..]
        | [0x90, ..]
        | [0xe8 | 0xe9 | 0xeb, ..]
        | [0x31 | 0x33, ..]
        | [0xfc, ..]
        | [0x6a, ..]
        | [0xcc, ..] => HeadClass::Code,
        _ => HeadClass::Other,
    }
}

/// The captured first bytes of the area at `start` (empty when the first byte is not
/// captured), and the problem met reading them.
fn read_head(ev: &dyn Evidence, pid: Pid, v: &Vma) -> (Vec<u8>, Option<String>) {
    let len = usize::try_from(v.size()).map_or(HEAD_BYTES, |n| n.min(HEAD_BYTES));
    let mut buf = vec![0u8; len];
    match ev.read_memory(pid, v.start, &mut buf) {
        Ok(got) => {
            let n = got
                .captured
                .first()
                .filter(|r| r.start == 0)
                .map_or(0, |r| r.end);
            buf.truncate(n);
            (buf, None)
        }
        Err(e) => (
            Vec::new(),
            Some(format!("pid {pid}: first bytes at {:#x}: {e}", v.start)),
        ),
    }
}

/// `memory.rwx` and `memory.anon_exec` (as Volatility's malfind): writable+executable areas
/// (high when anonymous, medium when file-backed) and anonymous executable ones (medium),
/// with the first [`HEAD_BYTES`] classified; an ELF header in such an area is critical (a
/// binary loaded by hand). Why: injected shellcode and reflectively loaded binaries live
/// there. False positives: JIT compilers (Java, JavaScript, .NET, LuaJIT) and some
/// packers keep RWX or anonymous executable memory.
pub fn injected_code(ev: &dyn Evidence, s: &Subject<'_>, out: &mut Vec<Detection>) -> Vec<String> {
    let p = s.process;
    let mut problems = Vec::new();
    for v in s.maps {
        let Some(rule) = area_rule(v) else {
            continue;
        };
        let (head, problem) = read_head(ev, p.pid, v);
        problems.extend(problem);
        let class = classify_head(&head);
        let anonymous = v.path.is_none() || v.kind != VmaKind::File;
        let severity = match (class, rule, anonymous) {
            (HeadClass::Elf, _, _) => Severity::Critical,
            (_, Rule::Rwx, true) => Severity::High,
            _ => Severity::Medium,
        };
        let what = match rule {
            Rule::Rwx => "writable and executable",
            _ => "anonymous executable",
        };
        let class_text = match class {
            HeadClass::Elf => "an ELF header",
            HeadClass::Code => "code-like bytes",
            HeadClass::Zeros => "zeros",
            HeadClass::Other => "data",
            HeadClass::NotCaptured => "bytes not captured",
        };
        let mut d = Detection::new(
            rule,
            severity,
            format!(
                "{what} area {}{} ({} bytes) starting with {class_text}",
                v.perms,
                v.path
                    .as_deref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                v.size()
            ),
        )
        .process(p.pid, &p.comm);
        d.start = Some(v.start);
        d.end = Some(v.end);
        d.path = v.path.clone();
        d.head = Some(class);
        d.head_hex = (!head.is_empty()).then(|| hex_string(&head));
        out.push(d);
    }
    problems
}

/// True for a mapping path naming a memfd (`memfd:x`, `/memfd:x (deleted)`).
fn is_memfd(path: &str) -> bool {
    path.trim_start_matches('/').starts_with("memfd:")
}

/// True for a deleted file's path, leaving out what the kernel names so without a file
/// ever behind it (shared anonymous memory, SysV shm, memfds).
fn is_deleted_file(path: &str) -> bool {
    path.ends_with(" (deleted)")
        && !is_memfd(path)
        && !path.starts_with("/dev/zero")
        && !path.starts_with("/SYSV")
}

/// The executable and the executable file mappings of a process, each path once, the exe
/// first: (path, the mapping's range when it is one).
fn executables<'a>(s: &'a Subject<'_>) -> Vec<(&'a str, Option<&'a Vma>)> {
    let mut out: Vec<(&str, Option<&Vma>)> = Vec::new();
    if let Some(exe) = s.process.exe.as_deref() {
        out.push((exe, None));
    }
    for v in s.maps {
        let Some(path) = v.path.as_deref() else {
            continue;
        };
        if !v.perms.exec || path.starts_with('[') || out.iter().any(|(p, _)| *p == path) {
            continue;
        }
        out.push((path, Some(v)));
    }
    out
}

/// `memory.memfd_exec` (critical): the executable or an executable mapping is a memfd.
/// Why: fileless malware writes its binary into a memfd and runs it, leaving nothing on
/// disk. False positives: a few runtimes (some JITs, runc's own re-exec through a memfd
/// copy) do this on purpose.
///
/// `memory.deleted_exec` (high): the executable or an executable mapping is a deleted file.
/// Why: droppers delete themselves after starting. False positives: a program or library
/// upgraded while running (package updates).
pub fn fileless(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    for (path, vma) in executables(s) {
        let (rule, severity, what) = if is_memfd(path) {
            (Rule::MemfdExec, Severity::Critical, "a memfd (fileless)")
        } else if is_deleted_file(path) {
            (Rule::DeletedExec, Severity::High, "a deleted file")
        } else {
            continue;
        };
        let role = if vma.is_some() {
            "executable mapping"
        } else {
            "executable"
        };
        let mut d = Detection::new(rule, severity, format!("{role} {path} is {what}"))
            .process(p.pid, &p.comm);
        d.path = Some(path.to_string());
        d.start = vma.map(|v| v.start);
        d.end = vma.map(|v| v.end);
        out.push(d);
    }
}

/// Folders where nothing should be run from.
const TEMP_DIRS: [&str; 3] = ["/tmp/", "/var/tmp/", "/dev/shm/"];

/// `memory.exe_path`: the executable or an executable mapping lies in /tmp, /var/tmp or
/// /dev/shm (high), or has a hidden name (high), or both (critical). Why: droppers write
/// their payload where any user can write and hide it behind a dot (`/tmp/.kdevtmpfsi`).
/// False positives: build and test jobs running freshly compiled binaries from /tmp;
/// self-extracting installers.
pub fn exe_path(s: &Subject<'_>, out: &mut Vec<Detection>) {
    let p = s.process;
    for (path, vma) in executables(s) {
        let clean = path.strip_suffix(" (deleted)").unwrap_or(path);
        // A path in a container or a chroot may carry its root's prefix: look at any `/tmp/`.
        let temp = TEMP_DIRS
            .iter()
            .find(|d| clean.starts_with(*d) || clean.contains(&format!("/rootfs{d}")));
        let name = basename(clean);
        let hidden = name.starts_with('.') && name.len() > 1 && !is_memfd(clean);
        let severity = match (temp.is_some(), hidden) {
            (true, true) => Severity::Critical,
            (true, false) | (false, true) => Severity::High,
            (false, false) => continue,
        };
        let mut why = Vec::new();
        if let Some(d) = temp {
            why.push(format!("run from {}", d.trim_end_matches('/')));
        }
        if hidden {
            why.push("hidden name".to_string());
        }
        let role = if vma.is_some() {
            "executable mapping"
        } else {
            "executable"
        };
        let mut d = Detection::new(
            Rule::ExePath,
            severity,
            format!("{role} {clean}: {}", why.join(", ")),
        )
        .process(p.pid, &p.comm);
        d.path = Some(path.to_string());
        d.start = vma.map(|v| v.start);
        d.end = vma.map(|v| v.end);
        out.push(d);
    }
}
