//! A checkpoint with a dead task (a zombie) and a stopped one: ../shared/fixtures/criu-zombie
//! (podman, CRIU 4.2), against crit's golden outputs. crit mislabels the states (it calls
//! the stopped task "Zombie" and leaves the zombie's state a bare 2) and crashes on the
//! zombie's missing images; podmortem names all three tasks and their states, and says why
//! the zombie has no memory or files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::support;

use podmortem::engine::checkpoint::Checkpoint;
use podmortem::engine::evidence::Evidence;
use serde_json::Value;

fn open() -> Option<(std::path::PathBuf, Checkpoint)> {
    let dir = support::fixture("criu-zombie")?;
    let ck = Checkpoint::open(&dir.join("zombie-stopped.tar")).unwrap();
    Some((dir, ck))
}

#[test]
fn zombie_and_stopped_tasks_as_crit_records_them() {
    let Some((dir, ck)) = open() else { return };
    let procs = ck.processes().unwrap();
    // pstree: the same pids, parents, groups and sessions as crit's.
    let golden: Value =
        serde_json::from_slice(&std::fs::read(dir.join("golden/pstree.json")).unwrap()).unwrap();
    let tree: Vec<(u64, u64, u64, u64)> = golden["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().unwrap();
            (n("pid"), n("ppid"), n("pgid"), n("sid"))
        })
        .collect();
    let ours: Vec<(u64, u64, u64, u64)> = procs
        .iter()
        .map(|p| {
            (
                u64::from(p.pid),
                u64::from(p.ppid),
                u64::from(p.pgid),
                u64::from(p.sid),
            )
        })
        .collect();
    assert_eq!(ours, tree);
    // core images (crit's summary: comm, task_state, exit_code as a wait status).
    let summary = std::fs::read_to_string(dir.join("golden/core-summary.txt")).unwrap();
    for line in summary.lines() {
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap()
                .trim_matches('\'')
                .to_string()
        };
        let pid: u32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let p = procs.iter().find(|p| p.pid == pid).unwrap();
        assert_eq!(p.comm, field("comm="), "pid {pid}");
        let status: u32 = field("exit_code=").parse().unwrap();
        match field("task_state=").as_str() {
            "Alive" => assert_eq!((p.state.as_str(), p.exit_code), ("alive", None)),
            // crit's label for CRIU's TASK_STOPPED (3).
            "Zombie" => assert_eq!((p.state.as_str(), p.exit_code), ("stopped", None)),
            // TASK_DEAD: how CRIU stores a zombie; the wait status 7 << 8 is exit code 7.
            "2" => {
                assert_eq!(p.state, "dead");
                assert_eq!(p.exit_code, Some(status >> 8));
                assert_eq!(p.exit_code, Some(7));
            }
            other => panic!("unexpected state {other} in the golden"),
        }
    }
    // The zombie: its own pid as its one thread, no credentials recorded, and its empty
    // memory and file lists say why.
    let zombie = procs.iter().find(|p| p.pid == 6).unwrap();
    assert_eq!(
        zombie.threads.iter().map(|t| t.tid).collect::<Vec<_>>(),
        [6]
    );
    assert_eq!(zombie.threads[0].comm, "sh");
    assert_eq!(zombie.uid, None);
    let maps = ck.maps(6).unwrap();
    assert!(maps.items.is_empty());
    assert!(
        maps.problems[0].contains("dead task"),
        "{:?}",
        maps.problems
    );
    let files = ck.files(6).unwrap();
    assert!(files.items.is_empty());
    assert!(files.problems[0].contains("dead task"));
    // Nothing missing: no `core-0.img` looked for; `--network none` is not a warning.
    assert!(ck.info().warnings.is_empty(), "{:?}", ck.info().warnings);
    // The live and the stopped task have their memory: the environment from both pages files.
    for pid in [1, 7] {
        let env = ck.environment(pid).unwrap();
        assert!(
            env.iter().any(|v| v == "ZOMBIE_CASE=1"),
            "pid {pid}: {env:?}"
        );
        assert!(!ck.maps(pid).unwrap().items.is_empty());
    }
    assert_eq!(procs[0].cmdline, ["sleep", "100000"]);
    assert_eq!(procs[2].cmdline, ["sleep", "200000"]);
}
