#!/usr/bin/env bash
# Builds the dmaverify fuzz target for ClusterFuzzLite / OSS-Fuzz and puts
# it, its dictionary, its seed corpus and the proofs' expectations file in
# $OUT.
#
# In the builder image $SRC/dmaverify is the checkout and precompile_swift
# sets SWIFTFLAGS for the chosen sanitizer. Outside Docker it runs as
#   OUT=$(mktemp -d) SRC=<dir holding dmaverify/, or anything> bash .clusterfuzzlite/build.sh
# and falls back to the checkout this script is in and to
# -sanitize=fuzzer (plus address when SANITIZER=address) with the coverage
# `dmaverify fuzz` builds with: no trace-cmp (FuzzCommand.coverage).
set -euo pipefail

: "${OUT:?set OUT to the output directory}"
if [ -f "${SRC:-/nonexistent}/dmaverify/Package.swift" ]; then
  root="$SRC/dmaverify"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi
cd "$root"

if command -v precompile_swift >/dev/null 2>&1; then
  # shellcheck disable=SC1091
  . precompile_swift
fi
if [ -z "${SWIFTFLAGS:-}" ]; then
  sanitizers="fuzzer"
  if [ "${SANITIZER:-}" = "address" ]; then sanitizers="fuzzer,address"; fi
  SWIFTFLAGS="-Xswiftc -sanitize=$sanitizers -Xswiftc -sanitize-coverage=edge,indirect-calls,inline-8bit-counters,pc-table"
fi
scratch="${WORK:-$root}/.build-cflite"

# shellcheck disable=SC2086
swift build -c release --scratch-path "$scratch" --product fuzz $SWIFTFLAGS -Xswiftc -DFUZZING

cp "$scratch/release/fuzz" "$OUT/dmaverify_fuzz"
cp corpus/fuzz.dict "$OUT/dmaverify_fuzz.dict"
# The DMA properties the target requires (FuzzCore's DMAClaims): runners have
# no checkout, so the target finds the file beside itself.
cp proofs/expectations.txt "$OUT/expectations.txt"
# Seed corpus: the committed seeds (libFuzzer reads every file as an input).
python3 - "$OUT/dmaverify_fuzz_seed_corpus.zip" corpus/fuzz <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    for name in sorted(os.listdir(sys.argv[2])):
        if not name.startswith("."):
            archive.write(os.path.join(sys.argv[2], name), name)
PY
printf '[libfuzzer]\nmax_len = 770\n' > "$OUT/dmaverify_fuzz.options"
echo "built $OUT/dmaverify_fuzz"
