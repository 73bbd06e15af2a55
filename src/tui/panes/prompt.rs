//! The one-line text prompt popup (filter, goto, notes, tags, paths).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear};

use crate::sanitize::sanitize;
use crate::tui::app::Prompt;
use crate::tui::theme;

/// Draws a prompt.
pub fn draw(f: &mut Frame, area: Rect, prompt: &Prompt) {
    let width = area.width.saturating_sub(4).min(100);
    let popup = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + area.height / 3,
        width,
        height: 3,
    };
    f.render_widget(Clear, popup);
    let mut input = prompt.input.clone();
    input.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme::BORDER_FOCUSED)
            .title(format!(
                " {} — Enter ok, Esc cancel ",
                sanitize(&prompt.title)
            )),
    );
    input.set_cursor_line_style(ratatui::style::Style::new());
    f.render_widget(&input, popup);
}
