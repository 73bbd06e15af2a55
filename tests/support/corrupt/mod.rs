//! The corruption corpus: deterministic mutations of the shared fixtures (truncations, flipped
//! header bytes, huge size fields, bad magics, zeroed page tables, a looping task list, a maple
//! node that points to itself, wrong or damaged ISFs), a runner that executes the real binary
//! on each under a wall-clock timeout and an address-space limit, and the classification of
//! what it did (ok, clean error, panic, hang, over-allocation).
//!
//! Mutated files live under `target/corruption/<set>/`, never next to the fixtures. Small
//! evidence (the checkpoint tar and its extracted folder) is rewritten per mutation; the big
//! dumps are copied once per set and patched in place, the original bytes written back after
//! each mutation (a `dirty` marker makes an interrupted run copy them again).
//!
//! Layout: `model` (RNG, subjects, edits, mutations), `checkpoint` (tar and CRIU image
//! mutations), `dump` (physical maps, kernel dump mutations), `isf` (ISF reading, editing and
//! mutations), `run` (outcomes, the limited runner, the table), `workspace` (materialising
//! mutations, the commands run on each).

mod checkpoint;
mod dump;
mod isf;
mod model;
mod run;
mod workspace;

// Each test binary compiles `mod support;` and uses only part of it, so some of these
// public paths go unused in any one binary (as items do, hence `dead_code` allowed).
#[allow(unused_imports)]
pub use self::{
    checkpoint::{TarMember, checkpoint_mutations, tar_members},
    dump::{DumpFacts, PhysMap, dump_facts, dump_mutations},
    isf::{Isf, edit_isf, isf_bytes, isf_mutations},
    model::{Edit, IsfEdit, Mutation, Patches, Rng, Subject, apply},
    run::{Outcome, Run, classify, run_limited, table},
    workspace::{Prepared, Sources, Workspace, commands},
};
