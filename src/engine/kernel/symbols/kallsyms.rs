//! The kernel's own symbol table (kallsyms), decoded from a window of physical memory
//! around `kallsyms_token_table`, with no symbol given.
//!
//! `scripts/kallsyms.c` writes, in `.rodata`, the tables `kallsyms_num_syms`, `_names`
//! (each symbol a length, then bytes that index `_token_table`), `_markers` (the offset of
//! every 256th name), optionally `_seqs_of_names`, `_token_table` (256 NUL-terminated
//! strings) and `_token_index` (256 u16 offsets). The addresses are in `kallsyms_offsets`
//! (32-bit, relative to `kallsyms_relative_base`, with or without absolute per-CPU
//! symbols, or relative to their own position) or `kallsyms_addresses` (64-bit), placed
//! before `num_syms` (up to 6.3) or after `_token_index` (6.4 and later). Every variant is
//! tried; a variant is taken when it reproduces the whole table exactly: the token index
//! matches the token table, every marker matches the decoded names, and the addresses are
//! sorted (as the kernel sorts them) with `_text` in the kernel's half of the address space.
//!
//! Names are lengths then token bytes; lengths above 127 take two bytes since 6.1 (before
//! that a byte of 128-255 is the length itself): both readings are tried and the markers
//! decide.

/// At most this many symbols are accepted (the largest kernels have about 500,000).
pub const MAX_SYMBOLS: u32 = 4_000_000;
/// How many bytes before the token table the names, markers and offsets may start.
pub const WINDOW_BEFORE: u64 = 48 << 20;
/// How many bytes after the token table the token index and (6.4+) offsets may end.
pub const WINDOW_AFTER: u64 = 24 << 20;

/// One decoded symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// The name, without its type letter.
    pub name: String,
    /// The type letter (`T`, `t`, `D`, `d`, `B`, `b`, `R`, `r`, `A`, ...).
    pub kind: u8,
    /// The run-time address (KASLR applied, as the kernel computes it).
    pub address: u64,
}

/// How the addresses were stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressForm {
    /// `relative_base - 1 - offset` for negative offsets, else the offset (per-CPU).
    AbsolutePercpu,
    /// `relative_base + (u32)offset`.
    Relative,
    /// 64-bit `kallsyms_addresses`.
    Absolute,
    /// Each offset relative to its own run-time address (7.0).
    PcRelative,
}

/// The decoded table and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kallsyms {
    /// Symbols in table order (sorted by address).
    pub symbols: Vec<KernelSymbol>,
    /// How addresses were stored.
    pub form: AddressForm,
    /// `kallsyms_relative_base` (the run-time `_text`), when there is one.
    pub relative_base: Option<u64>,
    /// Offset of `kallsyms_token_table` in the window.
    pub token_table: usize,
    /// Offset of `kallsyms_num_syms` in the window.
    pub num_syms_at: usize,
}

