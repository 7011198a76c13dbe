#!/usr/bin/env python3
"""Validate SBOM files with third-party tools, as custody's tests require.

Usage: validate_sbom.py FILE...
  *.cdx.json   CycloneDX: cyclonedx-python-lib JsonStrictValidator for the file's specVersion
  *.spdx.json  SPDX 2.3:  `pyspdxtools -i FILE` (parse and full validation)

Exit status: 0 all valid; 1 some file invalid (each problem printed); 2 a validator is missing.
"""
import json
import shutil
import subprocess
import sys

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:  # the Rust test turns this into a failure, never a skip
    print(f"missing Python package for CycloneDX validation ({e}); "
          "run: pip install -r crates/custody-sbom/tests/requirements.txt", file=sys.stderr)
    sys.exit(2)

PYSPDXTOOLS = shutil.which("pyspdxtools")
if PYSPDXTOOLS is None:
    print("missing `pyspdxtools` on PATH (PyPI spdx-tools); "
          "run: pip install -r crates/custody-sbom/tests/requirements.txt", file=sys.stderr)
    sys.exit(2)

VERSIONS = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}


def check_cyclonedx(path):
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    spec = json.loads(doc).get("specVersion")
    if spec not in VERSIONS:
        return [f"specVersion {spec!r} is not one this checker knows"]
    error = JsonStrictValidator(VERSIONS[spec]).validate_str(doc)
    return [] if error is None else [str(error)]


def check_spdx(path):
    run = subprocess.run([PYSPDXTOOLS, "-i", path], capture_output=True, text=True)
    if run.returncode != 0:
        return [f"pyspdxtools exit {run.returncode}: {run.stdout}{run.stderr}".strip()]
    return []


def main(paths):
    if not paths:
        print("no files given", file=sys.stderr)
        return 2
    failures = 0
    for path in paths:
        if path.endswith(".cdx.json"):
            problems = check_cyclonedx(path)
        elif path.endswith(".spdx.json"):
            problems = check_spdx(path)
        else:
            problems = ["file name ends in neither .cdx.json nor .spdx.json"]
        for p in problems:
            print(f"{path}: {p}")
        failures += bool(problems)
        if not problems:
            print(f"{path}: valid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
