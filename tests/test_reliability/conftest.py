"""Fixtures of the fault catalogue."""
import pytest

from tests.test_reliability.tool_call import call_tool


@pytest.fixture
def tool(capsys, monkeypatch):
    """``tool(script, *args)`` -> ``(exit code, error lines)``."""

    def run(script, *args):
        return call_tool(script, *args, capsys=capsys,
                         monkeypatch=monkeypatch)
    return run