/// Little-endian reads from the window that never panic.
fn u16_at(w: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        w.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(w: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        w.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(w: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        w.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn align_up(x: usize, a: usize) -> usize {
    x.div_ceil(a).saturating_mul(a)
}

/// The 256 tokens starting at `at`, and the offset just past the last one's NUL. Tokens
/// are never empty.
pub fn tokens_at(w: &[u8], at: usize) -> Option<(Vec<&[u8]>, usize)> {
    let mut out = Vec::with_capacity(256);
    let mut pos = at;
    for _ in 0..256 {
        let rest = w.get(pos..)?;
        let len = rest.iter().take(256).position(|&b| b == 0)?;
        if len == 0 {
            return None;
        }
        out.push(rest.get(..len)?);
        pos += len + 1;
    }
    Some((out, pos))
}

/// The start of the token table that holds the digit run `"0\0" .. "9\0"` found at `digits`:
/// the 48 tokens of bytes 0x00-0x2f come before it.
pub fn token_table_before_digits(w: &[u8], digits: usize) -> Option<usize> {
    let mut pos = digits;
    for _ in 0..48 {
        // pos is at a token's first byte; the byte before is the previous token's NUL.
        let end = pos.checked_sub(1)?;
        let start_search = end.saturating_sub(256);
        let prev = w.get(start_search..end)?;
        let start = start_search + prev.iter().rposition(|&b| b == 0)? + 1;
        if start >= end {
            return None;
        }
        pos = start;
    }
    Some(pos)
}

/// The offset of the token index after the table ending at `end`, checked entry by entry.
fn token_index_after(tokens: &[&[u8]], end: usize, w: &[u8]) -> Option<usize> {
    let mut expect = Vec::with_capacity(256);
    let mut acc = 0u32;
    for t in tokens {
        expect.push(u16::try_from(acc).ok()?);
        acc += t.len() as u32 + 1;
    }
    (end..end + 16)
        .filter(|p| p % 2 == 0)
        .find(|&p| (0..256).all(|i| u16_at(w, p + 2 * i) == expect.get(i).copied()))
}

/// True for a byte a symbol name may hold.
fn name_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// Decodes one name at `at`: (type letter + name, offset after it).
fn name_at(w: &[u8], at: usize, tokens: &[&[u8]], long: bool) -> Option<(Vec<u8>, usize)> {
    let b0 = *w.get(at)?;
    let (len, mut pos) = if long && b0 & 0x80 != 0 {
        let b1 = *w.get(at + 1)?;
        (usize::from(b0 & 0x7f) | (usize::from(b1) << 7), at + 2)
    } else {
        (usize::from(b0), at + 1)
    };
    if len == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(len * 3);
    for &t in w.get(pos..pos + len)? {
        out.extend_from_slice(tokens.get(usize::from(t))?);
    }
    pos += len;
    Some((out, pos))
}

/// True when a decoded name looks like a symbol (a type letter, then a name).
fn plausible(decoded: &[u8]) -> bool {
    decoded.len() >= 2
        && decoded.first().is_some_and(u8::is_ascii_alphabetic)
        && decoded.iter().all(|&b| name_byte(b))
}

/// A run of markers: `0`, then rising steps of a plausible size; its length.
fn marker_run(w: &[u8], at: usize, wide: bool) -> usize {
    let size = if wide { 8 } else { 4 };
    let get = |i: usize| {
        if wide {
            u64_at(w, at + i * size)
        } else {
            u32_at(w, at + i * size).map(u64::from)
        }
    };
    if get(0) != Some(0) {
        return 0;
    }
    let mut n = 1;
    let mut prev = 0u64;
    while let Some(v) = get(n) {
        let step = v.wrapping_sub(prev);
        if v <= prev || !(512..=256 * 600).contains(&step) {
            break;
        }
        prev = v;
        n += 1;
    }
    n
}

/// The names table found from its markers: where `num_syms` is, the count and the names
/// decoded (type letter first).
struct Names {
    num_syms_at: usize,
    count: usize,
    decoded: Vec<Vec<u8>>,
}

fn find_names(w: &[u8], limit: usize, tokens: &[&[u8]]) -> Option<Names> {
    let lowest = limit.saturating_sub(WINDOW_BEFORE as usize);
    let mut p = limit & !3;
    while p >= lowest + 4 {
        p -= 4;
        for wide in [false, true] {
            if wide && !p.is_multiple_of(8) {
                continue;
            }
            let run = marker_run(w, p, wide);
            // The value after the last marker may happen to continue the run.
            for m in (run.saturating_sub(2).max(2)..=run).rev() {
                if let Some(n) = names_for_markers(w, p, m, wide, tokens) {
                    return Some(n);
                }
            }
        }
    }
    None
}

/// Tries the names that `run` markers at `markers_at` describe.
fn names_for_markers(
    w: &[u8],
    markers_at: usize,
    run: usize,
    wide: bool,
    tokens: &[&[u8]],
) -> Option<Names> {
    let size = if wide { 8 } else { 4 };
    let marker = |i: usize| -> Option<usize> {
        let v = if wide {
            u64_at(w, markers_at + i * size)?
        } else {
            u64::from(u32_at(w, markers_at + i * size)?)
        };
        usize::try_from(v).ok()
    };
    let last = marker(run - 1)?;
    // The names end at most 7 bytes of padding before the markers, and the last block
    // holds 1..=256 names of at most 2 + 0x3fff bytes each: search num_syms in between.
    let latest_start = markers_at.checked_sub(last)?;
    let earliest_start = latest_start.saturating_sub(256 * 300 + 16);
    let min_n = (run - 1) * 256 + 1;
    let max_n = run * 256;
    let mut q = latest_start.saturating_sub(4) & !3;
    while q >= earliest_start.saturating_sub(8) && q > 0 {
        let n = u32_at(w, q).map_or(0, |v| v as usize);
        if (min_n..=max_n).contains(&n) {
            for start in [q + 4, align_up(q + 4, 8), q + 8] {
                for long in [true, false] {
                    if let Some(found) =
                        decode_names(w, start, n, long, tokens, markers_at, run, &marker)
                    {
                        return Some(Names {
                            num_syms_at: q,
                            count: n,
                            decoded: found,
                        });
                    }
                }
            }
        }
        q = q.checked_sub(4)?;
    }
    None
}

/// Decodes `n` names from `start`; `Some` only if every marker matches and the names end
/// (with at most 7 bytes of zero padding) where the markers begin.
#[allow(clippy::too_many_arguments)]
fn decode_names(
    w: &[u8],
    start: usize,
    n: usize,
    long: bool,
    tokens: &[&[u8]],
    markers_at: usize,
    run: usize,
    marker: &dyn Fn(usize) -> Option<usize>,
) -> Option<Vec<Vec<u8>>> {
    let mut pos = start;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        if k % 256 == 0 && marker(k / 256)? != pos - start {
            return None;
        }
        let (name, next) = name_at(w, pos, tokens, long)?;
        if !plausible(&name) || next > markers_at {
            return None;
        }
        out.push(name);
        pos = next;
    }
    let padding = w.get(pos..markers_at)?;
    (padding.len() < 8 && padding.iter().all(|&b| b == 0) && n.div_ceil(256) == run).then_some(out)
}

/// Decodes the kallsyms tables in `w` whose token table starts at `token_table`.
/// `va_of` gives the run-time virtual address of a window offset, when it is known (needed
/// only for 7.0's self-relative offsets).
pub fn decode(
    w: &[u8],
    token_table: usize,
    va_of: Option<&dyn Fn(usize) -> u64>,
) -> Option<Kallsyms> {
    let (tokens, end) = tokens_at(w, token_table)?;
    let index_at = token_index_after(&tokens, end, w)?;
    let names = find_names(w, token_table, &tokens)?;
    let n = names.count;
    let index_end = index_at + 512;
    let q = names.num_syms_at;

    // Candidate address tables: (offset of the table, form, relative_base).
    let mut candidates: Vec<(usize, AddressForm, Option<u64>)> = Vec::new();
    let offsets_len = align_up(n * 4, 8);
    // Up to 6.3: [offsets][relative_base] num_syms, or [addresses] num_syms.
    if let Some(rb_at) = q.checked_sub(8)
        && let Some(at) = rb_at.checked_sub(offsets_len)
    {
        let rb = u64_at(w, rb_at);
        candidates.push((at, AddressForm::AbsolutePercpu, rb));
        candidates.push((at, AddressForm::Relative, rb));
    }
    if let Some(at) = q.checked_sub(n * 8) {
        candidates.push((at, AddressForm::Absolute, None));
    }
    // 6.4 and later: after the token index.
    let after = align_up(index_end, 8);
    let rb_after = u64_at(w, align_up(after + n * 4, 8));
    candidates.push((after, AddressForm::AbsolutePercpu, rb_after));
    candidates.push((after, AddressForm::Relative, rb_after));
    candidates.push((after, AddressForm::Absolute, None));
    if va_of.is_some() {
        candidates.push((after, AddressForm::PcRelative, None));
    }

    for (at, form, rb) in candidates {
        let Some(addresses) = addresses(w, at, n, form, rb, va_of) else {
            continue;
        };
        let symbols: Vec<KernelSymbol> = names
            .decoded
            .iter()
            .zip(addresses)
            .map(|(d, address)| KernelSymbol {
                kind: d.first().copied().unwrap_or(b'?'),
                name: String::from_utf8_lossy(d.get(1..).unwrap_or_default()).into_owned(),
                address,
            })
            .collect();
        if checks_out(&symbols) {
            return Some(Kallsyms {
                symbols,
                form,
                relative_base: rb,
                token_table,
                num_syms_at: q,
            });
        }
    }
    None
}

/// The `n` addresses of a table at `at` read in `form`.
fn addresses(
    w: &[u8],
    at: usize,
    n: usize,
    form: AddressForm,
    rb: Option<u64>,
    va_of: Option<&dyn Fn(usize) -> u64>,
) -> Option<Vec<u64>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let a = match form {
            AddressForm::Absolute => u64_at(w, at + 8 * i)?,
            AddressForm::Relative => rb?.wrapping_add(u64::from(u32_at(w, at + 4 * i)?)),
            AddressForm::AbsolutePercpu => {
                let o = u32_at(w, at + 4 * i)? as i32;
                if o >= 0 {
                    o as u64
                } else {
                    rb?.wrapping_sub(1).wrapping_sub(i64::from(o) as u64)
                }
            }
            AddressForm::PcRelative => {
                let o = u32_at(w, at + 4 * i)? as i32;
                va_of?(at + 4 * i).wrapping_add(i64::from(o) as u64)
            }
        };
        out.push(a);
    }
    Some(out)
}

/// The table is sorted by address and `_text` (or `_stext`) is in the kernel half.
fn checks_out(symbols: &[KernelSymbol]) -> bool {
    let sorted = symbols.windows(2).all(|p| match p {
        [a, b] => a.address <= b.address,
        _ => true,
    });
    let text = symbols
        .iter()
        .find(|s| s.name == "_text" || s.name == "_stext")
        .map(|s| s.address);
    sorted && text.is_some_and(|t| t >= 0xffff_8000_0000_0000)
}

/// The digit run `"0\0" .. "9\0"` that every token table holds (bytes used in names as
/// themselves are their own tokens), as a pattern for a physical-memory scan.
pub const DIGIT_RUN: &str = r"(?-u)0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00";
