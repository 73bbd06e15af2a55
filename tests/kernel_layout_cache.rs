//! Where a dump's kernel is (its VMCOREINFO and the KASLR layout that checked out) is cached
//! in podmortem's cache folder (`kernel/`): the second open of linux-6.1's dump.lime does not
//! scan physical memory and answers exactly as the first; a damaged or lying cache file is
//! not trusted (the layout is checked, or found again) and the answers stay the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::support;
use support::cache_dir::{fresh_cache, run};

fn layouts(cache: &Path) -> Vec<PathBuf> {
    support::cache_dir::cached(cache, "kernel", "layout")
}

#[test]
fn second_open_reads_the_layout_and_answers_the_same() {
    let Some(dump) = support::decompressed("linux-6.1", "dump.lime.zst") else {
        return;
    };
    let isf = support::kernel::isf_dir("linux-6.1").unwrap();
    let (_keep, cache) = fresh_cache();
    let (d, i) = (dump.to_str().unwrap(), isf.to_str().unwrap());
    let info = |cache: &Path| run(cache, &["info", "--json", d, "--isf", i]);
    let (first, log) = info(&cache);
    assert!(log.contains("from_cache=false"), "{log}");
    let files = layouts(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    let (second, log) = info(&cache);
    assert_eq!(first, second);
    assert!(
        log.contains("VMCOREINFO candidates candidates=1 from_cache=true"),
        "{log}"
    );
    assert!(log.contains("found_by=\"VMCOREINFO text in physical memory\" from_cache=true"));

    // A lying layout (another shift) does not check out: found again, same answers.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lie = text.replace("\"virtual_shift\":113246208", "\"virtual_shift\":4096");
    assert_ne!(lie, text, "{text}");
    std::fs::write(&files[0], lie).unwrap();
    let (third, log) = info(&cache);
    assert_eq!(first, third);
    assert!(log.contains("found_by=\"VMCOREINFO text in physical memory\" from_cache=false"));
    // Rewritten with the right layout.
    assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), text);

    // Garbage counts as absent.
    std::fs::write(&files[0], b"{not json").unwrap();
    let (fourth, log) = info(&cache);
    assert_eq!(first, fourth);
    assert!(log.contains("from_cache=false"), "{log}");
    assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), text);

    // `cache --clean --all` removes it (the shared ISF cache is unlinked first).
    std::fs::remove_file(cache.join("isf")).unwrap();
    run(&cache, &["cache", "--clean", "--all"]);
    assert!(layouts(&cache).is_empty());
}

/// The walked process list is cached beside the layout: the second open reads it (after a
/// sample of it checked out against the dump) and answers exactly as the first; a cached
/// list that lies about a task is walked again.
#[test]
fn second_open_reads_the_process_list_and_answers_the_same() {
    let Some(dump) = support::decompressed("linux-6.1", "dump.avml.zst") else {
        return;
    };
    let isf = support::kernel::isf_dir("linux-6.1").unwrap();
    let (_keep, cache) = fresh_cache();
    let (d, i) = (dump.to_str().unwrap(), isf.to_str().unwrap());
    let ps = |cache: &Path| run(cache, &["ps", "--json", d, "--isf", i]);
    let (first, log) = ps(&cache);
    assert!(log.contains("task list walked"), "{log}");
    assert!(log.contains("from_cache=false"), "{log}");
    let lists = support::cache_dir::cached(&cache, "kernel", "tasks");
    assert_eq!(lists.len(), 1, "{lists:?}");
    let (second, log) = ps(&cache);
    assert_eq!(first, second);
    let walked = log
        .lines()
        .find(|l| l.contains("task list walked"))
        .unwrap();
    assert!(walked.contains("from_cache=true"), "{walked}");
    // Another open's answers come from the same cached list.
    let (maps, _) = run(&cache, &["maps", "--json", d, "--isf", i, "--pid", "1"]);
    assert!(maps.contains("\"start\""), "{maps}");

    // A list whose tasks' names were changed does not check out: walked again.
    let text = std::fs::read_to_string(&lists[0]).unwrap();
    let lie = text.replace("\"comm\":\"", "\"comm\":\"x");
    assert_ne!(lie, text);
    std::fs::write(&lists[0], lie).unwrap();
    let (third, log) = ps(&cache);
    assert_eq!(first, third);
    let walked = log
        .lines()
        .find(|l| l.contains("task list walked"))
        .unwrap();
    assert!(walked.contains("from_cache=false"), "{walked}");
    // Rewritten as the walk found it; garbage counts as absent.
    std::fs::write(&lists[0], b"[").unwrap();
    let (fourth, _) = ps(&cache);
    assert_eq!(first, fourth);
    let (kinds, _) = run(&cache, &["cache", "--json"]);
    assert!(kinds.contains("\"process-list\""), "{kinds}");
}
