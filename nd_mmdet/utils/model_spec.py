"""Build a model from a config dict, a local config file or a package config.

A distiller's ``student`` / ``teacher`` may be given as

- a dict: ``dict(type='mmpretrain.ImageClassifier', backbone=...)``; a scope
  prefix on ``type`` becomes the ``_scope_`` of the build, so the model's own
  sub-modules (``backbone=dict(type='ResNet')``) resolve in that package;
- a local config path: ``'configs/cifar100/resnet/resnet20_cifar100.py'``;
- a package config: 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py';
- a named config with overrides: ``dict(config='mmdet::...py',
  roi_head=dict(bbox_head=dict(num_classes=1)))``. The other keys are
  merged into the named config's model dict with mmengine's ConfigDict
  semantics (nested dicts merge, ``_delete_=True`` replaces, lists and
  values replace). A top-level key the named model does not have is an
  error naming it (a typo would otherwise be passed to the model's
  constructor, or ignored).

A relative config path (``'resnet20.py'``, ``'../models/x.py'``) given in
a config file resolves against that file's folder, as ``_base_`` does
(``load_model_config(..., base_dir=...)``; the tools pass the folder of the
config they were given, so in a ``_base_`` file use ``{{fileDirname}}``).
For compatibility, a path that does not exist there but does from the
working directory is read from the working directory; when neither
exists the error names both.

For a config file the ``model`` field is used, with the file's
``default_scope`` and, where the model has none, its top-level
``data_preprocessor`` (MMPretrain keeps it there).
"""
import copy
import os.path as osp

from mmengine.config import Config, ConfigDict


#: Key of a dict spec that names a config file (the other keys override).
CONFIG_KEY = 'config'


def load_model_config(spec, name='model', base_dir=None):
    """Return the model config dict described by ``spec`` (see module doc).

    ``base_dir``: the folder of the config file ``spec`` was written in;
    a relative path is looked up there first, then in the working
    directory (None: the working directory only).

    Raises:
        FileNotFoundError: a config path that does not exist (named).
        TypeError: a spec that is neither a dict nor a str.
        ValueError: a config file without a ``model`` field; an override
            key the named model does not have.
    """
    if isinstance(spec, (dict, ConfigDict)) and CONFIG_KEY in spec:
        return _named_with_overrides(spec, name, base_dir)
    if isinstance(spec, (dict, ConfigDict)):
        return _scope_from_type(ConfigDict(copy.deepcopy(dict(spec))))
    if not isinstance(spec, str):
        raise TypeError(f'{name} must be a config dict or a config file path, '
                        f'got {type(spec).__name__}')
    if '::' in spec:
        from mmengine.hub import get_config
        try:
            file_cfg = get_config(spec)
        except (FileNotFoundError, ValueError) as err:
            raise FileNotFoundError(
                f'{name}: package config {spec!r} not found ({err})') from err
    else:
        file_cfg = Config.fromfile(resolve_config_path(spec, name, base_dir))
    if 'model' not in file_cfg:
        raise ValueError(f'{name}: config {spec} has no `model` field')
    model_cfg = copy.deepcopy(file_cfg.model)
    if 'default_scope' in file_cfg and '_scope_' not in model_cfg:
        model_cfg['_scope_'] = file_cfg.default_scope
    if 'data_preprocessor' not in model_cfg and \
            'data_preprocessor' in file_cfg:
        model_cfg['data_preprocessor'] = copy.deepcopy(
            file_cfg.data_preprocessor)
    return _scope_from_type(model_cfg)


def resolve_config_path(path, name='model', base_dir=None):
    """The file a config path names: absolute as is; relative, first
    against ``base_dir`` (the referring config's folder), then against the
    working directory.

    Raises:
        FileNotFoundError: naming ``name`` and every place looked at.
    """
    tried = [path]
    if base_dir is not None and not osp.isabs(path):
        tried.insert(0, osp.normpath(osp.join(base_dir, path)))
    for candidate in tried:
        if osp.isfile(candidate):
            return candidate
    where = (f'{tried[0]} (next to the config) or {osp.abspath(path)} '
             '(from the working directory)' if len(tried) == 2 else path)
    raise FileNotFoundError(f'{name}: config file not found: {where}')


def distiller_part_config(model_cfg, role):
    """The model config of a distiller's ``role`` (``'student'`` /
    ``'teacher'``) as the distiller builds it for the student: where the
    part has no ``data_preprocessor``, the distiller's (MMPretrain configs
    keep it at the top level) configures it."""
    part = load_model_config(model_cfg[role], role)
    preprocessor = model_cfg.get('data_preprocessor')
    if isinstance(preprocessor, dict) and 'data_preprocessor' not in part:
        part['data_preprocessor'] = copy.deepcopy(preprocessor)
    return part


def _named_with_overrides(spec, name, base_dir=None):
    """``dict(config=PATH, **overrides)``: the model of PATH with the
    overrides merged in (``ConfigDict.merge``)."""
    overrides = ConfigDict(copy.deepcopy(dict(spec)))
    path = overrides.pop(CONFIG_KEY)
    if not isinstance(path, str):
        raise ValueError(f'{name}.{CONFIG_KEY} must be a config file path, '
                        f'got {type(path).__name__}')
    model_cfg = load_model_config(path, name, base_dir)
    unknown = [k for k in overrides
               if k not in model_cfg and not k.startswith('_')]
    if unknown:
        raise ValueError(
            f'{name}: the model of {path} has no field {unknown[0]!r} '
            f'(its fields: {sorted(model_cfg)}); overrides of a named '
            'config can only change existing fields')
    model_cfg.merge(overrides)
    return model_cfg


def _scope_from_type(cfg):
    """``type='pkg.Name'`` without ``_scope_`` -> ``_scope_='pkg'``, so
    the model's sub-modules are looked up in ``pkg`` too."""
    type_name = cfg.get('type')
    if '_scope_' not in cfg and isinstance(type_name, str) \
            and '.' in type_name:
        cfg['_scope_'], cfg['type'] = type_name.split('.', 1)
    return cfg


def build_model_from_spec(spec, name='model'):
    """Build an ``nn.Module`` from ``spec`` through the MODELS registry."""
    from nd_mmdet.registry import MODELS
    return MODELS.build(load_model_config(spec, name))
