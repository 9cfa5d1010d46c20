#!/usr/bin/env bash
# Applies deploy/clickhouse/migrations/*.sql to a ClickHouse server over HTTP — the reference
# implementation of the file format that the Rust migrator follows (README.md beside this file).
#
#   apply-migrations.sh                    apply pending migrations to $CLICKHOUSE_URL
#   apply-migrations.sh --render X.Y FILE  print FILE rendered for server version X.Y (no server)
#   apply-migrations.sh --status           list applied migrations
#
# CLICKHOUSE_URL defaults to http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}/ (user `default`).
# Needs bash, curl, perl, sha256sum.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
MIGRATIONS="${MIGRATIONS_DIR:-${HERE}/migrations}"
URL="${CLICKHOUSE_URL:-http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}/}"

# render MAJOR MINOR < file : drops `--` comment lines, then replaces {{v>=A.B:NEW|OLD}} by NEW
# when MAJOR.MINOR >= A.B and by OLD otherwise; any `{{` left over is an error.
render() {
    MAJOR="$1" MINOR="$2" perl -0777 -pe '
        s/^[ \t]*--.*\n//mg;
        s/\{\{v>=(\d+)\.(\d+):([^{}|]*)\|([^{}|]*)\}\}/
            ($ENV{MAJOR} > $1 || ($ENV{MAJOR} == $1 && $ENV{MINOR} >= $2)) ? $3 : $4/ge;
        die "unrendered placeholder: $&\n" if m{\{\{.*?(\}\}|\n)};
    '
}

# applies MAJOR MINOR < file : 0 when the file'"'"'s `-- requires-server:` lines allow the version.
applies() {
    MAJOR="$1" MINOR="$2" perl -ne '
        BEGIN { $ok = 1 }
        if (/^--\s*requires-server:\s*(>=|<)\s*(\d+)\.(\d+)\s*$/) {
            $ge = ($ENV{MAJOR} > $2 || ($ENV{MAJOR} == $2 && $ENV{MINOR} >= $3));
            $ok = 0 if ($1 eq ">=" ? !$ge : $ge);
        }
        END { exit($ok ? 0 : 1) }
    '
}

# statements < rendered : NUL-separated statements (split at `;` ending a line).
statements() {
    perl -0777 -ne '
        for my $s (split /;[ \t]*(?:\n|\z)/) {
            $s =~ s/^\s+|\s+$//g;
            print "$s\0" if length $s;
        }
    '
}

# query SQL [< body] : runs one statement, prints the answer, fails with the server message.
query() {
    local out code
    out="$(mktemp)"
    code="$(curl -sS -o "${out}" -w '%{http_code}' --data-binary "$1" "${URL}")" || { rm -f "${out}"; return 1; }
    if [[ "${code}" != 200 ]]; then
        echo "apply-migrations: HTTP ${code} for: $1" >&2
        cat "${out}" >&2
        rm -f "${out}"
        return 1
    fi
    cat "${out}"
    rm -f "${out}"
}

if [[ "${1:-}" == "--render" ]]; then
    IFS=. read -r major minor _ <<<"$2"
    if applies "${major}" "${minor}" <"$3"; then render "${major}" "${minor}" <"$3"; else echo "-- (skipped on $2)"; fi
    exit 0
fi

server_version="$(query 'SELECT version()')"
IFS=. read -r major minor _ <<<"${server_version}"

if [[ "${1:-}" == "--status" ]]; then
    query "SELECT version, name, server_version, applied_at FROM verocta.schema_migrations FINAL ORDER BY version FORMAT PrettyCompactMonoBlock"
    exit 0
fi

applied=""
for file in "${MIGRATIONS}"/[0-9][0-9][0-9][0-9]_*.sql; do
    name="$(basename "${file}")"
    version=$((10#${name%%_*}))
    checksum="$(sha256sum "${file}" | cut -d' ' -f1)"
    if ! applies "${major}" "${minor}" <"${file}"; then
        echo "skip ${name} (not for server ${server_version})" >&2
        continue
    fi
    if [[ ${version} -gt 0 ]]; then
        [[ -n "${applied}" ]] || applied="$(query "SELECT version, checksum FROM verocta.schema_migrations FINAL FORMAT TSV")"
        recorded="$(awk -F'\t' -v v="${version}" '$1 == v {print $2}' <<<"${applied}")"
        if [[ -n "${recorded}" ]]; then
            if [[ "${recorded}" != "${checksum}" ]]; then
                echo "apply-migrations: ${name} was applied with checksum ${recorded}, the file now has ${checksum}; write a new migration instead of editing an applied one" >&2
                exit 1
            fi
            continue
        fi
    fi
    rendered="$(render "${major}" "${minor}" <"${file}")"
    rendered_sha="$(printf '%s' "${rendered}" | sha256sum | cut -d' ' -f1)"
    start_ms=$(($(date +%s%N) / 1000000))
    count=0
    while IFS= read -r -d '' statement; do
        query "${statement}" >/dev/null
        count=$((count + 1))
    done < <(printf '%s' "${rendered}" | statements)
    duration=$(($(date +%s%N) / 1000000 - start_ms))
    query "INSERT INTO verocta.schema_migrations (version, name, checksum, rendered_sha256, server_version, statements, duration_ms, applied_by, applied_at_us) VALUES (${version}, '${name}', '${checksum}', '${rendered_sha}', '${server_version}', ${count}, ${duration}, 'apply-migrations.sh', $(($(date +%s%N) / 1000)))" >/dev/null
    echo "applied ${name} (${count} statements, ${duration} ms)" >&2
done
