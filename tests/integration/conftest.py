"""Fixtures for the hsmjwtd integration tests.

The daemon under test is $HSMJWTD (default build/src/daemon/hsmjwtd). Each
test module starts its daemons through module_daemons, which stops them with
SIGTERM at the end of the module. A daemon that does not exit 0, or whose
stderr contains a sanitizer report, fails the module's teardown. A daemon that
dies or prints a sanitizer report during a test fails that test.
"""

import pytest

import harness


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """Python protobuf modules generated with protoc at session start."""
    return harness.generate_stubs(tmp_path_factory.mktemp("stubs"))


@pytest.fixture(scope="module")
def module_daemons(tmp_path_factory, stubs):
    """A DaemonFactory whose daemons live until the end of the test module."""
    factory = harness.DaemonFactory(tmp_path_factory.mktemp("daemons"), stubs)
    yield factory
    problems = factory.stop_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def daemons(tmp_path, stubs):
    """A DaemonFactory whose daemons live until the end of the test."""
    factory = harness.DaemonFactory(tmp_path, stubs)
    yield factory
    problems = factory.stop_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def daemons_still_healthy(request):
    """Fail the test during which a module daemon died or printed a sanitizer report."""
    if "module_daemons" not in request.fixturenames:
        yield
        return
    factory = request.getfixturevalue("module_daemons")
    yield
    problems = factory.check_running()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
