//! The kernel-object walkers on the synthetic kernel (`support::kernel_objects`, offsets
//! unlike a real kernel's): the module list in the 6.1 (`core_layout`) and 6.4+ (`mem[]`)
//! layouts, a loop in the list that must end, hidden modules found in the modules' memory
//! and not listed twice, the system-call table's hooks named by module, eBPF programs at
//! IDR indexes over two xarray levels, traced tasks; and on a checkpoint the capability is
//! absent and `podmortem modules` says so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::kernel::bpf::bpf_programs;
use podmortem::engine::kernel::hidden::hidden_modules;
use podmortem::engine::kernel::modules::modules;
use podmortem::engine::kernel::ptrace::traced;
use podmortem::engine::kernel::syscalls::check_syscalls;
use support::kernel_image::TaskImage;
use support::kernel_objects::{COMING, ModSpec, SYSCALLS, text};

/// Two listed modules (the second with parameters and taints) and one unlinked.
fn three_modules(mem_array: bool) -> (TaskImage, [u64; 3]) {
    let mut img = TaskImage::with_objects(mem_array);
    let a = img.add_module(0, &ModSpec::new("virtio_ring", 3), true);
    let mut spec = ModSpec::new("virtio_blk", 2);
    spec.params = vec!["queue_depth", "poll_queues"];
    spec.taints = (1 << 12) | (1 << 13);
    let b = img.add_module(1, &spec, true);
    let c = img.add_module(2, &ModSpec::new("diamorphine", 4), false);
    (img, [a.module, b.module, c.module])
}

#[test]
fn the_module_list_in_both_layouts() {
    for mem_array in [false, true] {
        let (img, [a, b, _]) = three_modules(mem_array);
        let w = modules(&img.k).unwrap();
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let names: Vec<&str> = w.items.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["virtio_ring", "virtio_blk"], "mem[] {mem_array}");
        let (ring, blk) = (&w.items[0], &w.items[1]);
        assert_eq!((ring.address, blk.address), (a, b));
        assert_eq!(ring.state, "live");
        assert_eq!(ring.base, support::kernel_objects::MODULES_AREA);
        assert_eq!(ring.text_size, 3 * 4096);
        assert_eq!(ring.size, 4 * 4096, "core: code and the data page");
        assert_eq!(blk.parameters, ["queue_depth", "poll_queues"]);
        assert_eq!(blk.taints, "OE");
        assert_eq!(ring.taints, "");
    }
}

#[test]
fn a_loop_in_the_module_list_ends_the_walk() {
    let mut img = TaskImage::with_objects(false);
    let a = img.add_module(0, &ModSpec::new("first", 1), true);
    let b = img.add_module(1, &ModSpec::new("second", 1), true);
    let c = img.add_module(2, &ModSpec::new("third", 1), true);
    img.link_module(c.module, a.module);
    let w = support::walkers::within_secs(10, move || modules(&img.k).unwrap());
    let names: Vec<&str> = w.items.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["first", "second", "third"]);
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    assert!(w.problems[0].contains("loop"), "{:?}", w.problems);
    let _ = b;
    // A module pointing at itself, and a NULL link.
    let mut img = TaskImage::with_objects(true);
    let a = img.add_module(0, &ModSpec::new("only", 1), true);
    img.link_module(a.module, a.module);
    let w = support::walkers::within_secs(10, move || modules(&img.k).unwrap());
    assert_eq!(w.items.len(), 1);
    assert!(w.problems[0].contains("loop"), "{:?}", w.problems);
    let mut img = TaskImage::with_objects(false);
    let a = img.add_module(0, &ModSpec::new("only", 1), true);
    let off = img.k.off("module", "list");
    img.k.w64(a.module + off, 0);
    let w = modules(&img.k).unwrap();
    assert_eq!(w.items.len(), 1);
    assert!(w.problems[0].contains("NULL"), "{:?}", w.problems);
}

