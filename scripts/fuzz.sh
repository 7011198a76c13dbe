#!/usr/bin/env bash
# The fuzz campaign (issue 15): every target of every fuzz crate under libFuzzer, one at a time.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 600); TARGETs limit the run to those names (default: all).
# For each target it builds the fuzz crate (cargo-fuzz on the stable toolchain, nightly flags
# enabled by RUSTC_BOOTSTRAP=1), fuzzes a scratch corpus seeded from the committed corpus and the
# real-file seeds, merges (minimises) the result back into the committed corpus
# `<fuzz dir>/corpus/<target>/`, capped (see docs/fuzzing.md), and prints executions, coverage
# (libFuzzer's `cov:` and `ft:`) and findings. Scratch corpora, logs and crash artifacts go to
# target/fuzz/ (ignored by git), never into the tree.
#
# Environment: SANITIZER (default address; `none` if ASan will not link), RSS_MB (default 1024),
# TIMEOUT (seconds per input before it counts as a hang, default 10), CARGO_BUILD_JOBS (default 1),
# CORPUS_MAX_FILES (200), CORPUS_MAX_FILE_BYTES (65536), CORPUS_MAX_BYTES (1048576), MAX_LEN
# (longest input libFuzzer builds, default 65536, so a 600 KB seed such as a dpkg status file
# does not slow a target to a few runs a second; longer seeds are fuzzed by their first MAX_LEN
# bytes; the `binary` target, whose seeds are whole executables, has no limit).
# Needs `cargo install cargo-fuzz --locked`. Exits non-zero if any target found something.
set -uo pipefail

SECONDS_PER_TARGET=${1:-600}
shift || true
ONLY=("$@")

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
SANITIZER=${SANITIZER:-address}
RSS_MB=${RSS_MB:-1024}
TIMEOUT=${TIMEOUT:-10}
CORPUS_MAX_FILES=${CORPUS_MAX_FILES:-200}
CORPUS_MAX_FILE_BYTES=${CORPUS_MAX_FILE_BYTES:-65536}
CORPUS_MAX_BYTES=${CORPUS_MAX_BYTES:-1048576}
MAX_LEN=${MAX_LEN:-65536}
OUT=$ROOT/target/fuzz
mkdir -p "$OUT"
SUMMARY=$OUT/summary.tsv
printf 'target\tfuzz_dir\tseconds\texecutions\tcov\tft\tcorpus_files\tcorpus_bytes\tfindings\n' >"$SUMMARY"

FUZZ_DIRS=(fuzz crates/custody-tlog/fuzz crates/custody-vuln/fuzz crates/custody-sbom/fuzz crates/custody-rebuild/fuzz)
SBOM_FIX=crates/custody-sbom/tests/fixtures

# Real files a target starts from, beyond its committed corpus: one path a line. A lockfile
# whose target takes a manifest after a NUL also gets "lockfile NUL manifest" seeds (see
# crates/custody-sbom/fuzz/fuzz_targets/common.rs), written by paired_seeds.
seed_files() {
    local dir=$1 target=$2
    case $dir in
    fuzz | crates/custody-tlog/fuzz) [ -d "$dir/seeds/$target" ] && find "$dir/seeds/$target" -type f ;;
    crates/custody-vuln/fuzz)
        case $target in
        osv_json) find testdata/advisories -name '*.json' ;;
        osv_yaml) find testdata/advisories -name '*.yaml' ;;
        rustsec_md) find testdata/advisories -name '*.md' ! -name README.md ;;
        esac
        ;;
    crates/custody-sbom/fuzz)
        case $target in
        cargo_lock) find $SBOM_FIX -name Cargo.lock ;;
        package_lock) find $SBOM_FIX -name package-lock.json ;;
        yarn_lock) find $SBOM_FIX -name yarn.lock ;;
        pnpm_lock) find $SBOM_FIX -name pnpm-lock.yaml ;;
        uv_lock) find $SBOM_FIX -name uv.lock ;;
        requirements) find $SBOM_FIX -name 'requirements*.txt' ;;
        dpkg_status) find $SBOM_FIX -path '*dpkg/status' ;;
        pipfile_lock) find $SBOM_FIX -name Pipfile.lock ;;
        poetry_lock) find $SBOM_FIX -name poetry.lock ;;
        gemfile_lock) find $SBOM_FIX -name Gemfile.lock ;;
        composer_lock) find $SBOM_FIX -name composer.lock ;;
        go_mod) find $SBOM_FIX -name go.mod ;;
        binary) find $SBOM_FIX/binary -type f ;;
        sbom) find $SBOM_FIX testdata -name '*.cdx.json' -o -name '*.spdx.json' 2>/dev/null ;;
        esac
        ;;
    esac
}

# "lockfile NUL manifest" seeds: the manifest a target reads after the NUL, per target.
manifest_for() {
    case $1 in
    cargo_lock) echo Cargo.toml ;;
    package_lock | yarn_lock | pnpm_lock) echo package.json ;;
    poetry_lock | uv_lock) echo pyproject.toml ;;
    gemfile_lock) echo Gemfile ;;
    composer_lock) echo composer.json ;;
    go_mod) echo go.sum ;;
    dpkg_status) echo os-release ;;
    esac
}

