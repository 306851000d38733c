#!/bin/sh
# Builds the Python filter plugin into ../target/python-filter.wasm.
#
#     ./build.sh            (from plugins/python-filter)
#
# Needs Python 3.10+ and componentize-py 0.25.1, installed into a local venv on first use.
set -eu
cd "$(dirname "$0")"
venv=../target/python-venv
if [ ! -x "$venv/bin/componentize-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet componentize-py==0.25.1
fi
"$venv/bin/componentize-py" -d ../../wit -w transform componentize app -o ../target/python-filter.wasm
echo "built ../target/python-filter.wasm"
