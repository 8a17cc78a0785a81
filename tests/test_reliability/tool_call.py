"""Run a tool's ``main`` in this process as ``python tools/<script> ...``
does (``run_cli``: user errors become one ``error:`` line and exit 1)."""
import importlib.util
import logging
import os.path as osp
import sys

from nd_mmdet.utils.entrypoint import run_cli

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(script):
    path = osp.join(REPO, 'tools', script)
    spec = importlib.util.spec_from_file_location(
        f'nd_tool_{script[:-3]}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _managed_classes():
    """mmengine's ``ManagerMixin`` classes (message hub, logger,
    visualizers, default scope): each keeps its own ``_instance_dict``."""
    from mmengine.utils import ManagerMixin
    seen, todo = [], [ManagerMixin]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in seen if '_instance_dict' in vars(cls)
            and cls.__name__ != 'DefaultScope']  # the scope fixtures'


def _forget_new_instances(before):
    """Drop the runner's named instances created since ``before``: the
    Runner names them by the config and the second it started, so two
    calls within one second would otherwise share a message hub (and its
    ``best_score``) as no two separate processes ever do."""
    for cls in _managed_classes():
        for name in [n for n in cls._instance_dict
                     if n not in before.get(cls, ())]:
            instance = cls._instance_dict.pop(name)
            if isinstance(instance, logging.Logger):  # MMLogger: its files
                for handler in instance.handlers[:]:
                    handler.close()
                    instance.removeHandler(handler)


def call_tool(script, *args, capsys, monkeypatch):
    """Run the tool; return ``(exit code, stderr lines that start with
    'error:')``. Exit code 0 when it returns normally."""
    monkeypatch.setattr(sys, 'argv', [script, *map(str, args)])
    monkeypatch.delenv('ND_MMDET_TRACEBACK', raising=False)
    capsys.readouterr()
    before = {cls: set(cls._instance_dict) for cls in _managed_classes()}
    code = 0
    try:
        run_cli(load_tool(script).main)
    except SystemExit as stop:
        code = stop.code
    finally:
        _forget_new_instances(before)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines()
                  if line.startswith('error:')]


def assert_one_error(result, *needles):
    code, errors = result
    assert code == 1, result
    assert len(errors) == 1, errors
    for needle in needles:
        assert str(needle) in errors[0], (needle, errors[0])
