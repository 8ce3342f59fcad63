"""pytest plugin for bench/moto-suite.sh: moto's EC2 tests against econe-server.

moto resets its server between tests (/moto-api/reset); here every test is
a new student instead, made in one `econe-server user import` once the tests
are collected, so no test sees another's resources. The plugin also writes
one result line per test to $ECONE_MOTO_RESULTS.
"""

import os
import signal
import subprocess

import boto3
import pytest

TEST_TIMEOUT = 120  # seconds; a waiter polling for a state that never comes

_creds = {}
_outcomes = {}


def pytest_configure(config):
    from moto.core.config import default_user_config

    # moto would put fake keys in the environment while a test runs; each
    # test brings its student's keys instead.
    default_user_config["core"]["mock_credentials"] = False


def pytest_collection_modifyitems(session, config, items):
    # The fixture asks SSM for the latest Amazon Linux image; econe answers
    # EC2 only, so it is the course image moto's sample id stands for.
    import tests
    import tests.test_ec2.conftest as ec2conftest

    ec2conftest.get_valid_ami = lambda: tests.EXAMPLE_AMI_ID

    names = [f"t{i:04d}" for i in range(len(items))]
    out = subprocess.run(
        [os.environ["ECONE_BIN"], "-c", os.environ["ECONE_CONF"], "user", "import", "-"],
        input="name\n" + "\n".join(names) + "\n",
        capture_output=True, text=True, check=True,
    ).stdout
    rows = [line.split(",") for line in out.splitlines()[1:]]
    keys = {r[0]: (r[2], r[3]) for r in rows}
    for name, item in zip(names, items):
        _creds[item.nodeid] = keys[name]


def _timeout(signum, frame):
    raise TimeoutError(f"test ran longer than {TEST_TIMEOUT}s")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    key, secret = _creds[item.nodeid]
    os.environ["AWS_ACCESS_KEY_ID"] = key
    os.environ["AWS_SECRET_ACCESS_KEY"] = secret
    # boto3's default session keeps the credentials it first resolved; a
    # new session would load botocore's models again for every test.
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION._session.set_credentials(key, secret)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(TEST_TIMEOUT)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    signal.alarm(0)


def pytest_runtest_logreport(report):
    if report.passed and report.when != "call":
        return
    if report.nodeid in _outcomes and _outcomes[report.nodeid][0] != "PASSED":
        return  # the first failure is the one to read
    outcome = report.outcome.upper()
    if report.failed and report.when != "call":
        outcome = "ERROR"
    message = ""
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash else str(report.longrepr)
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = report.longrepr[2]
    message = " ".join(message.split())[:400]
    _outcomes[report.nodeid] = (outcome, message)


def pytest_sessionfinish(session):
    with open(os.environ["ECONE_MOTO_RESULTS"], "w") as f:
        for nodeid, (outcome, message) in sorted(_outcomes.items()):
            f.write(f"{outcome} {nodeid}" + (f" :: {message}" if message else "") + "\n")