#[test]
fn hidden_modules_are_found_once_and_listed_ones_are_not() {
    for mem_array in [false, true] {
        let (img, [_, _, hidden]) = three_modules(mem_array);
        let listed = modules(&img.k).unwrap();
        let scan = hidden_modules(&img.k, &listed.items).unwrap();
        assert!(scan.problems.is_empty(), "{:?}", scan.problems);
        assert_eq!(scan.area_from, "mod_tree");
        assert_eq!(scan.modules.len(), 1, "{:?}", scan.modules);
        assert_eq!(scan.modules[0].address, hidden);
        assert_eq!(scan.modules[0].name, "diamorphine");
        assert!(scan.scanned_bytes >= 3 * 4096);
    }
    // Nothing hidden: only listed modules in the area.
    let mut img = TaskImage::with_objects(false);
    img.add_module(0, &ModSpec::new("virtio", 2), true);
    assert!(hidden_besides_the_list(&img).is_empty());
}

/// The hidden modules `img`'s scan finds besides those on its module list.
fn hidden_besides_the_list(img: &TaskImage) -> Vec<podmortem::engine::kernel::modules::Module> {
    let listed = modules(&img.k).unwrap();
    hidden_modules(&img.k, &listed.items).unwrap().modules
}

#[test]
fn a_candidate_that_is_not_a_module_is_left_out() {
    let mut img = TaskImage::with_objects(false);
    // A word pointing back like mkobj.mod, but the name is not text and the state unknown.
    let fake = img.add_module(3, &ModSpec::new("x", 1), false);
    img.k
        .write(fake.module + img.k.off("module", "name"), b"\x01\x02\0");
    assert!(hidden_besides_the_list(&img).is_empty());
    let mut img = TaskImage::with_objects(false);
    let mut spec = ModSpec::new("odd_state", 1);
    spec.state = 9;
    img.add_module(3, &spec, false);
    assert!(hidden_besides_the_list(&img).is_empty());
    // A module caught loading is reported (its state says so).
    let mut img = TaskImage::with_objects(false);
    let mut spec = ModSpec::new("loading", 1);
    spec.state = COMING;
    img.add_module(3, &spec, false);
    let scan = hidden_modules(&img.k, &[]).unwrap();
    assert_eq!(scan.modules.len(), 1);
    assert_eq!(scan.modules[0].state, "coming");
}

#[test]
fn syscall_entries_outside_the_kernel_text_are_hooks() {
    let (mut img, _) = three_modules(false);
    let listed = modules(&img.k).unwrap().items;
    let check = check_syscalls(&img.k, &listed).unwrap();
    assert_eq!(check.tables.len(), 1);
    assert_eq!(check.tables[0].entries, SYSCALLS);
    assert_eq!(check.tables[0].length_from, "next symbol vdso_mapping");
    assert_eq!(check.hooks().count(), 0);
    // Entry 3 into a listed module's code, 7 into the unlinked one, 9 into no module.
    let blk = listed[1].base;
    let mut entries: Vec<u64> = (0..SYSCALLS).map(|i| text(0x1000 + i * 0x40)).collect();
    entries[3] = blk + 0x10;
    entries[7] = support::kernel_objects::MODULES_AREA + 2 * 0x10_0000 + 0x20;
    entries[9] = 0xffff_c900_0000_1000;
    img.set_syscalls(&entries);
    let check = check_syscalls(&img.k, &listed).unwrap();
    let hooks: Vec<_> = check.hooks().collect();
    assert_eq!(hooks.len(), 3, "{hooks:?}");
    assert_eq!((hooks[0].index, hooks[0].handler), (3, blk + 0x10));
    assert_eq!(hooks[0].module.as_deref(), Some("virtio_blk"));
    assert!(hooks[0].in_module_text);
    assert_eq!(hooks[1].index, 7);
    assert_eq!(
        hooks[1].module, None,
        "the unlinked module is not on the list"
    );
    assert_eq!(hooks[2].index, 9);
    assert_eq!(check.checked(), SYSCALLS);
}

