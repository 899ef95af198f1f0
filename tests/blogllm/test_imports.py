import subprocess
import sys

from tests.conftest import ROOT, subprocess_env

HEAVY = ["torch", "transformers", "peft", "langgraph", "langchain", "sentence_transformers"]


def test_the_web_process_imports_no_ml_library() -> None:
    # Web pages must not pay for torch: ML code is imported inside the tasks that use it.
    code = (
        "import django, sys; django.setup(); import blogllm.urls; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
