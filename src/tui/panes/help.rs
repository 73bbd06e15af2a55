//! The help popup: every key, by pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::tui::strings::HELP;
use crate::tui::theme;

/// Draws the help.
pub fn draw(f: &mut Frame, area: Rect, scroll: u16) {
    let popup = crate::tui::ui::centered(area, 90, 90);
    f.render_widget(Clear, popup);
    let mut lines = Vec::new();
    for (section, keys) in HELP {
        lines.push(Line::styled(*section, theme::TITLE));
        for (k, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<24}"), theme::KEY),
                Span::raw(*what),
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
