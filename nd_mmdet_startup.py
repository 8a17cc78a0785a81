"""Start-up hooks of nd_mmdet for every Python process of its environment.

``nd_mmdet_startup.pth`` (site-packages) calls :func:`install` when the
interpreter starts, so that MMDetection's and MMPretrain's own tools and
``mim`` work on this stack without importing ``nd_mmdet``. The start-up itself
imports nothing heavy (no torch): :func:`install` puts one finder at the front
of ``sys.meta_path``; each hook below runs the first time its module is
imported, and the finder removes itself once every hook has run.

- ``torchvision`` (before it is found): :func:`make_torchvision_importable`
  declares the two operator schemas its meta registrations look up when its
  native ops cannot load with the CPU torch (``import torchvision`` dies with
  ``operator torchvision::nms does not exist`` otherwise). Turned off by
  ``ND_MMDET_NO_TORCHVISION_SHIM=1``; nothing is done where the ops load.
- ``mmengine.config.config`` (after it runs): :func:`register_config_package`
  makes mmengine accept the package ``nd_mmdet`` beside the hard-coded
  ones of its ``MODULE2PACKAGE``, so ``_base_ = 'nd_mmdet::cifar100/...py'``
  and ``mmengine.hub.get_config('nd_mmdet::...')`` load the configs shipped
  in ``nd_mmdet/.mim/configs`` (as the files they are: no scope stamp).
- ``mmdet.datasets``, ``mmdet.datasets.transforms`` and
  ``mmpretrain.datasets`` (while they run): a ``print_log(msg, logger=None,
  level=DEBUG)`` goes to Python logging at its level instead of ``print``.
  They log ``Could not import OneDL`` at DEBUG level when the OneDL SDK is
  missing (it is not on PyPI; the ``onedl`` name there is an empty 0.0.1
  placeholder), but mmengine's ``print_log`` prints every message when
  ``logger`` is None, whatever its level.
- ``mim.utils.utils`` (after it runs): ``get_installed_path`` returns the
  folder of the package's module when it has ``.mim/`` (as MMDetection's,
  MMPretrain's and nd_mmdet's have). onedl-mim guesses the folder of the
  first entry of ``RECORD``, which pip sorts: for nd_mmdet that is
  ``__pycache__/`` or ``nd_mmdet-<v>.dist-info/`` (both sort before
  ``nd_mmdet/``), and for an editable install the whole checkout, where
  mim finds a config name several times (``configs/``, ``work_dirs/``).

``ND_MMDET_NO_STARTUP=1`` turns the whole start-up off (``import nd_mmdet``
still applies the torchvision fix and registers the config package).
"""
import os
import os.path as osp
import sys

#: The package whose ``.mim/configs`` ``nd_mmdet::`` config paths name.
PACKAGE = 'nd_mmdet'

_TORCHVISION_SCHEMAS = (
    'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
)
# Kept alive for the life of the process: dropping a torch.library.Library
# removes the schemas it defined.
_torchvision_library = None
# Whether install() has run in this process.
_installed = False


def _torchvision_native_lib():
    """Path of torchvision's ``_C`` extension, or None if not installed."""
    import importlib.util
    spec = importlib.util.find_spec('torchvision')
    if spec is None or spec.origin is None:
        return None
    import glob
    folder = osp.dirname(spec.origin)
    found = glob.glob(osp.join(folder, '_C*.so')) + \
        glob.glob(osp.join(folder, '_C*.pyd'))
    return found[0] if found else None


def _has_torchvision_op(name):
    import torch
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def make_torchvision_importable():
    """Declare torchvision's ``nms``/``qnms`` schemas if its ops cannot load.

    Must run before the first ``import torchvision``. Returns the names of
    the schemas declared in this call (empty when not needed, disabled or
    already done).
    """
    global _torchvision_library
    if os.environ.get('ND_MMDET_NO_TORCHVISION_SHIM') == '1':
        return []
    if 'torchvision' in sys.modules or _torchvision_library is not None:
        return []
    lib_path = _torchvision_native_lib()
    if lib_path is None:
        return []
    import torch
    try:
        torch.ops.load_library(lib_path)
        return []  # torchvision's own ops work: nothing to do.
    except (OSError, RuntimeError):
        pass
    missing = [s for s in _TORCHVISION_SCHEMAS
               if not _has_torchvision_op(s.split('(')[0])]
    if not missing:
        return []
    _torchvision_library = torch.library.Library('torchvision', 'FRAGMENT')
    for schema in missing:
        _torchvision_library.define(schema)
    return [s.split('(')[0] for s in missing]


def torchvision_shim_applied():
    """True when this process declared torchvision's schemas."""
    return _torchvision_library is not None