paired_seeds() {
    local dir=$1 target=$2 dest=$3 manifest f m i=0
    [ "$dir" = crates/custody-sbom/fuzz ] || return 0
    manifest=$(manifest_for "$target")
    [ -n "$manifest" ] || return 0
    while read -r f; do
        m=$(find "$(dirname "$f")" "$(dirname "$f")/../../etc" -maxdepth 1 -name "$manifest" 2>/dev/null | head -1)
        [ -n "$m" ] || continue
        { cat "$f"; printf '\0'; cat "$m"; } >"$dest/paired-$i"
        i=$((i + 1))
    done < <(seed_files "$dir" "$target")
}

# Keeps the committed corpus small: drops files over CORPUS_MAX_FILE_BYTES, then the largest
# files until both caps hold. Merge has already dropped inputs that add no coverage.
cap_corpus() {
    local c=$1 n bytes
    find "$c" -type f -size +"${CORPUS_MAX_FILE_BYTES}"c -delete
    while :; do
        n=$(find "$c" -type f | wc -l)
        bytes=$(du -sb "$c" | cut -f1)
        [ "$n" -le "$CORPUS_MAX_FILES" ] && [ "$bytes" -le "$CORPUS_MAX_BYTES" ] && break
        find "$c" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2- | xargs rm -f
    done
}

status=0
for dir in "${FUZZ_DIRS[@]}"; do
    targets=$(cargo fuzz list --fuzz-dir "$dir")
    if [ ${#ONLY[@]} -gt 0 ]; then
        wanted=""
        for t in $targets; do
            for o in "${ONLY[@]}"; do [ "$t" = "$o" ] && wanted="$wanted $t"; done
        done
        targets=$wanted
    fi
    [ -n "$targets" ] || continue
    echo "== building $dir (sanitizer $SANITIZER)"
    cargo fuzz build --fuzz-dir "$dir" --sanitizer "$SANITIZER" || exit 1
    for target in $targets; do
        corpus=$dir/corpus/$target
        work=$OUT/work/$target
        seeds=$OUT/seeds/$target
        artifacts=$OUT/artifacts/$target
        log=$OUT/logs/$target.log
        rm -rf "$work" "$seeds"
        mkdir -p "$corpus" "$work" "$seeds" "$artifacts" "$OUT/logs"
        cp -r "$corpus/." "$work/" 2>/dev/null
        seed_files "$dir" "$target" | while read -r f; do
            cp "$f" "$seeds/$(echo "$f" | tr / _)"
        done
        paired_seeds "$dir" "$target" "$seeds"
        echo "== $target: ${SECONDS_PER_TARGET}s from $(ls "$work" | wc -l) corpus files and $(ls "$seeds" | wc -l) seeds"
        before=$(ls "$artifacts" | wc -l)
        max_len=(-max_len="$MAX_LEN")
        [ "$target" = binary ] && max_len=()
        cargo fuzz run --fuzz-dir "$dir" --sanitizer "$SANITIZER" "$target" "$work" "$seeds" -- \
            -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
            -timeout="$TIMEOUT" "${max_len[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/" \
            >"$log" 2>&1
        rc=$?
        # Minimise: the committed corpus becomes the smallest set of the scratch corpus and the
        # seeds with the same coverage.
        merged=$OUT/merged/$target
        rm -rf "$merged" && mkdir -p "$merged"
        cargo fuzz run --fuzz-dir "$dir" --sanitizer "$SANITIZER" "$target" "$merged" "$work" "$seeds" -- \
            -merge=1 -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" -artifact_prefix="$artifacts/" \
            >"$OUT/logs/$target.merge.log" 2>&1
        [ -n "$(ls "$merged")" ] && cap_corpus "$merged"
        # Nothing left under the caps (the `binary` target's inputs are whole executables):
        # keep no corpus rather than an empty directory the replay test would reject.
        if [ -n "$(ls "$merged")" ]; then
            rm -rf "$corpus" && mkdir -p "$corpus" && cp "$merged"/* "$corpus/"
        else
            echo "   (no input under the corpus caps; $corpus not written)"
        fi
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
        new=$(($(ls "$artifacts" | wc -l) - before))
        findings=none
        if [ "$rc" -ne 0 ] || [ "$new" -gt 0 ]; then
            findings="exit $rc, $new new artifact(s) in ${artifacts#"$ROOT"/}: $(grep -m1 -oE 'ERROR: libFuzzer: [a-z-]+|panicked at [^ ]+|ERROR: AddressSanitizer: [a-z-]+' "$log" | head -1)"
            status=1
        fi
        files=$(ls "$corpus" | wc -l)
        bytes=$(du -sb "$corpus" | cut -f1)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$dir" "$SECONDS_PER_TARGET" \
            "${execs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" "$findings" >>"$SUMMARY"
        echo "   executions ${execs:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus $files files / $bytes bytes, findings: $findings"
    done
done
echo
column -t -s $'\t' "$SUMMARY"
exit $status
