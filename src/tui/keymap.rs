//! Keys to actions. The one table of bindings; the help and the footer describe it.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::action::{Action, Pane};
use crate::tui::app::{App, Overlay};

/// The action for a key in the app's current mode, if any.
pub fn action_for(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    let text_mode = matches!(app.overlay, Some(Overlay::Prompt(_)))
        || (app.overlay.is_none() && app.focus == Pane::Search && app.search.editing);
    if text_mode {
        return Some(match key.code {
            KeyCode::Esc => Action::Cancel,
            KeyCode::Enter => Action::Submit,
            _ => Action::Input(key),
        });
    }
    let nav = match key.code {
        KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
        KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
        KeyCode::Left | KeyCode::Char('h') => Some(Action::Left),
        KeyCode::Right | KeyCode::Char('l') => Some(Action::Right),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::PageDown),
        KeyCode::Home => Some(Action::Home),
        KeyCode::End => Some(Action::End),
        KeyCode::Esc => Some(Action::Cancel),
        KeyCode::Enter => Some(Action::Enter),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Char('q') => Some(Action::Quit),
        _ => None,
    };
    if app.overlay.is_some() || nav.is_some() {
        return nav;
    }
    let focus = app.focus;
    Some(match key.code {
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char(c @ '1'..='6') => Action::Focus(Pane::ALL[(c as u8 - b'1') as usize]),
        KeyCode::Char('e') => Action::Export,
        KeyCode::Char('b') => Action::Bookmark,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('s') if focus == Pane::Search => Action::ToggleScope,
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('m') => Action::OpenMaps,
        KeyCode::Char('g') => Action::Goto,
        KeyCode::Char('n') => Action::NextHit,
        KeyCode::Char('N') => Action::PrevHit,
        KeyCode::Char('v') => Action::Select,
        KeyCode::Char('y') => Action::Yank,
        KeyCode::Char('i') => Action::ToggleCase,
        KeyCode::Char('u') => Action::ToggleUtf16,
        KeyCode::Char('d') => Action::Delete,
        KeyCode::Char('r') => Action::EditNote,
        KeyCode::Char('t') => Action::EditTags,
        KeyCode::Char('x') => Action::Extract,
        KeyCode::Char('c') => Action::ToggleGroup,
        _ => return None,
    })
}
