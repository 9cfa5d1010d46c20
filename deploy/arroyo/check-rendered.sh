#!/usr/bin/env bash
# Builds each UDF the way Arroyo's compiler service does: the rendered single file as
# src/lib.rs of a fresh crate named `udf` (edition 2021, cdylib, arroyo-udf-plugin =0.2.0),
# with the UDF workspace's Cargo.lock so versions match what the tests ran against, and the
# dependencies the file's leading `/* [dependencies] ... */` comment names (which is where
# Arroyo reads a UDF's dependencies from).
# Fails if a rendered definition does not compile or does not export `__run`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/udfs/target}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for dir in "$here"/udfs/*/; do
    name=$(basename "$dir")
    [ -f "$dir/Cargo.toml" ] || continue
    mkdir -p "$work/$name/src"
    cat >"$work/$name/Cargo.toml" <<TOML
[package]
name = "udf"
version = "1.0.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
arroyo-udf-plugin = "=0.2.0"
$(awk 'NR == 1 && $0 != "/*" { exit } NR > 2 && $0 == "*/" { exit } NR > 2 { print }' "$dir/src/lib.rs")

[workspace]
TOML
    bash "$here/render-udf.sh" "$name" >"$work/$name/src/lib.rs"
    cp "$here/udfs/Cargo.lock" "$work/$name/Cargo.lock"
    (cd "$work/$name" && cargo build --quiet --offline 2>&1) || {
        echo "error: the rendered $name does not compile as an Arroyo UDF" >&2
        exit 1
    }
    nm -D "$CARGO_TARGET_DIR/debug/libudf.so" | grep -q ' T __run$' || {
        echo "error: the rendered $name exports no __run" >&2
        exit 1
    }
    echo "rendered $name: compiles as an Arroyo UDF, exports __run"
done
