"""Strict configs: a key that nothing reads is a typo, not a silent no-op.

mmengine keeps every top-level variable of a config and hands the Runner
only the keys it knows; ``randomnes=dict(seed=1)``, ``train_cfgg=...``,
``optim_wraper=...`` or ``custom_hook=[...]`` are kept and ignored, and the
run trains with the defaults. :func:`check_config_keys` runs on the final
config (after ``_base_`` and ``--cfg-options`` are merged) and stops with
one line naming the key and the closest key that is read.

Top-level keys. A key is *known* when

- the Runner reads it: the parameters of ``Runner.__init__`` and every
  ``cfg.get('<key>')`` in the installed ``mmengine.runner.runner`` (e.g.
  ``model_wrapper_cfg``, ``find_unused_parameters``, ``compile``);
- our tools read it (:data:`TOOL_KEYS`);
- it is an OpenMMLab convention: a top-level variable of any config
  shipped by nd_mmdet, MMDetection or MMPretrain (``.mim/configs``, read
  with :mod:`ast`, no import), e.g. ``dataset_type``, ``train_pipeline``,
  ``backend_args``;
- it is listed in the config's own ``nd_mmdet_extra_keys`` (the escape
  hatch for keys read by a user's own extension).

Users also define helper variables that build other values (``lr = 0.1``
then ``optimizer=dict(lr=lr)``); mmengine keeps those too, so an unknown
key cannot simply be refused. The rule, for a key written in a config
file:

1. the config's files (the file and its ``_base_`` files, read with
   :mod:`ast`) refer to it by name (``iters``, ``_base_.iters``,
   ``{{_base_.iters}}``), or its value also occurs (equal, whole) inside
   the value of a known key: it was used to build other values, a helper
   -> accepted silently (for the value test only informative values
   count: not ``None`` / ``True`` / ``False`` / ``0`` / ``1`` / empty
   containers, which occur anywhere by chance; a reference counts
   whatever the value: ``warmup = 1`` used in ``param_scheduler``);
2. it is an MMDetection 2.x key that mmengine no longer reads
   (:data:`LEGACY_KEYS`: ``lr_config``, ``runner``, ``evaluation``, ...) ->
   error naming the setting that replaced it;
3. it is close to a known key (:func:`difflib.get_close_matches`, ratio
   >= :data:`CUTOFF`: ``randomnes`` 0.95, ``train_cfgg`` 0.95; a helper
   such as ``img_size`` vs ``img_scale`` is 0.71) -> error naming both: a
   one-letter slip of a read key is the typical typo, and renaming a
   helper that looks like a read key costs the user nothing;
4. otherwise -> accepted, with a warning naming it (nothing refers to it
   and nothing reads it): an unrelated new name is far more often a
   user's variable than a typo.

A top-level key set by ``--cfg-options`` must be one that is read
(Runner, tools, ``nd_mmdet_extra_keys``): it cannot be a helper (nothing
refers to it), and setting a conventional variable such as ``data_root``
there changes nothing (the values built from it were computed when the
config file was read), so both are errors.

Nested keys are checked against the signature of the class that receives
them: ``train_cfg`` / ``val_cfg`` / ``test_cfg`` (the loop class: ``type``,
or ``by_epoch`` -> EpochBased / IterBased loop), ``optim_wrapper`` (the
wrapper class, plus ``type``, ``optimizer``, ``paramwise_cfg``,
``constructor``) and its ``paramwise_cfg`` (what the default constructor
reads), ``randomness`` (``Runner.set_randomness``), each hook of
``custom_hooks`` / ``default_hooks`` (its class, plus ``type`` and
``priority``) and ``model`` when it is one of nd_mmdet's models. A class
that passes ``**kwargs`` on to its base is read through its bases; where the
``**kwargs`` go elsewhere the set is open and only a key close to a
parameter is refused.
"""
import ast
import difflib
import glob
import importlib.util
import inspect
import os.path as osp
import re
from functools import lru_cache

