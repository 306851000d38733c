#!/usr/bin/env bash
# Prepares what the tests would otherwise prepare on first use, so .ci/run can do it while
# clippy compiles: the guest plugins (tests/support_plugins.rs: `build_uncached`), the
# componentize-py venv (`build_python`) and the Confluent client venv
# (tests/all/confluent_clients.rs: `python`). The tests stay the source of truth: they check
# what is here and redo whatever is missing or stale, so a failure here only costs time.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# What the tests pin; read from their sources so the two cannot drift apart.
componentize=$(sed -n 's/^pub const COMPONENTIZE_PY: &str = "\(.*\)";/\1/p' tests/support_plugins.rs)

rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
(cd plugins && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
    cargo build --quiet --release --target wasm32-wasip2 --target-dir "$root/plugins/target") &
plugins=$!

venv=plugins/target/python-venv
if [ -n "$componentize" ] && [ ! -x "$venv/bin/componentize-py" ]; then
    mkdir -p plugins/target
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "$componentize"
fi

clients=target/client-venv
if ! cmp -s tests/clients/requirements.txt "$clients/installed-requirements.txt"; then
    python3 -m venv "$clients" &&
        "$clients/bin/pip" install --quiet --disable-pip-version-check -r tests/clients/requirements.txt &&
        cp tests/clients/requirements.txt "$clients/installed-requirements.txt"
fi
wait "$plugins"
