#!/usr/bin/env bash
# Prints a UDF crate's lib.rs as the single file Arroyo's UDF editor and `POST /api/v1/udfs`
# take: the `#[path] mod amounts;` line is replaced by the shared file's contents inline, so
# the definition needs no path dependency on the compiler service's machine.
#   bash deploy/arroyo/render-udf.sh round_amount_score > round_amount_score.rs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="${1:?usage: render-udf.sh <udf name, e.g. round_amount_score>}"
lib="$here/udfs/$name/src/lib.rs"
shared="$here/../../models/src/anomaly/amounts.rs"
[ -f "$lib" ] || { echo "error: no UDF crate $name under $here/udfs" >&2; exit 1; }
grep -q '^mod amounts;$' "$lib" || { echo "error: $lib has no 'mod amounts;' line to inline" >&2; exit 1; }
while IFS= read -r line; do
    case "$line" in
        '#[path = '*) ;;
        'mod amounts;')
            echo 'mod amounts {'
            cat "$shared"
            echo '}'
            ;;
        *) printf '%s\n' "$line" ;;
    esac
done <"$lib"