#[test]
fn a_table_of_known_length_is_checked_past_a_zeroed_entry() {
    // The symbol's type says how many entries there are: a zeroed slot (no kernel address)
    // is reported, and does not end the check before the hook after it.
    let mut isf = support::kernel_objects::objects_isf_json(false);
    isf["symbols"]["sys_call_table"]["type"]["count"] = SYSCALLS.into();
    let mut img = TaskImage::with_objects_isf(&isf);
    let mut entries: Vec<u64> = (0..SYSCALLS).map(|i| text(0x1000 + i * 0x40)).collect();
    entries[4] = 0;
    entries[9] = 0xffff_c900_0000_1000;
    img.set_syscalls(&entries);
    let check = check_syscalls(&img.k, &[]).unwrap();
    assert_eq!(check.tables[0].length_from, "symbol type");
    assert_eq!(check.checked(), SYSCALLS);
    let hooks: Vec<_> = check.hooks().map(|h| (h.index, h.handler)).collect();
    assert_eq!(hooks, [(4, 0), (9, 0xffff_c900_0000_1000)]);
    // With the length guessed from the next symbol, the zeroed slot ends the table.
    let (mut img, _) = three_modules(false);
    img.set_syscalls(&entries);
    let check = check_syscalls(&img.k, &[]).unwrap();
    assert_eq!(check.checked(), 4);
    assert_eq!(check.hooks().count(), 0);
}

#[test]
fn ebpf_programs_are_read_from_both_xarray_levels() {
    ebpf_programs_are_read_from_both_levels(TaskImage::with_objects(false));
}

/// Before 4.20 an IDR is a radix tree (`radix_tree_root.rnode`, nodes tagged with low bit
/// 1, not 2): the same programs, the same checks. A sibling entry (a pointer into its own
/// node's slots) is no node.
#[test]
fn ebpf_programs_are_read_from_a_pre_4_20_radix_tree_idr() {
    let mut isf = support::kernel_objects::objects_isf_json(false);
    support::kernel_objects::radix_tree_idr(&mut isf);
    let mut img = TaskImage::with_objects_isf(&isf);
    img.add_bpf(3, 15, "first", None);
    let (head_at, node_type, tag) = support::kernel_objects::idr_tree(&img.k);
    let head = podmortem::engine::kernel::memory::KernelMemory::read_u64(&img.k, head_at).unwrap();
    assert_eq!(head & 3, 1);
    // A sibling entry in the root: internal, pointing at its own slot 5, which holds an
    // exceptional entry (low bits 10; read as a node, its low byte would be a shift of 10,
    // above the root's).
    let slots = img.k.off(node_type, "slots");
    let sibling = head - tag + slots + 8 * 5;
    img.k.w64(sibling, 0x100a);
    img.k.w64(head - tag + slots + 8 * 6, sibling | tag);
    let w = bpf_programs(&img.k).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].id, w[0].name.as_str()), (3, "first"));
    img.k.w64(head - tag + slots + 8 * 6, 0);
    img.k.w64(sibling, 0);
    img.k.w64(head - tag + slots, 0);
    img.k.w64(head_at, 0);
    ebpf_programs_are_read_from_both_levels(img);
}

