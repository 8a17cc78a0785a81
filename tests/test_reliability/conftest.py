"""Fixtures of the fault catalogue."""
import pytest
import torch

from tests.test_reliability.tool_call import call_tool


@pytest.fixture
def tool(capsys, monkeypatch):
    """``tool(script, *args)`` -> ``(exit code, error lines)``."""

    def run(script, *args):
        return call_tool(script, *args, capsys=capsys,
                         monkeypatch=monkeypatch)
    return run


@pytest.fixture(autouse=True)
def one_thread():
    """Small models run on one thread (two run 5x slower under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
