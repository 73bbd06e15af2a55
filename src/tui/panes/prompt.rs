//! The one-line text prompt popup (filter, goto, notes, tags, paths).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Clear};
use ratatui_textarea::TextArea;

use crate::sanitize::sanitize;
use crate::tui::command::PromptKind;
use crate::tui::theme;

/// A one-line text prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// What it is for.
    pub kind: PromptKind,
    /// Title shown above the input.
    pub title: String,
    /// The input.
    pub input: TextArea<'static>,
}

impl Prompt {
    /// A prompt with a title and initial text.
    pub fn new(kind: PromptKind, title: impl Into<String>, text: &str) -> Box<Prompt> {
        let mut input = TextArea::new(vec![text.to_string()]);
        input.move_cursor(ratatui_textarea::CursorMove::End);
        Box::new(Prompt {
            kind,
            title: title.into(),
            input,
        })
    }

    /// The text typed.
    pub fn text(&self) -> String {
        self.input.lines().join("")
    }
}

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
