"""Export the student of a distiller checkpoint as a plain model checkpoint.

    python tools/export_student.py CONFIG CKPT OUT [--save-config PLAIN.py]

CONFIG is the distiller config the checkpoint was trained with, CKPT the
distiller checkpoint (``student.*`` and connector weights), OUT the new file:
``{'state_dict': <student weights, 'student.' prefix stripped>, 'meta':
{'dataset_meta': ..., ...}}``, which MMDetection's ``init_detector`` /
``tools/test.py`` (and MMPretrain's) load with the plain student config.
Connector weights (projector, ABF) are training-only and not exported.

The exported weights are checked against a freshly built student (every
key and shape must match) before anything is written. ``--save-config``
also writes the plain student config, loadable by MMDetection's /
MMPretrain's own tools without nd_mmdet installed: CONFIG with ``model``
replaced by the student's model config (overrides included), nd_mmdet's
hooks (class centres, loss warm-up / stop, per-epoch reseeding) and
top-level distiller parts (a connector config variable) removed,
``nd_mmdet`` dropped from ``custom_imports`` and ``default_scope`` set to
the student's package (``mmdet`` / ``mmpretrain``).

A config that still needs nd_mmdet after that (an nd_mmdet model part such
as the CIFAR backbones ``nd_mmdet.CifarResNet`` / ``MobileNetV1``, or an
nd_mmdet dataset: ``nd_mmdet.CIFAR100``, ``nd_mmdet.FashionMNIST``) cannot
be made plain: it is written with ``custom_imports=dict(imports=
['nd_mmdet'])`` kept, and one ``warning:`` line names the first key that
needs nd_mmdet. The CIFAR-100 and Fashion-MNIST classification configs are
such configs; the COCO and demo detection configs and the ImageNet ResNet
configs export plain.
"""
import argparse
import copy
import io
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nd_mmdet  # noqa: E402,F401  (nd_mmdet.compat before torchvision)
from nd_mmdet.compat import atomic_write_bytes  # noqa: E402
from nd_mmdet.utils.entrypoint import (fail, load_config,  # noqa: E402
                                       run_cli)
from nd_mmdet.utils.state_dict_match import (  # noqa: E402
    STUDENT_PREFIX, checkpoint_state_dict, describe, mismatch, with_prefix)

#: The package whose name must not remain in a plain config.
PACKAGE = 'nd_mmdet'


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export the student of a distiller checkpoint')
    parser.add_argument('config', help='distiller config file')
    parser.add_argument('checkpoint', help='distiller checkpoint')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument(
        '--save-config',
        help='also write the plain student config to this .py file')
    return parser.parse_args()


def student_state_dict(state_dict, path):
    """``student.*`` entries with the prefix stripped."""
    student = with_prefix(state_dict, STUDENT_PREFIX)
    if not student:
        raise ValueError(
            f'checkpoint {path} has no "{STUDENT_PREFIX}*" weights: it is '
            'not a distiller checkpoint (a plain model checkpoint needs no '
            'export)')
    return student


def check_against_student(model, state_dict, path):
    """Every key and shape of the built student is in ``state_dict``."""
    diff = mismatch(model.state_dict(), state_dict)
    if diff:
        raise ValueError(
            f'the student weights of {path} do not match the student of the '
            f'config: {describe(diff)}')


def dataset_meta(ckpt, cfg):
    """The checkpoint's dataset_meta, else the config's test metainfo."""
    meta = ckpt.get('meta') or {}
    if meta.get('dataset_meta'):
        return meta['dataset_meta']
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    metainfo = dataset.get('metainfo')
    return dict(metainfo) if metainfo else None


def is_ours(cfg, registry):
    """``cfg`` is a dict whose ``type`` is an nd_mmdet module of
    ``registry`` (``nd_mmdet.X``, or a bare name that it registers)."""
    type_name = cfg.get('type') if isinstance(cfg, dict) else None
    if not isinstance(type_name, str):
        return False
    return type_name.startswith(PACKAGE + '.') or \
        type_name in registry.module_dict


def package_references(value, path=''):
    """``(key path, value)`` of every string in ``value`` (nested dicts /
    lists) that names nd_mmdet."""
    if isinstance(value, dict):
        items = ((f'{path}.{k}' if path else str(k), v)
                 for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f'{path}.{i}', v) for i, v in enumerate(value))
    else:
        found = isinstance(value, str) and PACKAGE in value
        return [(path, value)] if found else []
    return [ref for key, v in items for ref in package_references(v, key)]