def register_config_package(config=None):
    """Let mmengine load ``nd_mmdet::<path>`` as the config shipped in
    ``nd_mmdet/.mim/configs/<path>`` (``config``: the
    ``mmengine.config.config`` module, imported when None).

    - mmengine accepts only the packages of its hard-coded
      ``MODULE2PACKAGE``. Adding ``nd_mmdet`` there would also make every
      ``nd_mmdet`` registry without import locations call
      ``nd_mmdet.utils.register_all_modules`` (an OpenMMLab convention
      nd_mmdet does not follow), so the function that maps ``package::path``
      is wrapped to accept ``nd_mmdet``, in mmengine's config utils and in
      the config and hub modules that import it by name.
    - mmengine stamps ``_scope_=<package>`` on every top-level typed dict of
      a ``package::`` base. nd_mmdet's configs mix scopes (a default scope
      ``mmpretrain`` / ``mmdet``, nd_mmdet types named ``nd_mmdet.X``), so a
      stamped ``nd_mmdet`` scope would look up e.g. MMPretrain's
      ``UniversalVisualizer`` in nd_mmdet's registries. ``nd_mmdet::``
      bases are therefore read as the files they name (no stamp), exactly
      as ``_base_ = '<path to the file>'`` would be.
    """
    if config is None:
        import mmengine.config.config as config
    import mmengine.config.utils as utils
    original = utils._get_package_and_cfg_path
    if getattr(original, 'nd_mmdet', False):
        return

    def _get_package_and_cfg_path(cfg_path):
        package, _, path = cfg_path.partition('::')
        if package == PACKAGE and path and '::' not in path:
            return PACKAGE, path
        return original(cfg_path)

    _get_package_and_cfg_path.__doc__ = original.__doc__
    _get_package_and_cfg_path.nd_mmdet = True
    for module in (utils, config, sys.modules.get('mmengine.hub.hub')):
        if getattr(module, '_get_package_and_cfg_path', None) is original:
            module._get_package_and_cfg_path = _get_package_and_cfg_path

    get_cfg_path = config.Config._get_cfg_path

    def _get_cfg_path(cfg_path, filename):
        path, scope = get_cfg_path(cfg_path, filename)
        return path, None if scope == PACKAGE else scope

    _get_cfg_path.__doc__ = get_cfg_path.__doc__
    config.Config._get_cfg_path = staticmethod(_get_cfg_path)


def _print_log_at_its_level(module, run):
    """``run()`` ``module``'s code with ``print_log`` without a logger
    logging at the given level (DEBUG messages are then not printed)
    instead of printing."""
    import logging

    import mmengine.logging
    original = mmengine.logging.print_log

    def print_log(msg, logger=None, level=logging.INFO):
        if logger is None and level < logging.INFO:
            logging.getLogger(module.__name__).log(level, msg)
        else:
            original(msg, logger=logger, level=level)

    mmengine.logging.print_log = print_log
    try:
        run()
    finally:
        mmengine.logging.print_log = original


def _fix_mim_installed_path(utils):
    """Make onedl-mim's ``get_installed_path`` return the folder of the
    package's module when that folder has ``.mim/`` (tools, configs)."""
    original = utils.get_installed_path
    if getattr(original, 'nd_mmdet', False):
        return

    def get_installed_path(package):
        path = original(package)
        import importlib.util
        try:
            spec = importlib.util.find_spec(utils.package2module(package))
        except (ImportError, ValueError):
            return path
        if spec is None or spec.origin is None:
            return path
        folder = osp.dirname(spec.origin)
        return folder if osp.isdir(osp.join(folder, '.mim')) else path

    get_installed_path.__doc__ = original.__doc__
    get_installed_path.nd_mmdet = True
    utils.get_installed_path = get_installed_path


def _after(function):
    """A hook that runs ``function(module)`` once the module has run."""

    def hook(module, run):
        run()
        function(module)

    return hook


class _HookedLoader:
    """Runs ``loader`` for one module through ``hook(module, run)``, then
    hands the module back to ``loader`` (for reloads and introspection)."""

    def __init__(self, loader, hook):
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        module.__spec__.loader = self._loader
        self._hook(module, lambda: self._loader.exec_module(module))

    def __getattr__(self, name):
        return getattr(self._loader, name)


class StartupFinder:
    """A ``sys.meta_path`` finder that only watches for the modules of
    ``before_find`` (name -> callable()) and ``around_exec`` (name ->
    callable(module, run), which calls ``run()`` to run the module's code),
    runs their hook once and
    removes itself when none is left. It never loads a module itself."""

    def __init__(self, before_find, around_exec):
        self.before_find = dict(before_find)
        self.around_exec = dict(around_exec)

    def _done(self):
        if not self.before_find and not self.around_exec:
            try:
                sys.meta_path.remove(self)
            except ValueError:  # removed already
                pass

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.before_find:
            hook = self.before_find.pop(fullname)
            self._done()
            hook()
            return None  # the other finders load it as usual
        if fullname not in self.around_exec:
            return None
        hook = self.around_exec.pop(fullname)
        self._done()
        for finder in list(sys.meta_path):
            find = getattr(finder, 'find_spec', None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and \
                        hasattr(spec.loader, 'exec_module'):
                    spec.loader = _HookedLoader(spec.loader, hook)
                return spec
        return None


#: Hooks run before the module is looked up: name -> callable().
BEFORE_FIND = {'torchvision': make_torchvision_importable}
#: Hooks run around the module's code: name -> callable(module, run).
AROUND_EXEC = {
    'mmdet.datasets': _print_log_at_its_level,
    'mmdet.datasets.transforms': _print_log_at_its_level,
    'mmpretrain.datasets': _print_log_at_its_level,
}
#: Hooks run once the module has run: name -> callable(module); run at
#: once by :func:`install` for a module imported before it.
AFTER_EXEC = {
    'mmengine.config.config': register_config_package,
    'mim.utils.utils': _fix_mim_installed_path,
}


def install():
    """Put the start-up finder first on ``sys.meta_path`` (once per process;
    ``ND_MMDET_NO_STARTUP=1`` turns it off). Modules already imported get
    their hook at once where it can still apply. Returns the finder, or None
    when turned off or already installed."""
    global _installed
    if os.environ.get('ND_MMDET_NO_STARTUP') == '1' or _installed:
        return None
    _installed = True
    before = {n: h for n, h in BEFORE_FIND.items() if n not in sys.modules}
    around = {n: h for n, h in AROUND_EXEC.items() if n not in sys.modules}
    for name, function in AFTER_EXEC.items():
        if name in sys.modules:
            function(sys.modules[name])
        else:
            around[name] = _after(function)
    finder = StartupFinder(before, around)
    sys.meta_path.insert(0, finder)
    finder._done()
    return finder
