//! The workbench's layout math: where the panes and popups go for a terminal size. Pure
//! functions, used by drawing and by the panes that need their own size.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::tui::action::Pane;

/// Width from which the process tree stays visible beside the focused pane.
pub const WIDE: u16 = 160;

/// The main area (between tabs and status line) for a terminal size.
pub fn main_area(size: (u16, u16)) -> Rect {
    Rect {
        x: 0,
        y: 2,
        width: size.0,
        height: size.1.saturating_sub(4),
    }
}

/// The panes shown for a terminal size and a focused pane: one pane below [`WIDE`]
/// columns, else the process tree beside the focused pane (the maps beside the tree).
pub fn layout_panes(size: (u16, u16), focus: Pane) -> Vec<(Pane, Rect, bool)> {
    let main = main_area(size);
    if main.width < WIDE {
        return vec![(focus, main, true)];
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(38), Constraint::Percentage(62)]).areas(main);
    match focus {
        Pane::Processes => vec![(Pane::Processes, left, true), (Pane::Maps, right, false)],
        other => vec![(Pane::Processes, left, false), (other, right, true)],
    }
}

/// The area a pane is drawn into (or the main area when it is not shown).
pub fn pane_area(size: (u16, u16), focus: Pane, pane: Pane) -> Rect {
    layout_panes(size, focus)
        .into_iter()
        .find(|(p, _, _)| *p == pane)
        .map_or_else(|| main_area(size), |(_, a, _)| a)
}

/// A centered rectangle of `pw`% x `ph`% of `area`.
pub fn centered(area: Rect, pw: u16, ph: u16) -> Rect {
    let w = area.width * pw / 100;
    let h = area.height * ph / 100;
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_show_one_pane_wide_ones_keep_the_tree() {
        let one = layout_panes((80, 24), Pane::Hex);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0, Pane::Hex);
        assert_eq!(one[0].1, Rect::new(0, 2, 80, 20));
        let two = layout_panes((200, 60), Pane::Hex);
        assert_eq!(
            two.iter().map(|(p, _, f)| (*p, *f)).collect::<Vec<_>>(),
            [(Pane::Processes, false), (Pane::Hex, true)]
        );
        assert_eq!(two[0].1.width + two[1].1.width, 200);
        let tree = layout_panes((200, 60), Pane::Processes);
        assert_eq!(tree[1].0, Pane::Maps, "the maps beside a focused tree");
    }

    #[test]
    fn tiny_terminals_do_not_underflow() {
        for (w, h) in [(0, 0), (1, 1), (10, 3), (159, 4)] {
            let areas = layout_panes((w, h), Pane::Search);
            assert!(areas.iter().all(|(_, r, _)| r.height <= h && r.width <= w));
        }
        let c = centered(Rect::new(0, 0, 3, 3), 90, 90);
        assert!(c.width <= 3 && c.height <= 3);
    }
}
