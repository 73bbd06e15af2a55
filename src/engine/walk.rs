//! [`Walk`]: a list read from evidence together with the damage met while reading it, so
//! that a client cannot show the list without being able to say it may be incomplete.

use std::ops::Deref;

/// Items read from evidence, and what was skipped and why (a loop in a tree, an unreadable
/// node, a table too large). Empty `problems` means the walk met no damage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk<T> {
    /// What was read, in the list's order.
    pub items: Vec<T>,
    /// What was skipped and why, one sentence each; the items may be incomplete when not
    /// empty.
    pub problems: Vec<String>,
}

impl<T> Default for Walk<T> {
    fn default() -> Self {
        Walk {
            items: Vec::new(),
            problems: Vec::new(),
        }
    }
}

impl<T> Walk<T> {
    /// A complete walk: items, no problems.
    pub fn complete(items: Vec<T>) -> Walk<T> {
        Walk {
            items,
            problems: Vec::new(),
        }
    }

    /// True when no damage was met.
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }

    /// The items, dropping the problems (the caller has reported them).
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

impl<T> Deref for Walk<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> IntoIterator for Walk<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Walk<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