#: Top-level key listing extra keys read by the user's own extensions.
EXTRA_KEYS = 'nd_mmdet_extra_keys'

#: Top-level keys read by our tools and MMDetection's (besides the Runner).
TOOL_KEYS = ('runner_type', 'launcher', 'work_dir', 'resume', 'load_from',
             'custom_imports', 'default_scope', 'tta_model', 'tta_pipeline',
             'data_preprocessor', EXTRA_KEYS)

#: MMDetection 2.x / MMCV 1.x keys that mmengine no longer reads -> what
#: replaced them.
LEGACY_KEYS = {
    'lr_config': 'param_scheduler',
    'momentum_config': 'param_scheduler',
    'runner': "train_cfg (type='EpochBasedTrainLoop' / 'IterBasedTrainLoop')",
    'total_epochs': 'train_cfg.max_epochs',
    'evaluation': 'val_evaluator and train_cfg.val_interval',
    'checkpoint_config': 'default_hooks.checkpoint',
    'log_config': 'default_hooks.logger',
    'optimizer_config': 'optim_wrapper (clip_grad, accumulative_counts)',
    'optimizer': 'optim_wrapper.optimizer',
    'data': 'train_dataloader / val_dataloader / test_dataloader',
    'workflow': 'train_cfg',
    'dist_params': 'env_cfg.dist_cfg',
    'fp16': "optim_wrapper.type='AmpOptimWrapper'",
    'opencv_num_threads': 'env_cfg.opencv_num_threads',
    'mp_start_method': 'env_cfg.mp_cfg.mp_start_method',
}

#: difflib ratio from which an unknown key counts as a typo of a known one.
CUTOFF = 0.8

#: Packages whose shipped configs define the conventional variable names.
CONFIG_PACKAGES = ('nd_mmdet', 'mmdet', 'mmpretrain')

_REPO_CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')


class StrictConfigError(ValueError):
    """A config key that nothing reads (reported as one line)."""


def _closest(key, known):
    found = difflib.get_close_matches(key, sorted(known), n=1, cutoff=CUTOFF)
    return found[0] if found else None


def _source_gets(module,
                 pattern=r"(?:\bself\.|(?<![\w.]))cfg\.get\(\s*'(\w+)'"):
    """Names read as ``cfg.get('<name>')`` / ``self.cfg.get('<name>')``
    (not ``env_cfg.get``) in ``module``'s source."""
    return set(re.findall(pattern, inspect.getsource(module)))


@lru_cache()
def runner_keys():
    """Top-level keys the installed mmengine Runner reads."""
    import mmengine.runner.runner as runner_module
    from mmengine.runner import Runner
    params = set(inspect.signature(Runner.__init__).parameters)
    return frozenset((params | _source_gets(runner_module)) -
                     {'self', 'cfg'})


def _config_dirs():
    dirs = [_REPO_CONFIGS]
    for package in CONFIG_PACKAGES:
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(osp.join(root, '.mim', 'configs'))
    return [d for d in dirs if osp.isdir(d)]


def _parsed(path):
    """The :mod:`ast` module of the file ``path``, None when unreadable."""
    try:
        with open(path, encoding='utf-8') as f:
            return ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None


def _top_level_names(path):
    tree = _parsed(path)
    if tree is None:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign,
                                               ast.AugAssign)) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _config_files(filename):
    """``filename`` and its ``_base_`` files, recursively (the ``.py``
    ones that mmengine's own path rules find; others are skipped)."""
    from mmengine.config import Config
    files, todo = [], [filename]
    while todo:
        path = osp.realpath(todo.pop())
        if path in files or not path.endswith('.py') or \
                not osp.isfile(path):
            continue
        files.append(path)
        try:
            bases = Config._get_base_files(path)
        except Exception:  # noqa: BLE001 (a file mmengine itself refuses)
            continue
        for base in bases:
            try:
                todo.append(Config._get_cfg_path(base, path)[0])
            except Exception:  # noqa: BLE001 (a package not installed)
                pass
    return files


