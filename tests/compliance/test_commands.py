"""deid_spans / deid_text batch CLIs (no database) and note_rotate_keys."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from compliance import deid
from tests.conftest import ROOT, subprocess_env

GOOD = [
    {"id": "a1", "text": "Patient John Smith called from 555-201-3344."},
    {"id": 2, "text": "Nothing identifying in this one."},
]


def run(command: str, lines: list[str], *args: str) -> tuple[list[dict], list[str], int]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command(
            command, *args, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out, stderr=err
        )
    except CommandError as exc:
        code = exc.returncode
    return [json.loads(x) for x in out.getvalue().splitlines()], err.getvalue().splitlines(), code


def test_deid_spans_writes_one_line_per_note_in_order() -> None:
    rows, errors, code = run("deid_spans", [json.dumps(g) for g in GOOD])
    assert code == 0 and errors == []
    assert [r["id"] for r in rows] == ["a1", 2]
    phone = GOOD[0]["text"].index("555")
    assert {"start": phone, "end": phone + 12, "label": "PHONE"} in rows[0]["spans"]
    assert all(set(s) == {"start", "end", "label"} for s in rows[0]["spans"])


def test_malformed_lines_go_to_stderr_with_their_id_and_the_rest_go_on() -> None:
    lines = [
        json.dumps(GOOD[0]),
        "{not json",
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "n", "text": 5}),
        json.dumps({"id": [1], "text": "x"}),
        json.dumps({"text": "no id"}),
        "",
        json.dumps(GOOD[1]),
    ]
    rows, errors, code = run("deid_spans", lines)
    assert code == 1
    assert [r["id"] for r in rows] == ["a1", 2]  # order kept, blank line skipped
    assert errors[0].startswith("line 2: not valid JSON")
    assert errors[1] == 'id "no-text": "text" must be a string'
    assert errors[2] == 'id "n": "text" must be a string'
    assert errors[3].startswith('line 5: "id" must be')
    assert errors[4].startswith('line 6: "id" must be')


def test_a_note_that_times_out_is_withheld_not_written(monkeypatch) -> None:
    real = deid.find_spans

    def slow_for_b(text: str, **kwargs: object) -> list:
        if "slow" in text:
            raise deid.DeidTimeout()
        return real(text, **kwargs)

    monkeypatch.setattr(deid, "find_spans", slow_for_b)
    lines = [json.dumps({"id": "b", "text": "slow John Smith"}), json.dumps(GOOD[1])]
    for command in ("deid_spans", "deid_text"):
        rows, errors, code = run(command, lines, "--time-limit", "0.5")
        assert code == 1 and [r["id"] for r in rows] == [2]
        assert errors[0].startswith('id "b": withheld')
        assert "John" not in "".join(errors)


def test_deid_text_writes_deidentified_text_stable_per_id() -> None:
    lines = [json.dumps(g) for g in GOOD]
    first, errors, code = run("deid_text", lines)
    again, _, _ = run("deid_text", lines)
    assert code == 0 and errors == [] and first == again
    assert [r["id"] for r in first] == ["a1", 2]
    assert "555-201-3344" not in first[0]["text"] and "John Smith" not in first[0]["text"]
    placeholder, _, _ = run("deid_text", lines[:1], "--mode", "placeholder", "--seed", "7")
    assert "John Smith" not in placeholder[0]["text"]


def test_the_cli_uses_no_database_and_exits_1_on_a_bad_line() -> None:
    stdin = json.dumps(GOOD[0]) + "\n{oops\n"
    env = subprocess_env(BLOGLLM_DATABASE_NAME="no_such_database_anywhere")
    result = subprocess.run(
        [sys.executable, "manage.py", "deid_spans"],
        input=stdin.encode(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr.decode()
    assert json.loads(result.stdout.decode().splitlines()[0])["id"] == "a1"
    assert "line 2: not valid JSON" in result.stderr.decode()


@pytest.mark.django_db
def test_note_rotate_keys_reports_what_it_re_encrypted() -> None:
    out = io.StringIO()
    call_command("note_rotate_keys", stdout=out)
    assert "Re-encrypted 0 notes and 0 batches." in out.getvalue()
