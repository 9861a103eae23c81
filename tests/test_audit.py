"""The dependency audit in `make test` (.ci/audit.py) fails on a vulnerability with a fixed release."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("audit", Path(__file__).resolve().parents[1] / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def _report(*vulns, skipped: int = 0) -> dict:
    audited = [{"name": "somepkg", "version": "1.0", "vulns": list(vulns)}]
    return {"dependencies": audited + [{"name": f"s{n}", "skip_reason": "not found"} for n in range(skipped)]}


def test_a_vulnerability_with_a_fixed_release_fails_the_audit():
    assert audit.judge(_report({"id": "GHSA-1", "fix_versions": ["1.1"]}), strict=False) == 1


def test_a_vulnerability_without_a_fix_is_listed_but_passes(capsys):
    assert audit.judge(_report({"id": "GHSA-2", "fix_versions": []}), strict=False) == 0
    assert "GHSA-2" in capsys.readouterr().err


def test_an_audit_that_checked_nothing_says_so_and_fails_when_strict(capsys):
    nothing = {"dependencies": [{"name": "x", "skip_reason": "Dependency not found on PyPI"}]}
    assert audit.judge(nothing, strict=True) == 2
    assert audit.judge(nothing, strict=False) == 0
    assert "NOT RUN" in (err := capsys.readouterr().err) and "Dependency not found on PyPI" in err
