//! The integration tests, linked once as one binary: each file of this folder is a module
//! (`cargo test`; one module: `cargo test --test integration cli::`). Fixture tests read
//! `../shared/fixtures` (or `$PODMORTEM_FIXTURES`) and skip when it is absent, unless
//! `PODMORTEM_REQUIRE_FIXTURES=1`.

mod support;

mod checkpoint_arch;
mod checkpoint_cache;
mod checkpoint_fixtures;
mod checkpoint_ghost;
mod checkpoint_parents;
mod checkpoint_saved;
mod checkpoint_tmpfs;
mod checkpoint_zombie;
mod clean_exit;
mod cli;
mod corruption;
mod criu_ghost_real;
mod criu_piggie_real;
mod demo_assets;
mod e2e_tmux;
mod evidence_untouched;
mod extract;
mod findings_durability;
mod findings_export;
mod isf_dwarf;
mod kernel_avml_cache;
mod kernel_dump;
mod kernel_files;
mod kernel_isf;
mod kernel_layout_cache;
mod kernel_own_symbols;
mod kernel_paging;
mod kernel_phys_cli;
mod kernel_physical;
mod kernel_physical_fixtures;
mod kernel_raw;
mod kernel_symbols;
mod kernel_task_list;
mod kernel_vma_hashes;
mod kernel_vmas;
mod kernel_walkers;
mod peer_diff;
mod peer_diff_fixtures;
mod scale_evidence;
mod search_in_place;
mod search_pieces;
mod synthetic_checkpoint;
mod terminal_safety;
mod triage;
mod triage_fixtures;
mod truncated_evidence;
mod tui_diff;
mod tui_hex_reads;
mod tui_node;
mod tui_perf;
mod tui_snapshots;
