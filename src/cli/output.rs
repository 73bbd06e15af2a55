//! Output helpers for the CLI: aligned tables of sanitised cells, and JSON.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::sanitize::sanitize;

/// A table printed with aligned columns; every cell is sanitised.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with these column headers; columns listed in `right` are right-aligned.
    pub fn new(headers: &[&'static str], right: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
            right: headers.iter().map(|h| right.contains(h)).collect(),
        }
    }

    /// Adds a row (cells are sanitised here).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| sanitize(&c).into_owned())
                .collect(),
        );
    }

    /// Prints the table.
    pub fn print(&self, out: &mut dyn Write) -> Result<()> {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut dyn Write| -> Result<()> {
            let mut s = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                let last = i + 1 == n;
                let pad = w.saturating_sub(cell.chars().count());
                if self.right.get(i).copied().unwrap_or(false) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    if !last {
                        s.push_str(&" ".repeat(pad));
                    }
                }
                if !last {
                    s.push_str("  ");
                }
            }
            writeln!(out, "{}", s.trim_end())?;
            Ok(())
        };
        line(&mut self.headers.iter().copied(), out)?;
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str), out)?;
        }
        Ok(())
    }
}

/// Prints a value as pretty JSON (terminal-safe: C1 and bidi escaped too) and a newline.
pub fn json(value: &impl Serialize, out: &mut dyn Write) -> Result<()> {
    crate::sanitize::json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Formats an optional number, `-` when absent.
pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}
