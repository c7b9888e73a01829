"""The whole tree passes the linter, configured in ruff.toml at the workspace root."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_tree_is_clean_under_ruff():
    result = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache',
                             '--output-format', 'concise', str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f'ruff check found problems:\n{result.stdout}{result.stderr}'
