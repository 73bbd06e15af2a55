//! The Triage pane: what stands out in the evidence, ranked by severity. The triage engine
//! ([`crate::engine::triage`]) runs as a job after the workbench's first frame (`r` runs it
//! again, `Esc` cancels it and keeps what it found so far). Each result shows its severity,
//! rule, process and reason; the selected one its identifiers and, for a memory area, its
//! first bytes in hex. Enter goes to the result's object (a match in physical memory to its
//! address in the process that maps it; kernel objects and physical memory no process maps
//! have no view: the status line says so); `b` bookmarks it with the note `rule: reason`,
//! kernel objects and physical ranges included. Secrets stay masked (the engine's default).

mod draw;

pub use draw::draw;

use crate::engine::findings::{KernelObject, Target};
use crate::engine::triage::{Detection, Report, Rule, Severity};
use crate::sanitize::sanitize;
use crate::tui::action::{Action, Pane};
use crate::tui::command::{Command, Ctx};
use crate::tui::list::ListCursor;
use crate::tui::strings::msg;

/// Rows of the pane given to the selected result's details (with their top border).
const DETAIL_ROWS: usize = 6;

/// State of the Triage pane.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Generation of the current (or last) run; 0 before the first.
    pub generation: u64,
    /// A run is going on.
    pub running: bool,
    /// Its progress, 0-100.
    pub percent: u8,
    /// The last finished run's report (partial when it was cancelled).
    pub report: Option<Report>,
    /// Why the last run could not be made.
    pub error: Option<String>,
    /// Cursor over the results.
    pub cursor: ListCursor,
}

/// A triage run has started (it replaces the previous results).
pub fn started(st: &mut State, generation: u64) {
    st.generation = generation;
    st.running = true;
    st.percent = 0;
    st.report = None;
    st.error = None;
    st.cursor = ListCursor::default();
}

/// Progress of a run (stale generations are dropped).
pub fn on_progress(st: &mut State, generation: u64, percent: u8) {
    if generation == st.generation && st.running {
        st.percent = percent;
    }
}

/// A run ended: keeps its report (or its error). Stale generations are dropped; a cancelled
/// run says so in the status line, a failed one too.
pub fn finished(
    st: &mut State,
    generation: u64,
    result: Result<Box<Report>, String>,
) -> Vec<Command> {
    if generation != st.generation {
        return Vec::new();
    }
    st.running = false;
    st.percent = 100;
    st.cursor = ListCursor::default();
    match result {
        Ok(report) => {
            let stopped = report.stopped;
            st.report = Some(*report);
            if stopped {
                vec![Command::info(msg::TRIAGE_CANCELLED)]
            } else {
                Vec::new()
            }
        }
        Err(e) => {
            let out = vec![Command::error(msg::failed("triage", &e))];
            st.error = Some(e);
            out
        }
    }
}

