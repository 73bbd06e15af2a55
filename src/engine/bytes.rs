//! A bounds-checked little-endian cursor over `&[u8]` whose methods never panic.
//!
//! A failed read empties the cursor, so a parser that ignores one failure cannot loop on the
//! same bytes forever (the habit of gimli/object's `Bytes`).

/// A cursor over a byte slice that remembers its absolute position in the enclosing file.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`, whose first byte is at absolute offset `base` in its file.
    pub fn new(data: &'a [u8], base: u64) -> Self {
        Cursor { data, pos: base }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// Bytes left.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no bytes are left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes left, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Takes `n` bytes; on shortage returns `None` and empties the cursor.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        match (self.data.get(..n), self.data.get(n..)) {
            (Some(head), Some(tail)) => {
                self.data = tail;
                self.pos = self.pos.saturating_add(n as u64);
                Some(head)
            }
            _ => {
                self.pos = self.pos.saturating_add(self.data.len() as u64);
                self.data = &[];
                None
            }
        }
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }

    /// Reads a little-endian u32.
    pub fn u32_le(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// Reads a little-endian u64.
    pub fn u64_le(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Reads a little-endian u32 at `at` in `data`, if in bounds.
pub fn u32_le_at(data: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    data.get(at..end)?.try_into().ok().map(u32::from_le_bytes)
}

/// Reads a little-endian u64 at `at` in `data`, if in bounds.
pub fn u64_le_at(data: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    data.get(at..end)?.try_into().ok().map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_read_empties() {
        let mut c = Cursor::new(&[1, 0, 0, 0, 9], 100);
        assert_eq!(c.u32_le(), Some(1));
        assert_eq!(c.offset(), 104);
        assert_eq!(c.u32_le(), None);
        assert!(c.is_empty());
        assert_eq!(c.offset(), 105);
    }
}
