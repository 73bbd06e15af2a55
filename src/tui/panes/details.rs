//! The details popup of a process: identity, command line, threads, open files and sockets,
//! cwd and root, environment.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::engine::evidence::{Pid, SocketDetails};
use crate::sanitize::{sanitize, sanitize_bytes};
use crate::tui::command::Ctx;
use crate::tui::theme;

/// The lines of the details of a process (read once when the popup opens, not per frame).
pub fn lines(cx: &Ctx, pid: Pid) -> Vec<Line<'static>> {
    let Some(p) = cx.process(pid) else {
        return vec![Line::raw(format!("no process {pid}"))];
    };
    let mut out = vec![
        Line::styled(
            format!(
                "pid {}  ppid {}  pgid {}  sid {}  state {}{}",
                p.pid,
                p.ppid,
                p.pgid,
                p.sid,
                p.state,
                p.exit_code
                    .map_or(String::new(), |c| format!(" (exit code {c})"))
            ),
            theme::TITLE,
        ),
        Line::raw(format!(
            "uid {}  gid {}  euid {}",
            p.uid.map_or("-".into(), |u| u.to_string()),
            p.gid.map_or("-".into(), |u| u.to_string()),
            p.euid.map_or("-".into(), |u| u.to_string())
        )),
        Line::raw(format!("name    {}", sanitize(&p.comm))),
        Line::raw(format!(
            "exe     {}",
            sanitize(p.exe.as_deref().unwrap_or("-"))
        )),
        Line::raw(format!("cmdline {}", sanitize(&p.cmdline.join(" ")))),
    ];
    if let Some(created) = &p.created {
        out.push(Line::raw(format!(
            "created {created}{}",
            p.start_time
                .map(|s| format!("  ({s:.3} s after boot)"))
                .unwrap_or_default()
        )));
    }
    out.extend([
        Line::raw(""),
        Line::styled(format!("Threads ({})", p.threads.len()), theme::TITLE),
    ]);
    for t in &p.threads {
        out.push(Line::raw(format!("  {:>7} {}", t.tid, sanitize(&t.comm))));
    }
    out.push(Line::raw(""));
    match cx.ev.files(pid) {
        Ok(files) => {
            let (sockets, others): (Vec<_>, Vec<_>) =
                files.iter().partition(|f| f.kind == "socket");
            out.push(Line::styled(
                format!("Open files ({})", others.len()),
                theme::TITLE,
            ));
            // Damage met while listing: the list may be incomplete.
            for problem in &files.problems {
                out.push(Line::styled(
                    format!("  may be incomplete: {}", sanitize(problem)),
                    theme::ERROR,
                ));
            }
            for f in others {
                let fd = f.fd.map_or_else(|| f.kind.clone(), |fd| fd.to_string());
                out.push(Line::raw(format!(
                    "  {fd:>5} {:<10} {}",
                    f.kind,
                    sanitize(&f.path)
                )));
                // What a memfd held (kept in the evidence apart from any filesystem).
                if let Some(c) = f.details.contents.as_ref().filter(|c| !c.is_empty()) {
                    out.push(Line::styled(
                        format!(
                            "        contents: {} bytes: {}",
                            f.details.size.unwrap_or(c.len() as u64),
                            sanitize_bytes(c.get(..64).unwrap_or(c))
                        ),
                        theme::ALERT,
                    ));
                }
            }
            out.push(Line::raw(""));
            out.push(Line::styled(
                format!("Sockets ({})", sockets.len()),
                theme::TITLE,
            ));
            for s in sockets {
                let desc = match &s.details.socket {
                    Some(SocketDetails::Unix(u)) => {
                        format!("unix {} {} {}", u.kind, u.state, u.name)
                    }
                    Some(SocketDetails::Inet(i)) => format!(
                        "{} {}:{} -> {}:{} {}",
                        i.protocol, i.src, i.src_port, i.dst, i.dst_port, i.state
                    ),
                    Some(SocketDetails::Other {
                        family,
                        kind,
                        protocol,
                    }) => format!("{family} {kind} protocol {protocol}"),
                    Some(SocketDetails::Unconnected) => "UNCONNECTED".to_string(),
                    None => String::new(),
                };
                out.push(Line::raw(format!(
                    "  {:>5} {} {}",
                    s.fd.unwrap_or(-1),
                    sanitize(&s.path),
                    sanitize(&desc)
                )));
                // Bytes in flight: received and not read, written and not acknowledged.
                for (what, q) in [
                    ("received, unread", &s.details.recv_queue),
                    ("sent, unacknowledged", &s.details.send_queue),
                ] {
                    if let Some(q) = q {
                        out.push(Line::styled(
                            format!(
                                "        {what}: {} bytes: {}",
                                q.len(),
                                sanitize_bytes(q.get(..64).unwrap_or(q))
                            ),
                            theme::ALERT,
                        ));
                    }
                }
            }
        }
        Err(e) => out.push(Line::styled(
            format!("files: {}", sanitize(&e.to_string())),
            theme::ERROR,
        )),
    }
    out.push(Line::raw(""));
    match cx.ev.environment(pid) {
        Ok(env) => {
            out.push(Line::styled(
                format!("Environment ({})", env.len()),
                theme::TITLE,
            ));
            for v in env {
                out.push(Line::raw(format!("  {}", sanitize(&v))));
            }
        }
        Err(e) => out.push(Line::styled(
            format!("environment: {}", sanitize(&e.to_string())),
            theme::ERROR,
        )),
    }
    out
}

/// Draws the popup.
pub fn draw(f: &mut Frame, area: Rect, pid: Pid, lines: &[Line<'static>], scroll: u16) {
    let popup = crate::tui::layout::centered(area, 90, 85);
    f.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER_FOCUSED)
        .title(format!(" Process {pid} — ↑↓ scroll, Esc close "));
    f.render_widget(
        Paragraph::new(lines.to_vec())
            .block(block)
            .scroll((scroll, 0)),
        popup,
    );
}
