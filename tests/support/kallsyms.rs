//! A kallsyms table writer for tests: the tables `scripts/kallsyms.c` emits, in the orders
//! and address forms kernels have used, compressed with a token table as the kernel's is
//! (bytes that names use stand for themselves, the other codes for two-letter tokens).

use std::collections::BTreeSet;

/// Which kernel's layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 6.1-6.3: offsets (absolute per-CPU), relative_base, num_syms, names, markers,
    /// seqs_of_names, token_table, token_index.
    V61,
    /// 6.4 and later: num_syms, names, markers, token_table, token_index, offsets
    /// (relative to relative_base), relative_base, seqs_of_names.
    V64,
    /// Before base-relative offsets: addresses (64-bit), num_syms, names, markers,
    /// token_table, token_index.
    Absolute,
}

/// Two-letter tokens for the codes names do not use.
const BIGRAMS: &[&str] = &[
    "__", "_s", "in", "er", "et", "ta", "re", "st", "_t", "te", "on", "ne", "de", "ge", "se", "_p",
    "nt", "ad", "ck", "lo", "ma", "co", "ev", "at", "it", "or", "mo", "ro", "ll", "ca",
];

fn align(v: &mut Vec<u8>, to: usize) {
    while !v.len().is_multiple_of(to) {
        v.push(0);
    }
}

/// The tables for `symbols` (name, type letter, run-time address), sorted here by address;
/// returns the bytes and the offset of the token table in them.
pub fn kallsyms_blob(symbols: &[(String, u8, u64)], layout: Layout) -> (Vec<u8>, usize) {
    let mut syms: Vec<(Vec<u8>, u64)> = symbols
        .iter()
        .map(|(n, t, a)| {
            let mut full = vec![*t];
            full.extend_from_slice(n.as_bytes());
            (full, *a)
        })
        .collect();
    syms.sort_by_key(|s| s.1);
    let used: BTreeSet<u8> = syms.iter().flat_map(|s| s.0.iter().copied()).collect();
    let mut tokens: Vec<Vec<u8>> = Vec::with_capacity(256);
    let mut bigrams = BIGRAMS.iter().cycle();
    for code in 0..=255u8 {
        if used.contains(&code) {
            tokens.push(vec![code]);
        } else {
            tokens.push(bigrams.next().unwrap().as_bytes().to_vec());
        }
    }
    // Greedy compression: a two-letter token where one matches, else the byte itself.
    let encode = |name: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < name.len() {
            let pair = name.get(i..i + 2);
            let code = (0..=255u8)
                .find(|c| !used.contains(c) && pair.is_some_and(|p| tokens[*c as usize] == p));
            match code {
                Some(c) => {
                    out.push(c);
                    i += 2;
                }
                None => {
                    out.push(name[i]);
                    i += 1;
                }
            }
        }
        out
    };
    let mut names = Vec::new();
    let mut markers = Vec::new();
    for (i, (full, _)) in syms.iter().enumerate() {
        if i % 256 == 0 {
            markers.push(names.len() as u32);
        }
        let enc = encode(full);
        let len = enc.len();
        if len > 127 {
            names.push((len as u8 & 0x7f) | 0x80);
            names.push((len >> 7) as u8);
        } else {
            names.push(len as u8);
        }
        names.extend(enc);
    }
    let n = syms.len();
    let text = syms
        .iter()
        .find(|s| &s.0[1..] == b"_text")
        .map(|s| s.1)
        .expect("a _text symbol");
    let mut token_table = Vec::new();
    let mut token_index = Vec::new();
    for t in &tokens {
        token_index.extend((token_table.len() as u16).to_le_bytes());
        token_table.extend(t);
        token_table.push(0);
    }
    let mut by_name: Vec<usize> = (0..n).collect();
    by_name.sort_by(|a, b| syms[*a].0[1..].cmp(&syms[*b].0[1..]));
    let seqs: Vec<u8> = by_name
        .iter()
        .flat_map(|i| [(i >> 16) as u8, (i >> 8) as u8, *i as u8])
        .collect();
    let percpu = |a: u64| a < 0x1_0000_0000;
    let offsets_abs_percpu: Vec<u8> = syms
        .iter()
        .flat_map(|(_, a)| {
            let o = if percpu(*a) {
                *a as i32
            } else {
                (text.wrapping_sub(1).wrapping_sub(*a)) as i64 as i32
            };
            o.to_le_bytes()
        })
        .collect();
    let offsets_rel: Vec<u8> = syms
        .iter()
        .flat_map(|(_, a)| (a.wrapping_sub(text) as u32).to_le_bytes())
        .collect();

    let mut out = vec![0u8; 64]; // some other .rodata before
    let tt_at;
    let names_part = |out: &mut Vec<u8>| {
        align(out, 8);
        out.extend((n as u32).to_le_bytes());
        align(out, 8);
        out.extend(&names);
        align(out, 8);
        for m in &markers {
            out.extend(m.to_le_bytes());
        }
    };
    match layout {
        Layout::V61 | Layout::Absolute => {
            if layout == Layout::V61 {
                out.extend(&offsets_abs_percpu);
                align(&mut out, 8);
                out.extend(text.to_le_bytes());
            } else {
                for (_, a) in &syms {
                    out.extend(a.to_le_bytes());
                }
            }
            names_part(&mut out);
            if layout == Layout::V61 {
                align(&mut out, 8);
                out.extend(&seqs);
            }
            align(&mut out, 8);
            tt_at = out.len();
            out.extend(&token_table);
            align(&mut out, 8);
            out.extend(&token_index);
        }
        Layout::V64 => {
            names_part(&mut out);
            align(&mut out, 8);
            tt_at = out.len();
            out.extend(&token_table);
            align(&mut out, 8);
            out.extend(&token_index);
            align(&mut out, 8);
            out.extend(&offsets_rel);
            align(&mut out, 8);
            out.extend(text.to_le_bytes());
            align(&mut out, 8);
            out.extend(&seqs);
        }
    }
    out.extend([0u8; 64]);
    (out, tt_at)
}