def _names_referred_in(path):
    """Names ``path``'s code reads: ``x``, ``_base_.x`` (also inside
    ``{{_base_.x}}``)."""
    tree = _parsed(path)
    names = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and \
                isinstance(node.value, ast.Name) and \
                node.value.id == '_base_':
            names.add(node.attr)
    return names


def referred_names(filename):
    """Names that the config file ``filename`` or one of its ``_base_``
    files refers to (empty for a config not read from a file)."""
    if not filename:
        return set()
    names = set()
    for path in _config_files(filename):
        names |= _names_referred_in(path)
    return names


@lru_cache()
def convention_keys():
    """Top-level variable names of the configs shipped by nd_mmdet,
    MMDetection and MMPretrain (about 2,000 files parsed, < 1 s)."""
    names = set()
    seen = set()
    for root in _config_dirs():
        for path in glob.glob(osp.join(root, '**', '*.py'), recursive=True):
            real = osp.realpath(path)
            if real not in seen:
                seen.add(real)
                names |= _top_level_names(real)
    return frozenset(names - {'_base_'} - set(LEGACY_KEYS))


def read_top_level_keys(cfg=None):
    """Top-level keys that something reads after the config is loaded: the
    Runner, our tools and the config's own ``nd_mmdet_extra_keys``."""
    extra = (cfg or {}).get(EXTRA_KEYS) or []
    if isinstance(extra, str) or not all(isinstance(k, str) for k in extra):
        raise StrictConfigError(
            f'config: {EXTRA_KEYS} must be a list of key names, got '
            f'{extra!r}')
    return set(runner_keys()) | set(TOOL_KEYS) | set(extra)


def known_top_level_keys(cfg=None):
    """Keys read (:func:`read_top_level_keys`) or conventional."""
    return read_top_level_keys(cfg) | set(convention_keys())


def _informative(value):
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return False
    if isinstance(value, (dict, list, tuple, str)) and not value:
        return False
    return True


