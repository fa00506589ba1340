#!/usr/bin/env python3
"""Audit the pinned requirements for known vulnerabilities with pip-audit.

Fails on any known vulnerability not accepted in `.pip-audit-ignore` (one advisory id per line,
then `#` and the reason). pip-audit asks PyPI's vulnerability service; a dependency it cannot
look up (the service unreachable, as on machines that only reach a package mirror) is listed
as NOT AUDITED, loudly, but does not fail the run: nothing was found, nothing was proven.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def accepted() -> list[str]:
    ignore = ROOT / ".pip-audit-ignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def main() -> int:
    command = [
        str(Path(sys.executable).parent / "pip-audit"),
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
        "-r",
        "requirements.txt",
        "-r",
        "requirements-dev.txt",
    ]
    for advisory in accepted():
        command += ["--ignore-vuln", advisory]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stdout, result.stderr, sep="\n")
        return 2
    found = [
        (d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions", [])))
        for d in report["dependencies"]
        for v in d.get("vulns", [])
    ]
    skipped = [d["name"] for d in report["dependencies"] if d.get("skip_reason")]
    audited = len(report["dependencies"]) - len(skipped)
    for name, version, advisory, fixed in found:
        print(f"VULNERABLE {name}=={version}: {advisory} (fixed in: {fixed or 'no release'})")
    if skipped:
        print(
            f"NOT AUDITED ({len(skipped)}): the vulnerability service did not answer for "
            f"{', '.join(sorted(skipped))}"
        )
    print(
        f"pip-audit: {audited} audited, {len(found)} known vulnerabilities, "
        f"{len(accepted())} accepted in .pip-audit-ignore"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
