"""What tools/compare.py needs to know of a config before anything runs.

- :func:`parse_options`: ``--cfg-options`` strings (``key=value``) as the
  dict mmengine's ``DictAction`` makes of them.
- :func:`config_digest`: the sha256 of the resolved config (``_base_``
  files, environment substitutions and the options merged; ``work_dir``,
  ``launcher`` and ``randomness.seed`` left out: they differ between the
  runs of one config) plus the sha256 of the distiller's ``teacher_ckpt``
  file when there is one. A finished run is reused only for the same
  digest and seed.
- :func:`inspect_config`: that digest and the facts the comparison reads:
  the primary metric (``coco/bbox_mAP`` when the test evaluator is a COCO
  metric, else ``accuracy/top1``), whether the model is a distiller,
  whether a best checkpoint is kept (``save_best``).
"""
import hashlib
import json
import os.path as osp
from dataclasses import dataclass

#: Primary metric by task (test evaluator with a COCO metric or not).
DETECTION_METRIC = 'coco/bbox_mAP'
CLASSIFICATION_METRIC = 'accuracy/top1'


def parse_options(options):
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}`` (mmengine's
    ``DictAction`` parsing).

    Raises:
        ValueError: an option without ``=`` (named).
    """
    from mmengine.config import DictAction
    parsed = {}
    for option in options or ():
        if '=' not in option:
            raise ValueError(f'--cfg-options: {option!r} is not KEY=VALUE')
        key, value = option.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    return parsed


def _digest_text(cfg):
    data = cfg.to_dict()
    for key in ('work_dir', 'launcher'):
        data.pop(key, None)
    if isinstance(data.get('randomness'), dict):
        data['randomness'] = {
            k: v
            for k, v in data['randomness'].items() if k != 'seed'
        }
    return json.dumps(data, sort_keys=True, default=str)


def _teacher_ckpt(cfg):
    model = cfg.get('model')
    ckpt = model.get('teacher_ckpt') if isinstance(model, dict) else None
    return ckpt if isinstance(ckpt, str) and ckpt else None


def _is_distiller(cfg):
    model = cfg.get('model')
    return isinstance(model, dict) and 'student' in model and \
        'teacher' in model


def _is_detection(cfg):
    metrics = cfg.get('test_evaluator') or {}
    metrics = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    return any('Coco' in str(m.get('type', '')) for m in metrics
               if isinstance(m, dict))


@dataclass(frozen=True)
class ConfigInfo:
    """See the module doc."""
    path: str
    digest: str
    metric: str
    distiller: bool
    save_best: bool
    teacher_ckpt: str | None


def inspect_config(path, options=None):
    """Load ``path`` as tools/train.py does (``options`` merged) and
    describe it (:class:`ConfigInfo`).

    Raises:
        ValueError: the distiller's ``teacher_ckpt`` file is missing.
    """
    from nd_mmdet.utils import file_digest
    from nd_mmdet.utils.entrypoint import load_config
    path = osp.abspath(path)
    cfg = load_config(path, parse_options(options) or None)
    sha = hashlib.sha256(_digest_text(cfg).encode())
    ckpt = _teacher_ckpt(cfg)
    if ckpt is not None:
        if not osp.isfile(ckpt):
            raise ValueError(f'{path}: model.teacher_ckpt {ckpt} not found '
                             '(relative paths are read from the current '
                             'directory)')
        sha.update(file_digest(ckpt, length=64).encode())
    checkpoint_hook = (cfg.get('default_hooks') or {}).get('checkpoint') \
        or {}
    return ConfigInfo(
        path=path,
        digest=sha.hexdigest(),
        metric=DETECTION_METRIC if _is_detection(cfg) else
        CLASSIFICATION_METRIC,
        distiller=_is_distiller(cfg),
        save_best=bool(checkpoint_hook.get('save_best'))
        and cfg.get('val_cfg') is not None
        and cfg.get('val_dataloader') is not None,
        teacher_ckpt=osp.abspath(ckpt) if ckpt else None)
