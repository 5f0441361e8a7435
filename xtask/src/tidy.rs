//! Architecture invariants and hygiene checks, run by `cargo xtask tidy` and as a `#[test]`.
//!
//! The crate stack (ARCHITECTURE.md, "Invariants"):
//! `relu-core ← relu-nn ← relu-pretrain`, `relu-nn ← relu-experiment`, `relu-data → relu-core`, `relu-cli → all`,
//! `xtask → none`. Any other edge between workspace crates, of any dependency kind, is an error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Workspace crates each crate may depend on. `None` means any.
fn allowed(name: &str) -> Option<Option<&'static [&'static str]>> {
    Some(match name {
        "relu-core" => Some(&[]),
        "relu-data" => Some(&["relu-core"]),
        "relu-nn" => Some(&["relu-core"]),
        "relu-pretrain" => Some(&["relu-nn", "relu-core"]),
        "relu-experiment" => Some(&["relu-nn", "relu-core"]),
        "relu-cli" => None,
        "xtask" => Some(&[]),
        _ => return None,
    })
}

/// Library crates: docs are mandatory and `anyhow` is not allowed.
const LIBRARIES: [&str; 5] = ["relu-core", "relu-data", "relu-nn", "relu-pretrain", "relu-experiment"];

/// Runs every check and returns the problems found (empty when tidy).
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let meta = locked_metadata(root)?;
    let packages = workspace_packages(&meta)?;
    problems.extend(check_stack(&packages));
    for p in &packages {
        if LIBRARIES.contains(&p.name.as_str()) {
            if p.deps.iter().any(|(d, kind)| d == "anyhow" && kind != "dev") {
                problems.push(format!("{}: library crates report errors with their own thiserror enum, not anyhow", p.name));
            }
            let lib = p.dir.join("src/lib.rs");
            let text = std::fs::read_to_string(&lib).with_context(|| format!("reading {}", lib.display()))?;
            if !text.contains("#![deny(missing_docs)]") {
                problems.push(format!("{}: src/lib.rs must have #![deny(missing_docs)]", p.name));
            }
        }
    }
    problems.extend(check_no_ignored_tests(root)?);
    problems.extend(rust_version_problems(&meta));
    Ok(problems)
}

/// `cargo metadata` of the whole locked dependency graph on this host (offline: every crate the
/// build needs is already downloaded).
fn locked_metadata(root: &Path) -> Result<serde_json::Value> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc).arg("-vV").output().with_context(|| format!("running {rustc} -vV"))?;
    let text = String::from_utf8_lossy(&version.stdout);
    let host = text.lines().find_map(|l| l.strip_prefix("host: ")).context("rustc -vV printed no host")?.trim().to_owned();
    let out = Command::new(crate::cargo())
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", &host])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata --locked failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("parsing cargo metadata")
}

/// `1.87`, `1.87.0` → (1, 87, 0).
fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0), parts.next().flatten().unwrap_or(0)))
}

/// The workspace's `rust-version` must be declared on every member and be at least every locked
/// dependency's own `rust-version`: a user with exactly that toolchain can then build the lock
/// file (Cargo.lock once held nalgebra 0.34.2, which needs 1.87, under a README that said 1.85).
fn rust_version_problems(meta: &serde_json::Value) -> Vec<String> {
    let members: BTreeSet<&str> = meta["workspace_members"].as_array().into_iter().flatten().filter_map(|m| m.as_str()).collect();
    let packages = meta["packages"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut problems = Vec::new();
    let mut declared = None;
    for p in packages.iter().filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id))) {
        match p["rust_version"].as_str().and_then(parse_version) {
            Some(v) => declared = Some(declared.map_or(v, |d: (u32, u32, u32)| d.min(v))),
            None => problems.push(format!("{}: no rust-version (set rust-version.workspace = true)", p["name"])),
        }
    }
    let Some(declared) = declared else {
        problems.push("no workspace member declares a rust-version".to_owned());
        return problems;
    };
    for p in packages.iter().filter(|p| p["id"].as_str().is_some_and(|id| !members.contains(id))) {
        if let Some(v) = p["rust_version"].as_str().and_then(parse_version)
            && v > declared
        {
            problems.push(format!(
                "{} {} needs Rust {}.{}.{} but the workspace's rust-version is {}.{}.{}: raise rust-version (and the README's toolchain line) or pin an older version",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?"),
                v.0,
                v.1,
                v.2,
                declared.0,
                declared.1,
                declared.2
            ));
        }
    }
    problems
}

#[derive(Debug)]
struct Package {
    name: String,
    dir: PathBuf,
    /// (dependency name, kind) with kind "normal", "dev" or "build".
    deps: Vec<(String, String)>,
}

