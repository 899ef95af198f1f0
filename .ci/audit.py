"""pip-audit over the pinned requirements (`make audit`; `make test` runs it first).

It asks OSV rather than PyPI's JSON API: PyPI's service skips a package it cannot look up and
then reports "No known vulnerabilities found", a silent pass. --strict makes any dependency
that could not be audited a failure.

Exceptions live in .ci/audit-allowlist.txt: one vulnerability id per line, then the reason we
accept it (and until when). An entry without a reason fails the run.

Where OSV cannot be reached at all (machines with no internet but the package registries),
the audit cannot run: this says so in one line and passes, unless BLOGLLM_REQUIRE_AUDIT=1
(set it wherever CI has internet), which makes that a failure too.
"""

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OSV_URL = "https://api.osv.dev/v1/query"


def allowed(path: Path) -> list[str]:
    """The allow-list's ids; exits 2 naming a line that gives no reason."""
    ids = []
    for number, line in enumerate(path.read_text().splitlines(), start=1) if path.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            sys.exit(f"{path.name} line {number}: {vuln_id} needs a reason after it.")
        ids.append(vuln_id)
    return ids


def reachable(url: str) -> bool:
    probe = json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "23.0"})
    request = urllib.request.Request(url, data=probe.encode(), method="POST")  # noqa: S310
    try:
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - the URL we were given
    except urllib.error.HTTPError:
        return True  # it answered
    except (urllib.error.URLError, TimeoutError, OSError):
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osv-url", default=OSV_URL)
    parser.add_argument(
        "--requirements", nargs="+", type=Path,
        default=[ROOT / "requirements.txt", ROOT / "requirements-dev.txt"],
    )  # fmt: skip
    parser.add_argument("--allowlist", type=Path, default=ROOT / ".ci" / "audit-allowlist.txt")
    args = parser.parse_args()
    ignored = allowed(args.allowlist)
    if not reachable(args.osv_url):
        sys.stdout.write(
            f"pip-audit did not run: the vulnerability database ({args.osv_url}) cannot be "
            "reached.\n"
        )
        return 1 if os.environ.get("BLOGLLM_REQUIRE_AUDIT") == "1" else 0
    command = [
        sys.executable, "-m", "pip_audit", "--vulnerability-service", "osv",
        "--osv-url", args.osv_url, "--strict", "--no-deps", "--disable-pip",
        "--progress-spinner", "off", "--desc", "on",
    ]  # fmt: skip
    for requirements in args.requirements:
        command += ["--requirement", str(requirements)]
    for vuln_id in ignored:
        command += ["--ignore-vuln", vuln_id]
    return subprocess.run(command, check=False).returncode  # noqa: S603 - our own arguments


if __name__ == "__main__":
    sys.exit(main())
