#!/usr/bin/env python3
"""Writes testdata/advisories: the trimmed slice of the real advisory snapshots that the tests read.

usage: scripts/trim-advisories.py SHARED_ADVISORIES [OUT]

SHARED_ADVISORIES is the full snapshot directory (shared/data/advisories beside the repository);
OUT defaults to testdata/advisories. Files are copied byte for byte, never edited. The selection
is deterministic, so running it again on the same snapshots writes the same tree:
- every advisory a test names (by id, or by PyPI package directory), found by grepping the tests;
- every advisory naming a crate that a test fixture's Cargo.lock pins (or VULNERABLE_LOCK), or
  that a test names by id;
- a sample of the rest: every 4th crate (sorted by name) in both RustSec formats (so the OSV
  export and the Markdown database hold the same advisories), every 12th Go advisory and every
  12th PyPI package directory.
"""
import json
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Crates pinned by the test projects (crates/custody-cli/tests/common/mod.rs) and named by the
# parity tests; every crate of the test fixtures' Cargo.lock files is added to these.
CRATES = {"smallvec", "regex", "time", "mio", "abi_stable"}
RUST_EVERY, GO_EVERY, PYPI_EVERY = 4, 12, 12


def named_ids():
    ids, pypi = set(), set()
    for p in list(ROOT.glob("crates/*/tests/**/*.rs")) + list(ROOT.glob("crates/*/src/**/*.rs")) \
            + list(ROOT.glob("crates/*/benches/*.rs")):
        text = p.read_text(errors="replace")
        ids.update(re.findall(r"\b(?:RUSTSEC|GO|PYSEC)-\d{4}-\d+\b", text))
        pypi.update(re.findall(r"PyPI/vulns/([A-Za-z0-9._-]+)", text))
    return ids, pypi


def fixture_crates():
    names = set()
    for lock in ROOT.glob("crates/*/tests/**/Cargo.lock"):
        names.update(re.findall(r'^name = "([^"]+)"', lock.read_text(), re.M))
    return names


def main():
    src = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "testdata/advisories"
    ids, pypi_named = named_ids()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    def copy(rel):
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst)

    # RustSec: choose crates, then take both formats of every advisory naming them.
    osv_crate = {}
    for f in sorted((src / "crates.io").glob("*.json")):
        doc = json.loads(f.read_bytes())
        names = {a.get("package", {}).get("name") for a in doc.get("affected", [])}
        osv_crate[f.name] = names
    md_dirs = sorted(p.name for p in (src / "rustsec-advisory-db/crates").iterdir())
    crates = set(CRATES) | fixture_crates() | set(md_dirs[::RUST_EVERY])
    for name in md_dirs:
        for md in (src / "rustsec-advisory-db/crates" / name).glob("*.md"):
            if md.stem in ids:
                crates.add(name)
    for fname, names in osv_crate.items():
        if fname[:-5] in ids:
            crates |= {n for n in names if n}
    for name in md_dirs:
        if name in crates:
            for md in sorted((src / "rustsec-advisory-db/crates" / name).glob("*.md")):
                copy(md.relative_to(src))
    for md in sorted((src / "rustsec-advisory-db/rust").rglob("*.md")):
        copy(md.relative_to(src))
    for fname, names in osv_crate.items():
        if names & crates or fname[:-5] in ids:
            copy(pathlib.Path("crates.io") / fname)

    go = sorted(f.name for f in (src / "Go").glob("*.json"))
    for i, name in enumerate(go):
        if i % GO_EVERY == 0 or name[:-5] in ids:
            copy(pathlib.Path("Go") / name)

    pkgs = sorted(p.name for p in (src / "PyPI/vulns").iterdir())
    for i, pkg in enumerate(pkgs):
        files = sorted((src / "PyPI/vulns" / pkg).glob("*.yaml"))
        if i % PYPI_EVERY == 0 or pkg in pypi_named or any(f.stem in ids for f in files):
            for f in files:
                copy(f.relative_to(src))

    counts = {d: sum(1 for p in (out / d).rglob("*") if p.is_file())
              for d in ["crates.io", "rustsec-advisory-db", "Go", "PyPI"]}
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