/// The workspace members of `meta` (from [`locked_metadata`]) with their dependency edges.
fn workspace_packages(meta: &serde_json::Value) -> Result<Vec<Package>> {
    let members: BTreeSet<&str> = meta["workspace_members"].as_array().into_iter().flatten().filter_map(|m| m.as_str()).collect();
    let mut packages = Vec::new();
    let all = meta["packages"].as_array().context("metadata has no packages")?;
    for p in all.iter().filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id))) {
        let name = p["name"].as_str().context("package without name")?.to_owned();
        let manifest = PathBuf::from(p["manifest_path"].as_str().context("package without manifest")?);
        let deps = p["dependencies"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| Some((d["name"].as_str()?.to_owned(), d["kind"].as_str().unwrap_or("normal").to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        packages.push(Package { name, dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(), deps });
    }
    Ok(packages)
}

fn check_stack(packages: &[Package]) -> Vec<String> {
    let members: BTreeSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let mut problems = Vec::new();
    for p in packages {
        let Some(rule) = allowed(&p.name) else {
            problems.push(format!("{}: not in the crate stack; add it to ARCHITECTURE.md and xtask/src/tidy.rs", p.name));
            continue;
        };
        for (dep, kind) in &p.deps {
            if !members.contains(dep.as_str()) {
                continue;
            }
            if let Some(ok) = rule
                && !ok.contains(&dep.as_str())
            {
                problems.push(format!("{} must not depend on {dep} ({kind} dependency): the stack allows {:?}", p.name, ok));
            }
        }
    }
    problems
}

/// No test may be skipped with the ignore attribute: a test that cannot run is deleted or fixed.
fn check_no_ignored_tests(root: &Path) -> Result<Vec<String>> {
    // Built from pieces so this file does not match itself.
    let needle = format!("#[{}", "ignore");
    let mut problems = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("xtask")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                for (i, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with(&needle) {
                        problems.push(format!("{}:{}: ignored test", path.display(), i + 1));
                    }
                }
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace itself must be tidy.
    #[test]
    fn workspace_is_tidy() {
        let root = crate::project_root();
        // The checks see every workspace crate (an empty list would pass them vacuously).
        let packages = workspace_packages(&locked_metadata(&root).unwrap()).unwrap();
        let names: BTreeSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["relu-cli", "relu-core", "relu-data", "relu-experiment", "relu-nn", "relu-pretrain", "xtask"]));
        assert!(packages.iter().any(|p| p.name == "relu-nn" && p.deps.iter().any(|(d, _)| d == "relu-core")));
        let problems = check(&root).expect("tidy ran");
        assert!(problems.is_empty(), "tidy problems:\n{}", problems.join("\n"));
    }

    /// A dependency that needs a newer Rust than the workspace declares is reported; one at or
    /// below it is not.
    #[test]
    fn rust_version_check_compares_every_locked_dependency() {
        let meta = |dep_needs: &str| {
            serde_json::json!({
                "workspace_members": ["ws 0.1.0"],
                "packages": [
                    {"id": "ws 0.1.0", "name": "relu-core", "version": "0.1.0", "rust_version": "1.85"},
                    {"id": "na 0.34.2", "name": "nalgebra", "version": "0.34.2", "rust_version": dep_needs},
                    {"id": "old 1.0.0", "name": "old", "version": "1.0.0", "rust_version": null},
                ]
            })
        };
        let p = rust_version_problems(&meta("1.87"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("nalgebra 0.34.2 needs Rust 1.87.0") && p[0].contains("1.85.0"), "{}", p[0]);
        assert!(rust_version_problems(&meta("1.85.0")).is_empty());
        assert!(rust_version_problems(&meta("1.60")).is_empty());
        let undeclared = serde_json::json!({"workspace_members": ["ws"], "packages": [{"id": "ws", "name": "x", "rust_version": null}]});
        assert!(!rust_version_problems(&undeclared).is_empty());
    }

    /// The stack check rejects a forbidden edge (data → nn) and an unknown crate.
    #[test]
    fn stack_check_rejects_bad_edges() {
        let pkg = |name: &str, deps: &[&str]| Package {
            name: name.into(),
            dir: PathBuf::new(),
            deps: deps.iter().map(|d| ((*d).to_owned(), "normal".to_owned())).collect(),
        };
        let good = [pkg("relu-core", &["nalgebra"]), pkg("relu-nn", &["relu-core"]), pkg("relu-data", &["relu-core"])];
        assert!(check_stack(&good).is_empty());
        let bad = [pkg("relu-core", &[]), pkg("relu-nn", &["relu-core"]), pkg("relu-data", &["relu-core", "relu-nn"])];
        let p = check_stack(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("relu-data must not depend on relu-nn"));
        let core_up = [pkg("relu-core", &["relu-nn"]), pkg("relu-nn", &["relu-core"])];
        assert_eq!(check_stack(&core_up).len(), 1);
        assert_eq!(check_stack(&[pkg("relu-extra", &[])]).len(), 1);
    }
}
