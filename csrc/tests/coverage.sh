#!/bin/sh
# Line coverage of the C core from the counts `make coverage` left in
# COVDIR: plain gcov, no other dependency.
#   sh tests/coverage.sh COVDIR EXCLUSIONS FILE.c...
# Prints, per file, the executed lines of all executable ones and every
# line never executed (number, function, text).  Lines listed in
# EXCLUSIONS (tests/COVERAGE.md, entries "- `file.c` `function`: `code`")
# are left out of both counts: an entry matches each unexecuted line of
# that function whose trimmed text is exactly `code`.  Exits non-zero when
# a file is below COVERAGE_MIN (default 95) percent.  GCOV: the gcov to
# run (default gcov; it must match the compiler, e.g. gcov-12 for gcc-12).
set -eu
covdir=$1
exclusions=$2
shift 2
floor=${COVERAGE_MIN:-95}
srcdir=$(pwd)

# "file<TAB>function<TAB>code" for every exclusion entry.
excluded=$(sed -n 's/^- `\([^`]*\.c\)` `\([^`]*\)`: `\([^`]*\)`.*$/\1	\2	\3/p' "$exclusions")

cd "$covdir"
status=0
for f in "$@"; do
    if [ ! -f "${f%.c}.gcda" ]; then
        echo "$f: no coverage data (${f%.c}.gcda) in $covdir" >&2
        status=1
        continue
    fi
    # -b: the annotated file names the function each line belongs to.
    "${GCOV:-gcov}" -b -o . "$srcdir/$f" >/dev/null
    printf '%s\n' "$excluded" | awk -F'\t' -v file="$f" -v floor="$floor" '
        function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
        # Exclusion entries first (stdin), then the .gcov file.
        FILENAME == "-" {
            if ($1 == file) { excl[$2 SUBSEP $3] = 1; used[$2 SUBSEP $3] = 0 }
            next
        }
        /^function / { fn = $0; sub(/^function /, "", fn); sub(/ .*/, "", fn); next }
        !/^ *([0-9]+\*?|-|#####|=====):/ { next } # branch and call lines of -b
        {
            # "count:lineno:source"; the source may hold colons itself.
            c = index($0, ":"); count = trim(substr($0, 1, c - 1)); rest = substr($0, c + 1)
            c = index(rest, ":"); lineno = trim(substr(rest, 1, c - 1)); text = substr(rest, c + 1)
            if (lineno == 0 || count == "-") next
            if (count == "#####" || count == "=====") {
                key = fn SUBSEP trim(text)
                where = sprintf("%5d %-22s %s", lineno, fn, trim(text))
                if (key in excl) { used[key]++; nex++; ex[nex] = where; next }
                total++; nmiss++; missed[nmiss] = where
            } else {
                total++; hit++
            }
        }
        END {
            if (total + nex == 0) {
                print file ": no executable lines in " file ".gcov (source not found?)"
                exit 1
            }
            pct = total > 0 ? 100 * hit / total : 100
            printf "%-11s %4d of %4d lines executed: %6.2f%% (%d more excluded, tests/COVERAGE.md)",
                file, hit, total, pct, nex
            printf "%s\n", pct + 1e-9 < floor ? "  BELOW " floor "%" : ""
            for (i = 1; i <= nmiss; i++) print "    not executed " missed[i]
            for (i = 1; i <= nex; i++) print "    excluded     " ex[i]
            for (key in used) if (used[key] == 0) {
                split(key, k, SUBSEP)
                print "    (exclusion not needed in this run: " k[1] ": " k[2] ")"
            }
            exit pct + 1e-9 < floor ? 1 : 0
        }' - "$f.gcov" || status=1
done
exit $status
