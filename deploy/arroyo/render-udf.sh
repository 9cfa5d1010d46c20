#!/usr/bin/env bash
# Prints a UDF crate's lib.rs as the single file Arroyo's UDF editor and `POST /api/v1/udfs`
# take: each `#[path = "FILE"] mod NAME;` pair is replaced by `mod NAME { <FILE> }` inline
# (FILE relative to the crate's src/), so the definition needs no path dependency on the
# compiler service's machine.
#   bash deploy/arroyo/render-udf.sh round_amount_score > round_amount_score.rs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="${1:?usage: render-udf.sh <udf name, e.g. round_amount_score>}"
src="$here/udfs/$name/src"
lib="$src/lib.rs"
[ -f "$lib" ] || { echo "error: no UDF crate $name under $here/udfs" >&2; exit 1; }
grep -q '^#\[path = ' "$lib" || { echo "error: $lib has no '#[path = ...]' module to inline" >&2; exit 1; }
path=""
while IFS= read -r line; do
    if [[ "$line" =~ ^\#\[path\ =\ \"(.*)\"\]$ ]]; then
        path="$src/${BASH_REMATCH[1]}"
        [ -f "$path" ] || { echo "error: $lib names $path, which does not exist" >&2; exit 1; }
        continue
    fi
    if [ -n "$path" ]; then
        [[ "$line" =~ ^mod\ ([a-z0-9_]+)\;$ ]] || { echo "error: $lib: '#[path]' is not followed by 'mod NAME;'" >&2; exit 1; }
        echo "mod ${BASH_REMATCH[1]} {"
        cat "$path"
        echo '}'
        path=""
        continue
    fi
    printf '%s\n' "$line"
done <"$lib"
