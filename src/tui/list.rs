//! Cursor and scroll position of a list, shared by every list-like pane.

/// Selected row and first visible row of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    /// Index of the selected row.
    pub selected: usize,
    /// Index of the first visible row.
    pub offset: usize,
}

impl ListCursor {
    /// Moves the selection by `delta` rows within `len` rows.
    pub fn move_by(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let max = len - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(max);
    }

    /// Selects the first row.
    pub fn home(&mut self) {
        self.selected = 0;
    }

    /// Selects the last row.
    pub fn end(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }

    /// Keeps the selection within `len` rows.
    pub fn clamp(&mut self, len: usize) {
        if self.selected >= len {
            self.selected = len.saturating_sub(1);
        }
    }

    /// The offset that keeps the selection visible in `height` rows (pure: for drawing).
    pub fn visible_offset(&self, height: usize) -> usize {
        let height = height.max(1);
        if self.selected < self.offset {
            self.selected
        } else if self.selected >= self.offset + height {
            self.selected + 1 - height
        } else {
            self.offset
        }
    }

    /// Stores the offset that keeps the selection visible in `height` rows.
    pub fn scroll_to_selection(&mut self, height: usize) {
        self.offset = self.visible_offset(height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_and_scrolls() {
        let mut c = ListCursor::default();
        c.move_by(5, 3);
        assert_eq!(c.selected, 2);
        c.move_by(-10, 3);
        assert_eq!(c.selected, 0);
        c.selected = 30;
        c.scroll_to_selection(10);
        assert_eq!(c.offset, 21);
        c.selected = 5;
        assert_eq!(c.visible_offset(10), 5);
    }
}
