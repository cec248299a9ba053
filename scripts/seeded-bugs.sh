# Sourced by scripts/mutation-score and scripts/fuzz-detect: the seeded
# bugs by name, HEAD in a worktree, and dmaverify built with the hooks.

SEEDED_BUG_REGISTRY=Sources/Spec/SeededBugs/SeededBug.swift

# name<TAB>case<TAB>re-creates<TAB>description, one line per seeded bug, from
# the registry's doc comments (the one place each bug is described).
seeded_bugs_table() {
  awk '
    /^  \/\/\/ / { line = substr($0, 7); doc = doc (doc == "" ? "" : " ") line; next }
    /^  case [A-Za-z0-9]+ = "[^"]+"/ {
      match($0, /case [A-Za-z0-9]+/); name_case = substr($0, RSTART + 5, RLENGTH - 5)
      match($0, /"[^"]+"/); name = substr($0, RSTART + 1, RLENGTH - 2)
      re = doc; sub(/^Re-creates: /, "", re); sub(/\. .*/, "", re)
      rest = doc; sub(/^Re-creates: /, "", rest); rest = substr(rest, length(re) + 3)
      printf "%s\t%s\t%s\t%s\n", name, name_case, re, rest; doc = ""; next }
    { doc = "" }' "$SEEDED_BUG_REGISTRY"
}

# select_seeded_bugs PROGRAM [NAME...]: sets SEEDED_TABLE (the table above)
# and BUGS (the names given, or every bug); an unknown name ends the script
# with 64 and the list of names.
select_seeded_bugs() {
  local program=$1 b; shift
  SEEDED_TABLE=$(seeded_bugs_table)
  [ -n "$SEEDED_TABLE" ] || { echo "$program: no seeded bugs found in $SEEDED_BUG_REGISTRY" >&2; exit 1; }
  if [ $# -gt 0 ]; then BUGS=("$@"); else mapfile -t BUGS < <(cut -f1 <<<"$SEEDED_TABLE"); fi
  for b in "${BUGS[@]}"; do
    grep -q "^$b	" <<<"$SEEDED_TABLE" \
      || { echo "$program: $b: no such seeded bug; known: $(cut -f1 <<<"$SEEDED_TABLE" | tr '\n' ' ')" >&2; exit 64; }
  done
}

# head_worktree DIRECTORY: the directory holds HEAD, clean (created as a
# worktree the first time, reused after, so a scratch path's incremental
# state stays valid); sets HEAD_SHA.
head_worktree() {
  HEAD_SHA=$(git rev-parse HEAD)
  if [ -d "$1/.git" ] || [ -f "$1/.git" ]; then
    git -C "$1" checkout -q -f --detach "$HEAD_SHA" || exit 1
    git -C "$1" checkout -q -- . && git -C "$1" clean -qfd -e '.build*'
  else
    git worktree add -q --detach "$1" "$HEAD_SHA" || exit 1
  fi
}

# build_mutant_tool SCRATCH LOG: dmaverify in release with the hooks
# compiled in (-DDMAVERIFY_MUTANTS); sets TOOL. Fails as the build does.
build_mutant_tool() {
  swift build -c release --product dmaverify --scratch-path "$1" -Xswiftc -DDMAVERIFY_MUTANTS >"$2" 2>&1 || return 1
  TOOL=$(swift build -c release --product dmaverify --scratch-path "$1" -Xswiftc -DDMAVERIFY_MUTANTS --show-bin-path 2>/dev/null)/dmaverify
}
