//! The help popup: every key, by pane, from the keymap's table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::tui::keymap::help_sections;
use crate::tui::theme;

/// Draws the help.
pub fn draw(f: &mut Frame, area: Rect, scroll: u16) {
    let popup = crate::tui::layout::centered(area, 90, 90);
    f.render_widget(Clear, popup);
    let mut lines = Vec::new();
    for (section, bindings) in help_sections() {
        lines.push(Line::styled(section, theme::TITLE));
        for b in bindings {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<24} ", b.label), theme::KEY),
                Span::raw(b.help),
            ]));
        }
        lines.push(Line::raw(""));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme::BORDER_FOCUSED)
        .title(" Keys — ↑↓ scroll, Esc close ");
    f.render_widget(
        Paragraph::new(lines).block(block).scroll((scroll, 0)),
        popup,
    );
}
