"""Known-vulnerability audit of the installed Python dependencies (pip-audit over what `make setup`
resolved): fails when a dependency has a known vulnerability that a newer release fixes.

A vulnerability without a fixed release is listed but does not fail the build (nothing to upgrade to).
When the vulnerability service cannot be reached (an offline machine), pip-audit audits nothing: that
is said loudly, with pip-audit's reason, and fails only with --strict (CI with network uses `make audit`).
On the project's development machines PyPI is reached through an index that serves each project's page
but not the per-release JSON that pip-audit's PyPI service reads (`/pypi/NAME/VERSION/json` answers 404,
so every package is "not found on PyPI"), and OSV's API is not reachable: there the audit says NOT RUN.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strict", action="store_true", help="fail when the audit could not run at all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "audit.json"
        done = subprocess.run([sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off",
                               "--format", "json", "--output", str(out)], capture_output=True, text=True)
        if not out.exists():
            print(f"audit: pip-audit failed to run:\n{done.stderr[-2000:]}", file=sys.stderr)
            return 2
        report = json.loads(out.read_text())
    return judge(report, args.strict)


def judge(report: dict, strict: bool) -> int:
    """The exit code for a pip-audit JSON report: 1 for a fixable vulnerability, 2 for no audit (strict)."""
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if not audited:
        reason = dependencies[0]["skip_reason"] if dependencies else "no dependencies listed"
        print(f"audit: NOT RUN: none of {len(dependencies)} dependencies could be checked (is the "
              f"vulnerability service reachable?). pip-audit said, e.g.: {reason}", file=sys.stderr)
        return 2 if strict else 0
    fixable, unfixed = [], []
    for dependency in audited:
        for vuln in dependency.get("vulns", []):
            line = f"{dependency['name']} {dependency['version']}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
            else:
                unfixed.append(f"{line} (no fixed release yet)")
    for line in unfixed:
        print(f"audit: known, no fix yet: {line}", file=sys.stderr)
    if fixable:
        print("audit: upgrade these (a fixed release exists):\n  " + "\n  ".join(fixable), file=sys.stderr)
        return 1
    print(f"audit: {len(audited)} dependencies checked, none with a fixable known vulnerability")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
