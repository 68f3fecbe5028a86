"""Tests that need an optional dependency skip, saying why, when it is missing: the digits
tests without scikit-learn (the ``digits`` extra)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_digits_tests_skip_with_the_reason_when_scikit_learn_cannot_be_imported(tmp_path):
    hidden = tmp_path / "hidden" / "sklearn"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('scikit-learn hidden for this test')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-k", "digits",
                           "tests/test_builtin_components.py", "tests/test_pipeline.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all("scikit-learn is not installed" in line for line in skipped), done.stdout[-3000:]
    assert " failed" not in done.stdout
