//! Builds the guest plugins in `plugins/` (their own cargo workspace) for tests, once per test
//! process, and hands out their `.wasm` components.
//!
//! Meant to be moved as-is into the main crate's test support (`support::plugins`). Building
//! runs `cargo build --release --target wasm32-wasip2` in `plugins/` with the cached target dir
//! `plugins/target`; it installs the `wasm32-wasip2` target with rustup if it is missing. A
//! failed build FAILS the calling test with instructions; it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The rust target the guests are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// `plugins/` of this repository.
pub fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins")
}

/// Builds every guest (once per process) and returns the directory holding the `.wasm` files.
///
/// # Panics
/// If the target cannot be installed or a guest does not build; the message says what to run.
pub fn build() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_uncached) {
        Ok(dir) => dir.clone(),
        Err(message) => panic!("{message}"),
    }
}

/// The component bytes of the guest crate `name` (e.g. `"enrich-count"`).
///
/// # Panics
/// As [`build`], or if the crate produced no component.
pub fn wasm(name: &str) -> bytes::Bytes {
    let path = build().join(format!("{}.wasm", name.replace('-', "_")));
    match std::fs::read(&path) {
        Ok(bytes) => bytes.into(),
        Err(e) => panic!("guest `{name}` has no component at {}: {e}", path.display()),
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // Do not let the outer (host) build's settings leak into the guest build.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn ensure_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(out) = &installed
        && String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        other => Err(format!(
            "the `{TARGET}` target is missing and `rustup target add {TARGET}` failed ({other:?}).\n\
             Install it by hand (`rustup target add {TARGET}`) and re-run the tests."
        )),
    }
}

fn build_uncached() -> Result<PathBuf, String> {
    ensure_target()?;
    let dir = plugins_dir();
    let target_dir = dir.join("target");
    let out = cargo()
        .current_dir(&dir)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        .output()
        .map_err(|e| format!("cannot run cargo to build the guest plugins: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the guest plugins failed.\nReproduce with:\n    cd {} && cargo build \
             --release --target {TARGET}\n\ncargo said:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// componentize-py version known to work (PLUGINS.md §6).
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Builds `plugins/python-filter` (a `transform`) with componentize-py (installed from PyPI
/// into a venv under `plugins/target/python-venv` if missing) and returns the component.
/// Rebuilds only when the app or the WIT changed.
///
/// # Panics
/// If componentize-py cannot be installed or the build fails; the message says why.
pub fn python_filter() -> bytes::Bytes {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    python_component(&BUILT, "python-filter", "transform")
}

/// Builds `plugins/python-datagen` (a `source-connector`) like [`python_filter`].
///
/// # Panics
/// As [`python_filter`].
pub fn python_datagen() -> bytes::Bytes {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    python_component(&BUILT, "python-datagen", "source-connector")
}

fn python_component(
    built: &OnceLock<Result<PathBuf, String>>,
    app: &str,
    world: &str,
) -> bytes::Bytes {
    let path = match built.get_or_init(|| build_python(app, world)) {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    };
    match std::fs::read(path) {
        Ok(bytes) => bytes.into(),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn build_python(name: &str, world: &str) -> Result<PathBuf, String> {
    let plugins = plugins_dir();
    let target = plugins.join("target");
    let venv = target.join("python-venv");
    let tool = venv.join("bin").join("componentize-py");
    if !tool.exists() {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "creating a Python venv",
        )?;
        let pip = venv.join("bin").join("pip");
        run(
            Command::new(pip).args(["install", "--quiet", COMPONENTIZE_PY]),
            "installing componentize-py",
        )
        .map_err(|e| {
            format!(
                "{e}\nInstall it by hand: {} install {COMPONENTIZE_PY}",
                venv.join("bin/pip").display()
            )
        })?;
    }
    let app = plugins.join(name);
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
    let out = target.join(format!("{name}.wasm"));
    let inputs = std::fs::read_dir(&wit).map_err(|e| format!("{}: {e}", wit.display()))?;
    let newest_input = inputs
        .filter_map(|e| e.ok().and_then(|e| modified(&e.path())))
        .chain(modified(&app.join("app.py")))
        .max();
    if modified(&out).is_some_and(|built| Some(built) > newest_input) {
        return Ok(out);
    }
    let mut cmd = Command::new(&tool);
    cmd.current_dir(&app)
        .arg("-d")
        .arg(&wit)
        .args(["-w", world, "componentize", "app", "-o"])
        .arg(&out);
    run(
        &mut cmd,
        &format!("componentize-py (see plugins/{name}/README.md)"),
    )?;
    Ok(out)
}
