"""Build a model from a config dict, a local config file or a package config.

A distiller's ``student`` / ``teacher`` may be given as

- a dict: ``dict(type='mmpretrain.ImageClassifier', backbone=...)``; a scope
  prefix on ``type`` becomes the ``_scope_`` of the build, so the model's own
  sub-modules (``backbone=dict(type='ResNet')``) resolve in that package;
- a local config path: ``'configs/cifar100/resnet/resnet20_cifar100.py'``;
- a package config: 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'.

For a config file the ``model`` field is used, with the file's
``default_scope`` and, where the model has none, its top-level
``data_preprocessor`` (MMPretrain keeps it there).
"""
import copy
import os.path as osp

from mmengine.config import Config, ConfigDict


def load_model_config(spec, name='model'):
    """Return the model config dict described by ``spec`` (see module doc).

    Raises:
        FileNotFoundError: a config path that does not exist (named).
        TypeError: a spec that is neither a dict nor a str.
        ValueError: a config file without a ``model`` field.
    """
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
        if not osp.isfile(spec):
            raise FileNotFoundError(f'{name}: config file not found: {spec}')
        file_cfg = Config.fromfile(spec)
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
