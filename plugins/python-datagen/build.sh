#!/bin/sh
# Builds the Python datagen source connector into ../target/python-datagen.wasm.
#
#     ./build.sh            (from plugins/python-datagen)
#
# Needs Python 3.10+ and componentize-py 0.25.1, installed into a local venv on first use (the
# same venv as python-filter's).
set -eu
cd "$(dirname "$0")"
venv=../target/python-venv
if [ ! -x "$venv/bin/componentize-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet componentize-py==0.25.1
fi
"$venv/bin/componentize-py" -d ../../wit -w source-connector componentize app -o ../target/python-datagen.wasm
echo "built ../target/python-datagen.wasm"