/// The number of results of each severity, highest first, as "1 critical · 2 high"
/// (empty when there are none).
pub fn summary(report: &Report) -> String {
    Severity::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            let n = report
                .detections
                .iter()
                .filter(|d| d.severity == *s)
                .count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The status message of a finished run (none for a cancelled or failed one).
pub fn done_message(st: &State) -> Option<String> {
    let r = st.report.as_ref().filter(|r| !r.stopped)?;
    Some(msg::triage_done(r.detections.len(), &summary(r)))
}

/// The selected result.
pub fn selected(st: &State) -> Option<&Detection> {
    st.report
        .as_ref()
        .and_then(|r| r.detections.get(st.cursor.selected))
}

/// Rows of the result list for `page_rows` rows of pane (the column titles and the details
/// take the rest).
fn list_rows(page_rows: usize) -> usize {
    page_rows.saturating_sub(DETAIL_ROWS).max(1)
}

/// Handles an action for the Triage pane.
pub fn update(st: &mut State, cx: &Ctx, action: Action) -> Vec<Command> {
    match action {
        Action::Rerun => return vec![Command::StartTriage],
        Action::Cancel if st.running => return vec![Command::CancelTriage],
        _ => {}
    }
    let len = st.report.as_ref().map_or(0, |r| r.detections.len());
    let page = list_rows(cx.page_rows) as isize;
    let mut out = Vec::new();
    match action {
        Action::Up => st.cursor.move_by(-1, len),
        Action::Down => st.cursor.move_by(1, len),
        Action::PageUp => st.cursor.move_by(-page, len),
        Action::PageDown => st.cursor.move_by(page, len),
        Action::Home => st.cursor.home(),
        Action::End => st.cursor.end(len),
        Action::Enter => {
            if let Some(d) = selected(st) {
                out = jump(d, &cx.info.path);
            }
        }
        Action::Bookmark => {
            if let Some(d) = selected(st) {
                out.push(match target(d, cx) {
                    Some(target) => Command::Bookmark {
                        target,
                        // The reason quotes evidence: the note holds it escaped.
                        note: msg::triage_note(d.rule.id(), &sanitize(&d.reason)),
                    },
                    None => Command::info(msg::TRIAGE_NO_OBJECT),
                });
            }
        }
        _ => {}
    }
    st.cursor.clamp(len);
    st.cursor.scroll_to_selection(list_rows(cx.page_rows));
    out
}

/// A rootfs path as the rootfs browser names it (triage writes it from `/`).
fn rootfs_path(path: &str) -> String {
    path.trim_start_matches('/').to_string()
}

/// The kernel object a result of a kernel rule names (the module list's summary names
/// none).
fn kernel_object(d: &Detection) -> Option<Target> {
    let object = match d.rule {
        Rule::KernelModule if d.module.is_some() => KernelObject::Module,
        Rule::HiddenModule => KernelObject::HiddenModule,
        Rule::SyscallHook => KernelObject::SyscallHook,
        Rule::Ebpf => KernelObject::BpfProgram,
        _ => return None,
    };
    // A program's name when it has one; a module's otherwise (a hook's holder).
    let name = match d.rule {
        Rule::Ebpf => d.bpf_program.clone().filter(|n| !n.is_empty()),
        _ => d.module.clone(),
    };
    Some(Target::KernelObject {
        object,
        name,
        address: d.address,
    })
}

/// The range of physical memory a result names (a YARA match there): its address and the
/// match's length.
fn physical(d: &Detection) -> Option<Target> {
    Some(Target::Physical {
        address: d.phys_address?,
        length: d.yara.as_ref().map_or(0, |y| y.length as u64),
    })
}

/// The commands that show a result's object: a string in memory in the hex viewer (a match
/// in physical memory too, at its address in the process that maps it), a memory area in
/// the maps pane, a socket's or a variable's process with its details (files, sockets,
/// environment), a process in the tree, a container file in the rootfs browser. Kernel
/// objects and physical memory no process maps have no view in the workbench: the pane's
/// details show them, the status line says so and names the command that lists a module.
fn jump(d: &Detection, evidence: &std::path::Path) -> Vec<Command> {
    let show = |pid| Command::ShowProcess {
        pid,
        pane: Pane::Processes,
    };
    if let Some(t) = kernel_object(d) {
        let listed = matches!(
            t,
            Target::KernelObject {
                object: KernelObject::Module,
                ..
            }
        );
        let path = evidence.display().to_string();
        return vec![Command::info(msg::kernel_object(
            &t.describe(),
            listed.then_some(path.as_str()),
        ))];
    }
    if let Some(Target::Physical { address, .. }) = physical(d) {
        // A page a process maps: its bytes there, in the hex viewer.
        return match (d.pid, d.address) {
            (Some(pid), Some(addr)) => vec![
                Command::OpenHex {
                    pid,
                    addr,
                    highlight: None,
                },
                Command::Focus(Pane::Hex),
            ],
            _ => vec![Command::info(msg::physical(address))],
        };
    }
    match (d.pid, d.address, d.start) {
        (Some(pid), Some(addr), _) => vec![
            Command::OpenHex {
                pid,
                addr,
                highlight: None,
            },
            Command::Focus(Pane::Hex),
        ],
        (Some(pid), None, Some(start)) => vec![Command::ShowVma { pid, start }],
        (Some(pid), None, None) if d.port.is_some() || d.fd.is_some() || d.variable.is_some() => {
            vec![show(pid), Command::Details(pid)]
        }
        (Some(pid), None, None) => vec![show(pid)],
        (None, ..) => match &d.path {
            Some(p) => vec![Command::ShowFile {
                path: rootfs_path(p),
            }],
            None => vec![Command::info(msg::TRIAGE_NO_OBJECT)],
        },
    }
}

/// What a bookmark of a result points at: the string's address (its bytes not copied: a
/// secret stays masked), the memory area, the process, the container file, the kernel
/// object, or the range of physical memory a YARA rule matched.
fn target(d: &Detection, cx: &Ctx) -> Option<Target> {
    if let Some(t) = kernel_object(d).or_else(|| physical(d)) {
        return Some(t);
    }
    let comm = |pid| d.comm.clone().unwrap_or_else(|| cx.comm(pid));
    match (d.pid, d.address, d.start, d.end) {
        (Some(pid), Some(address), ..) => Some(Target::Memory {
            pid,
            comm: comm(pid),
            address,
            length: 0,
        }),
        (Some(pid), None, Some(start), Some(end)) => {
            let vma = cx
                .ev
                .maps(pid)
                .ok()
                .and_then(|w| w.items.into_iter().find(|v| v.start == start));
            Some(Target::Vma {
                pid,
                comm: comm(pid),
                start,
                end,
                perms: vma
                    .as_ref()
                    .map(|v| v.perms.to_string())
                    .unwrap_or_default(),
                path: vma.and_then(|v| v.path).or_else(|| d.path.clone()),
            })
        }
        (Some(pid), ..) => Some(Target::Process {
            pid,
            comm: comm(pid),
            cmdline: cx
                .process(pid)
                .map(|p| p.cmdline.clone())
                .unwrap_or_default(),
        }),
        (None, ..) => {
            let path = rootfs_path(d.path.as_deref()?);
            let size = cx
                .ev
                .container_fs()
                .and_then(|fs| fs.entries().ok())
                .and_then(|es| es.into_iter().find(|e| e.path == path))
                .map_or(0, |e| e.size);
            Some(Target::File {
                path,
                size,
                deleted: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::triage::YaraMatch;
    use std::path::Path;

    fn report(stopped: bool) -> Box<Report> {
        Box::new(Report {
            detections: vec![
                Detection::new(Rule::ExePath, Severity::Critical, "a"),
                Detection::new(Rule::Listener, Severity::High, "b"),
                Detection::new(Rule::Rwx, Severity::High, "c"),
            ],
            problems: Vec::new(),
            stopped,
        })
    }

    #[test]
    fn stale_runs_are_dropped_and_cancelled_ones_say_so() {
        let mut st = State::default();
        started(&mut st, 2);
        on_progress(&mut st, 1, 50);
        assert_eq!(st.percent, 0);
        on_progress(&mut st, 2, 40);
        assert_eq!(st.percent, 40);
        assert!(finished(&mut st, 1, Ok(report(false))).is_empty());
        assert!(st.running && st.report.is_none());
        let cmds = finished(&mut st, 2, Ok(report(true)));
        assert!(matches!(&cmds[..], [Command::Status(m, _)] if m == msg::TRIAGE_CANCELLED));
        assert!(done_message(&st).is_none());
        started(&mut st, 3);
        finished(&mut st, 3, Ok(report(false)));
        assert_eq!(
            done_message(&st).as_deref(),
            Some("triage done: 3 result(s): 1 critical · 2 high (7 Triage)")
        );
    }

    #[test]
    fn results_without_a_process_go_to_their_rootfs_file() {
        let mut d = Detection::new(Rule::ServiceAccount, Severity::Medium, "token");
        d.path = Some("/var/run/secrets/token".into());
        assert!(matches!(
            &jump(&d, Path::new("dump.lime"))[..],
            [Command::ShowFile { path }] if path == "var/run/secrets/token"
        ));
        d.path = None;
        assert!(matches!(
            &jump(&d, Path::new("dump.lime"))[..],
            [Command::Status(..)]
        ));
    }

    #[test]
    fn kernel_results_and_physical_matches_name_their_object() {
        let mut d = Detection::new(Rule::KernelModule, Severity::Info, "2 modules loaded");
        assert_eq!(kernel_object(&d), None);
        d.module = Some("vendor_drv".into());
        d.address = Some(0xffff_ffff_c010_0000);
        let t = kernel_object(&d).unwrap();
        assert!(matches!(
            &t,
            Target::KernelObject { object: KernelObject::Module, name: Some(n), address: Some(_) }
                if n == "vendor_drv"
        ));
        // Enter: no view of kernel memory, the CLI command that lists the module.
        let cmds = jump(&d, Path::new("dump.lime"));
        assert!(
            matches!(&cmds[..], [Command::Status(m, _)] if m.contains("podmortem modules dump.lime")),
            "{cmds:?}"
        );
        let mut hook = Detection::new(Rule::SyscallHook, Severity::Critical, "hooked");
        hook.address = Some(0xffff_ffff_c030_0100);
        assert!(matches!(
            kernel_object(&hook),
            Some(Target::KernelObject {
                object: KernelObject::SyscallHook,
                name: None,
                ..
            })
        ));
        let mut y = Detection::new(Rule::Yara, Severity::High, "YARA matched");
        y.phys_address = Some(0x1234);
        y.yara = Some(YaraMatch {
            rule: "r".into(),
            namespace: "n".into(),
            string: "$a".into(),
            data: "abc".into(),
            length: 3,
            left_out: 0,
        });
        assert_eq!(
            physical(&y),
            Some(Target::Physical {
                address: 0x1234,
                length: 3
            })
        );
        let cmds = jump(&y, Path::new("dump.lime"));
        assert!(
            matches!(&cmds[..], [Command::Status(m, _)] if m.contains("0x1234")),
            "{cmds:?}"
        );
    }
}
