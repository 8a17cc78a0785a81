"""Capture the outputs of sub-modules by module path, without editing models.

``OutputRecorder(model, dict(embed='neck', logits='head.fc'))`` registers a
forward hook on each named sub-module; inside ``with recorder.recording():``
every forward of those modules stores its output under the given name.
Outside a recording the hooks do nothing.

Each hook is ``functools.partial(recorder._record, name)``, a bound method,
not a closure: ``copy.deepcopy`` of the model (mmengine's ``EMAHook`` copies
the whole distiller) rebinds a bound method to the copied recorder, while a
closure is shared by reference, so the copy's hooks would fill the
original's recorder and the copy would record nothing. A distiller's copy
shares its frozen teacher, and with it the recorders hooked on the teacher
(:func:`hook_owners`).
"""
import difflib
import functools
from contextlib import contextmanager

from torch import nn


def resolve_module(model, path, owner='model'):
    """``model.get_submodule(path)`` with an error listing close paths."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        close = difflib.get_close_matches(path, names, n=5, cutoff=0.5)
        hint = f'; close: {close}' if close else \
            f'; top-level modules: {[n for n in names if "." not in n]}'
        raise ValueError(
            f'{owner} has no module at path {path!r}{hint}') from None


def hook_owners(model):
    """The objects (recorders) whose bound methods, plain or wrapped in a
    ``functools.partial``, are forward (pre-)hooks of ``model``'s modules.

    A distiller's copy shares the frozen teacher; it must share these with
    it too: the teacher's hooks fill them, whichever copy runs."""
    owners = {}
    for module in model.modules():
        for hooks in (module._forward_hooks, module._forward_pre_hooks):
            for hook in hooks.values():
                func = getattr(hook, 'func', hook)
                owner = getattr(func, '__self__', None)
                if owner is not None and not isinstance(owner, nn.Module):
                    owners[id(owner)] = owner
    return list(owners.values())


class OutputRecorder:
    """Forward-hook recorder of named sub-module outputs.

    Args:
        model (nn.Module): the model to watch.
        paths (dict[str, str]): record name -> module path in ``model``.
        owner (str): how errors name ``model`` (e.g. ``'student'``).
    """

    def __init__(self, model, paths, owner='model'):
        self.paths = dict(paths)
        self._outputs = None
        self._handles = []
        for name, path in self.paths.items():
            module = resolve_module(model, path, owner)
            self._handles.append(module.register_forward_hook(
                functools.partial(self._record, name)))

    def _record(self, name, module, inputs, output):
        """The forward hook of the module recorded as ``name``."""
        if self._outputs is not None:
            self._outputs[name] = output

    @contextmanager
    def recording(self):
        """Yield the dict that the forwards inside the block fill."""
        self._outputs = {}
        try:
            yield self._outputs
        finally:
            self._outputs = None

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []
