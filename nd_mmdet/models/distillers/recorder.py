"""Capture the outputs of sub-modules by module path, without editing models.

``OutputRecorder(model, dict(embed='neck', logits='head.fc'))`` registers a
forward hook on each named sub-module; inside ``with recorder.recording():``
every forward of those modules stores its output under the given name.
Outside a recording the hooks do nothing.
"""
import difflib
from contextlib import contextmanager


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
            self._handles.append(
                module.register_forward_hook(self._make_hook(name)))

    def _make_hook(self, name):

        def hook(module, inputs, output):
            if self._outputs is not None:
                self._outputs[name] = output

        return hook

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
