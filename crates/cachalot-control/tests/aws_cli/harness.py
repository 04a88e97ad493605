"""What run.py and private.py share: the AWS CLI pointed at the admin listener, numbered steps,
and checks that exit naming what failed.

Both scripts take the listener's URL as their first argument. Python puts a script's own folder
first on sys.path, so `import harness` finds this file wherever tests/aws_cli.rs runs them from.
"""

import json
import os
import subprocess
import sys

ENDPOINT = sys.argv[1]
# The venv's own `aws`, beside the Python running the script.
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
_passed = 0


def step(name):
    """Counts a passed step and prints it as `ok N - name`."""
    global _passed
    _passed += 1
    print(f"ok {_passed} - {name}", flush=True)


def finish():
    """Prints the summary tests/aws_cli.rs looks for."""
    print(f"{_passed} passed, 0 failed")


def run(*args):
    """Runs the AWS CLI against ENDPOINT; returns the finished process."""
    return subprocess.run([AWS, "--endpoint-url", ENDPOINT, *args], capture_output=True, text=True, timeout=600)


def aws(*args):
    """Runs the AWS CLI; returns its parsed JSON output (or None). Exits if the command fails."""
    proc = run(*args)
    if proc.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args[:2])} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def refused(code, *args):
    """Runs the AWS CLI, which must fail with CloudFront's error `code`; exits otherwise."""
    proc = run(*args)
    if proc.returncode == 0 or f"({code})" not in proc.stderr:
        sys.exit(f"FAILED: {' '.join(args[:2])} should fail with {code}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")


def check(cond, what):
    """Exits naming `what` unless `cond` holds."""
    if not cond:
        sys.exit(f"FAILED: {what}")
