//! The evidence popup (`I`): what the evidence is (format, size, engine), every warning met
//! while opening it, the container's mounts and what the evidence holds of them, then all
//! the metadata (container, image, CRIU and dump facts, kernel layout). Made when the popup
//! opens.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use serde_json::Value;

use crate::sanitize::sanitize;
use crate::tui::command::Ctx;
use crate::tui::theme;

/// The popup's lines.
pub fn lines(cx: &Ctx) -> Vec<Line<'static>> {
    let info = cx.info;
    let mut out = vec![
        Line::styled(sanitize(&info.title).into_owned(), theme::TITLE),
        Line::raw(format!(
            "path:    {}",
            sanitize(&info.path.display().to_string())
        )),
        Line::raw(format!("format:  {}", sanitize(&info.format))),
        Line::raw(format!("size:    {} bytes", info.size)),
        Line::raw(format!(
            "engine:  {}",
            sanitize(info.engine.as_deref().unwrap_or("-"))
        )),
    ];
    out.push(Line::raw(""));
    out.push(Line::styled(
        format!("warnings ({})", info.warnings.len()),
        theme::TITLE,
    ));
    for w in &info.warnings {
        out.push(Line::styled(format!("  {}", sanitize(w)), theme::ERROR));
    }
    if let Some(fs) = cx.ev.container_fs() {
        let mounts = fs.mounts();
        if !mounts.is_empty() {
            out.push(Line::raw(""));
            out.push(Line::styled(
                format!("mounts ({})", mounts.len()),
                theme::TITLE,
            ));
            for m in mounts {
                let contents = match (&m.saved, &m.external) {
                    (Some(s), _) => format!("saved in {s}"),
                    (None, Some(_)) => "external".to_string(),
                    (None, None) => "-".to_string(),
                };
                let text = format!(
                    "  {:<40} {:<8} {:<34} {}",
                    m.mountpoint,
                    m.fstype,
                    contents,
                    m.host_source.as_deref().unwrap_or(&m.source)
                );
                out.push(Line::raw(sanitize(&text).into_owned()));
            }
        }
    }
    for (key, value) in &info.details {
        out.push(Line::raw(""));
        out.push(Line::styled(sanitize(key).into_owned(), theme::TITLE));
        flatten(value, 1, &mut out);
    }
    out
}

/// A JSON value as indented `key: value` lines.
fn flatten(value: &Value, depth: usize, out: &mut Vec<Line<'static>>) {
    let pad = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        out.push(Line::raw(format!("{pad}{}:", sanitize(k))));
                        flatten(v, depth + 1, out);
                    }
                    _ => out.push(Line::raw(format!("{pad}{}: {}", sanitize(k), scalar(v)))),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        out.push(Line::raw(format!("{pad}[{i}]:")));
                        flatten(v, depth + 1, out);
                    }
                    _ => out.push(Line::raw(format!("{pad}- {}", scalar(v)))),
                }
            }
        }
        v => out.push(Line::raw(format!("{pad}{}", scalar(v)))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize(s).into_owned(),
        Value::Null => "-".to_string(),
        v => v.to_string(),
    }
}

/// Draws the popup.
pub fn draw(f: &mut Frame, area: Rect, lines: &[Line<'static>], scroll: u16) {
    let popup = crate::tui::layout::centered(area, 90, 85);
    f.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER_FOCUSED)
        .title(" Evidence — ↑↓ scroll, Esc close ");
    f.render_widget(
        Paragraph::new(lines.to_vec())
            .block(block)
            .scroll((scroll, 0)),
        popup,
    );
}