/// Two programs in two leaves of `img`'s `prog_idr`, and a leaf that loops to the root.
fn ebpf_programs_are_read_from_both_levels(mut img: TaskImage) {
    assert!(bpf_programs(&img.k).unwrap().is_empty());
    let p1 = img.add_bpf(1, 15, "sd_devices", None);
    let p2 = img.add_bpf(70, 2, "hide_pid", Some("__x64_sys_getdents64"));
    let w = bpf_programs(&img.k).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    assert_eq!(w.len(), 2);
    assert_eq!((w[0].id, w[0].address), (1, p1));
    assert_eq!(w[0].prog_type, "BPF_PROG_TYPE_CGROUP_DEVICE");
    assert_eq!(w[0].name, "sd_devices");
    assert_eq!(w[0].attach_to, None);
    assert_eq!((w[1].id, w[1].address), (70, p2));
    assert_eq!(w[1].short_type(), "kprobe");
    assert_eq!(w[1].tag, "a55a000102030446");
    assert_eq!(w[1].attach_to.as_deref(), Some("__x64_sys_getdents64"));
    // A leaf that points back at the root: the walk ends with a problem.
    let (head_at, node_type, tag) = support::kernel_objects::idr_tree(&img.k);
    let head = podmortem::engine::kernel::memory::KernelMemory::read_u64(&img.k, head_at).unwrap();
    let slots = img.k.off(node_type, "slots");
    img.k.w64(head - tag + slots + 8 * 2, head);
    let w = support::walkers::within_secs(10, move || bpf_programs(&img.k).unwrap());
    assert_eq!(w.len(), 2);
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
}

#[test]
fn traced_tasks_name_their_tracer() {
    let mut img = TaskImage::with_objects(false);
    let init = img.add_task(1, "init", 0);
    let gdb = img.add_task(2, "gdb", init);
    let sshd = img.add_task(3, "sshd", init);
    let child = img.add_task(4, "prog", gdb);
    img.trace(sshd, gdb, init, 1);
    img.trace(child, gdb, gdb, 0x11);
    let tasks: Vec<(u32, String, u64)> = [
        (1, "init", init),
        (2, "gdb", gdb),
        (3, "sshd", sshd),
        (4, "prog", child),
    ]
    .into_iter()
    .map(|(p, c, t)| (p, c.to_string(), t))
    .collect();
    let w = traced(&img.k, &tasks).unwrap();
    assert!(w.problems.is_empty());
    assert_eq!(w.len(), 2);
    assert_eq!(
        (w[0].pid, w[0].tracer, w[0].real_parent),
        (3, Some(2), Some(1))
    );
    assert_eq!(w[0].tracer_comm.as_deref(), Some("gdb"));
    assert!(w[0].attached());
    assert_eq!((w[1].pid, w[1].tracer, w[1].ptrace), (4, Some(2), 0x11));
    assert!(!w[1].attached());
    assert_eq!((w[0].tids.clone(), w[0].thread_count), (vec![3], 1));
}

/// A tracer may hold one thread of a process and not its leader: every thread is read, and
/// a process is reported once with the threads traced.
#[test]
fn a_traced_thread_is_seen_when_its_leader_is_not() {
    let mut img = TaskImage::with_objects(false);
    let init = img.add_task(1, "init", 0);
    let injector = img.add_task(2, "injector", init);
    let java = img.add_task(10, "java", init);
    let gc = img.add_thread(java, 11, "GC Thread");
    img.add_thread(java, 12, "VM Thread");
    let worker = img.add_thread(java, 13, "worker");
    img.trace(gc, injector, init, 1);
    img.trace(worker, injector, init, 1);
    let tasks = vec![
        (1, "init".to_string(), init),
        (2, "injector".to_string(), injector),
        (10, "java".to_string(), java),
    ];
    let w = traced(&img.k, &tasks).unwrap();
    assert!(w.problems.is_empty(), "{:?}", w.problems);
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].pid, w[0].tracer), (10, Some(2)));
    assert_eq!(w[0].tracer_comm.as_deref(), Some("injector"));
    assert_eq!((w[0].tids.clone(), w[0].thread_count), (vec![11, 13], 4));
    assert!(w[0].attached());
}

#[test]
fn a_checkpoint_has_no_kernel_modules() {
    let ckpt = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo-checkpoint.tar");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podmortem"))
        .args(["modules", "--json"])
        .arg(&ckpt)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not available for this evidence: kernel modules"),
        "{err}"
    );
}