def plain_config(cfg, student_cfg):
    """CONFIG with the student as its model, without nd_mmdet.

    Returns:
        tuple: the config and the ``(key, value)`` references to nd_mmdet
        left in it (empty: plain; else ``custom_imports`` keeps nd_mmdet).
    """
    cfg = copy.deepcopy(cfg)
    model = copy.deepcopy(student_cfg)
    scope = model.pop('_scope_', None)
    if scope is not None:
        cfg.default_scope = scope
    cfg.model = model
    import nd_mmdet.engine  # noqa: F401  (registers the hooks)
    import nd_mmdet.models  # noqa: F401  (registers connectors, losses)
    from nd_mmdet.registry import HOOKS, MODELS
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) or []
                        if not is_ours(h, HOOKS)]
    # Top-level helpers of the distiller (a connector config shared by
    # several configs, e.g. ``student_embed_projector``).
    for key in [k for k, v in cfg.items() if is_ours(v, MODELS)]:
        cfg.pop(key)
    cfg.pop('load_from', None)
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    imports = [m for m in ([imports] if isinstance(imports, str) else imports)
               if m.split('.')[0] != PACKAGE]
    cfg.pop('custom_imports', None)
    if imports:
        cfg.custom_imports = dict(imports=imports,
                                  allow_failed_imports=False)
    refs = package_references(cfg.to_dict())
    if refs:
        cfg.custom_imports = dict(imports=imports + [PACKAGE],
                                  allow_failed_imports=False)
    return cfg, refs


def main():
    import torch
    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import safe_torch_load
    from nd_mmdet.utils.model_spec import distiller_part_config

    args = parse_args()
    cfg = load_config(args.config)
    if 'student' not in cfg.model:
        fail(f'{args.config}: model has no `student`: not a distiller config')
    ckpt = safe_torch_load(args.checkpoint, 'distiller checkpoint')
    state_dict = student_state_dict(
        checkpoint_state_dict(ckpt, args.checkpoint), args.checkpoint)

    student_cfg = distiller_part_config(cfg.model, 'student')
    # A deep copy: detectors write into their sub-configs while they build
    # (DETR-family heads get share_pred_layer / num_pred_layer /
    # as_two_stage), and the exported config must be the one the user
    # wrote, or MMDetection's own tools refuse to build it.
    check_against_student(
        MODELS.build(copy.deepcopy(student_cfg)), state_dict,
        args.checkpoint)

    meta = dict(
        exported_from=osp.abspath(args.checkpoint),
        distiller_config=osp.abspath(args.config))
    data_meta = dataset_meta(ckpt, cfg)
    if data_meta is not None:
        meta['dataset_meta'] = data_meta
    else:
        print('warning: no dataset_meta in the checkpoint or the config: '
              'MMDetection will assume the COCO classes', file=sys.stderr)
    for key in ('epoch', 'iter', 'mmengine_version'):
        if key in (ckpt.get('meta') or {}):
            meta[key] = ckpt['meta'][key]

    buffer = io.BytesIO()
    torch.save(dict(state_dict=state_dict, meta=meta), buffer)
    atomic_write_bytes(buffer.getvalue(), args.out)
    print(f'exported {len(state_dict)} student tensors to {args.out}')
    if args.save_config:
        plain, refs = plain_config(cfg, student_cfg)
        if args.save_config.endswith('.py'):
            atomic_write_bytes(plain.pretty_text.encode('utf-8'),
                               args.save_config)
        else:  # json / yaml: mmengine's dump, through the atomic put
            plain.dump(args.save_config)
        if refs:
            first = {}  # each value that needs nd_mmdet -> its first key
            for key, value in refs:
                first.setdefault(value, key)
            needs = ', '.join(f'{v!r} ({k})' for v, k in first.items())
            print(f'warning: {args.save_config} still needs {PACKAGE} for '
                  f'{needs}: written with {PACKAGE} in custom_imports; it '
                  f'runs only where {PACKAGE} is installed', file=sys.stderr)
            print(f'student config written to {args.save_config}')
        else:
            print(f'plain student config written to {args.save_config}')


if __name__ == '__main__':
    run_cli(main)