def _occurs_in(value, tree):
    """``value`` equals ``tree`` or a part of it."""
    try:
        if tree == value and type(tree) is type(value) or (
                isinstance(tree, (list, tuple)) and
                isinstance(value, (list, tuple)) and
                list(tree) == list(value)):
            return True
    except Exception:  # noqa: BLE001 (tensors and other odd values)
        return False
    if isinstance(tree, dict):
        return any(_occurs_in(value, v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return any(_occurs_in(value, v) for v in tree)
    return False


def _is_data(value):
    """Config data (not a class, function or module a new-style config
    imported): only data can be a misspelt setting."""
    return isinstance(value, (dict, list, tuple, str, int, float)) or \
        value is None


def check_top_level_keys(cfg, option_keys=()):
    """Apply the module's top-level rule; return the accepted unknown keys
    that nothing uses (rule 4, warned about by :func:`check_config_keys`);
    the helpers of rule 1 are accepted silently."""
    data = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    known = known_top_level_keys(data)
    read = read_top_level_keys(data)
    for key in sorted(option_keys - read):
        closest = _closest(key, read)
        hint = f' (did you mean `{closest}`?)' if closest else ''
        what = ('is a variable of the config: values built from it were '
                'computed when the config was read, so setting it here '
                'changes nothing; set the key it builds' if key in known else
                f'no such top-level config key, nothing reads it{hint}; a '
                f'key read by your own code goes in {EXTRA_KEYS}')
        raise StrictConfigError(f'--cfg-options {key}: {what}')
    unknown = [k for k in data if k not in known and _is_data(data[k])]
    if not unknown:
        return []
    known_values = [v for k, v in data.items() if k in known]
    referred = referred_names(getattr(cfg, 'filename', None))
    unused = []
    for key in unknown:
        closest = _closest(key, known)
        hint = f' (did you mean `{closest}`?)' if closest else ''
        escape = f'; a key read by your own code goes in {EXTRA_KEYS}'
        value = data[key]
        if key in referred or _informative(value) and any(
                _occurs_in(value, v) for v in known_values):
            continue
        if key in LEGACY_KEYS:
            raise StrictConfigError(
                f'config: `{key}` is an MMDetection 2.x setting that '
                f'mmengine no longer reads; use {LEGACY_KEYS[key]}{escape}')
        if closest:
            raise StrictConfigError(
                f'config: unknown top-level key `{key}`: nothing reads it'
                f'{hint}{escape}')
        unused.append(key)
    return unused


# --------------------------------------------------------------------------
# Nested keys: the signature of the class that receives them.


def accepted_args(cls, method='__init__'):
    """``(names, open)``: the keyword arguments ``cls.<method>`` accepts;
    ``**kwargs`` passed on to a base is followed through the MRO; ``open``
    when they may end anywhere else (a key cannot be refused for sure)."""
    names = set()
    for klass in inspect.getmro(cls):
        if method not in vars(klass):
            continue
        if klass is object:
            return names, True
        try:
            params = inspect.signature(vars(klass)[method]).parameters
        except (TypeError, ValueError):
            return names, True
        names.update(n for n, p in params.items()
                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return names - {'self'}, False
        source = ''
        try:
            source = inspect.getsource(vars(klass)[method])
        except (OSError, TypeError):
            pass
        if not re.search(r'super\(.*\)\.' + method + r'\([^)]*\*\*kwargs',
                         source):
            return names - {'self'}, True
    return names - {'self'}, True


def check_keys(where, keys, allowed, open_set=False, owner=''):
    """Refuse a key of ``keys`` that ``allowed`` lacks: always when the set
    is closed, when close to an allowed one when it is open."""
    for key in keys:
        if key in allowed or key == '_scope_':  # every registry reads it
            continue
        closest = _closest(key, allowed)
        if open_set and not closest:
            continue
        hint = f' (did you mean `{closest}`?)' if closest else ''
        takes = ', '.join(sorted(allowed))
        raise StrictConfigError(
            f'config: {where}.{key}: {owner or where} does not read '
            f'`{key}`{hint}; it reads: {takes}')


def _registered(registry, type_name, scope):
    """The class registered as ``type_name`` (None when not found: the
    registry's own error reports it when the Runner builds it)."""
    if not isinstance(type_name, str):
        return type_name if inspect.isclass(type_name) else None
    try:
        with registry.switch_scope_and_registry(scope) as scoped:
            return scoped.get(type_name)
    except Exception:  # noqa: BLE001 (an unknown scope / import error)
        return None


def _check_class_cfg(where, cfg, cls, drop=(), extra=()):
    names, open_set = accepted_args(cls)
    allowed = (names - set(drop)) | set(extra)
    check_keys(where, list(cfg), allowed, open_set, owner=cls.__name__)


LOOP_ARGS = ('runner', 'dataloader', 'evaluator')


def _check_loop(cfg, key, scope):
    from mmengine.registry import LOOPS
    from mmengine.runner import (EpochBasedTrainLoop, IterBasedTrainLoop,
                                 TestLoop, ValLoop)
    loop = cfg.get(key)
    if not isinstance(loop, dict):
        return
    if 'type' in loop:
        cls = _registered(LOOPS, loop['type'], loop.get('_scope_', scope))
        extra = ('type', )
    elif key == 'train_cfg':
        cls = EpochBasedTrainLoop if loop.get('by_epoch', True) else \
            IterBasedTrainLoop
        extra = ('by_epoch', )
    else:
        cls = ValLoop if key == 'val_cfg' else TestLoop
        extra = ()
    if cls is not None:
        _check_class_cfg(key, loop, cls, LOOP_ARGS, extra)


def _check_optim_wrapper(cfg, scope):
    from mmengine.optim.optimizer import default_constructor
    from mmengine.registry import OPTIM_WRAPPERS
    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict):
        return
    constructor = wrapper.get('constructor', 'DefaultOptimWrapperConstructor')
    default = constructor == 'DefaultOptimWrapperConstructor'
    if default or 'optimizer' in wrapper:
        cls = _registered(OPTIM_WRAPPERS, wrapper.get('type', 'OptimWrapper'),
                          scope)
        if cls is not None:
            names, open_set = accepted_args(cls)
            allowed = names | {'type', 'optimizer', 'paramwise_cfg',
                               'constructor'}
            check_keys('optim_wrapper', list(wrapper), allowed,
                       open_set or not default, owner=cls.__name__)
    paramwise = wrapper.get('paramwise_cfg')
    if default and isinstance(paramwise, dict):
        allowed = _source_gets(
            default_constructor,
            r"paramwise_cfg(?:\.get\(|\[)\s*'(\w+)'") | {'custom_keys'}
        check_keys('optim_wrapper.paramwise_cfg', list(paramwise), allowed,
                   owner='DefaultOptimWrapperConstructor')


def _check_randomness(cfg):
    from mmengine.runner import Runner
    randomness = cfg.get('randomness')
    if isinstance(randomness, dict):
        names, _ = accepted_args(Runner, 'set_randomness')
        check_keys('randomness', list(randomness), names,
                   owner='Runner.set_randomness')


def _check_hooks(cfg, scope):
    from mmengine.registry import HOOKS
    hooks = [(f'custom_hooks[{i}]', h)
             for i, h in enumerate(cfg.get('custom_hooks') or [])]
    default = cfg.get('default_hooks') or {}
    if isinstance(default, dict):
        hooks += [(f'default_hooks.{name}', h) for name, h in default.items()]
    for where, hook in hooks:
        if isinstance(hook, dict) and 'type' in hook:
            cls = _registered(HOOKS, hook['type'],
                              hook.get('_scope_', scope))
            if cls is not None:
                _check_class_cfg(where, hook, cls, extra=('type', 'priority'))


def _check_model(cfg, scope):
    """The arguments of nd_mmdet's own models (distillers)."""
    from mmengine.registry import MODELS
    model = cfg.get('model')
    if not isinstance(model, dict) or not isinstance(model.get('type'), str):
        return
    cls = _registered(MODELS, model['type'], model.get('_scope_', scope))
    if cls is not None and cls.__module__.startswith('nd_mmdet.'):
        _check_class_cfg('model', model, cls, extra=('type', ))
        for arg in ('distill_losses', 'connectors'):
            for name, part in (model.get(arg) or {}).items():
                if not isinstance(part, dict) or 'type' not in part:
                    raise StrictConfigError(
                        f'config: model.{arg}.{name} is {part!r}, not a '
                        "config dict with a 'type'; to drop it, leave it "
                        f'out (a config with model=dict({arg}=dict('
                        '_delete_=True, ...)))')


def check_config_keys(cfg, cfg_options=None, logger=None):
    """Check every key of the final config ``cfg`` as the module docstring
    says; raise :class:`StrictConfigError` (one line) on the first key that
    nothing reads; warn about the accepted unknown top-level keys that no
    other key uses either (rule 4; a helper that builds other values is
    silent). Returns those keys."""
    option_keys = {k.split('.')[0] for k in (cfg_options or {})}
    unused = check_top_level_keys(cfg, option_keys)
    scope = cfg.get('default_scope', 'mmengine')
    for key in ('train_cfg', 'val_cfg', 'test_cfg'):
        _check_loop(cfg, key, scope)
    _check_optim_wrapper(cfg, scope)
    _check_randomness(cfg)
    _check_hooks(cfg, scope)
    _check_model(cfg, scope)
    if unused:
        from mmengine.logging import print_log
        print_log(f'config: top-level keys {", ".join(unused)} are read by '
                  f'nothing known and used by no other key (kept; list keys '
                  f'read by your own code in {EXTRA_KEYS})', logger=logger or
                  'current', level=30)
    return unused
