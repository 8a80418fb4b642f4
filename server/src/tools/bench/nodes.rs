//! A fresh mesh of real node processes for one benchmark run, through the
//! same harness the tests and the launcher use.

use std::path::Path;

use crate::tools::harness::{MeshSpec, NodeProcess};

/// Starts `n` nodes (a mesh when n > 1) in `dir`, each with `extra` flags.
pub fn start(dir: &Path, n: usize, extra: &[&str]) -> anyhow::Result<Vec<NodeProcess>> {
    let mut spec = MeshSpec::new(&std::env::current_exe()?, dir, n);
    spec.args = extra.iter().map(|s| s.to_string()).collect();
    Ok(spec.start()?)
}
