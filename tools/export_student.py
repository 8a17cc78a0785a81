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
also writes the plain student config: CONFIG with ``model`` replaced by the
student's model config and our training-only hooks removed.
"""
import argparse
import copy
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nd_mmdet  # noqa: E402,F401  (applies nd_mmdet.compat before torchvision)
from nd_mmdet.utils.entrypoint import (fail, load_config,  # noqa: E402
                                       run_cli)

PREFIX = 'student.'
#: Hooks that only make sense for a distiller.
DISTILL_HOOKS = ('ClassCentersHook', 'DistillLossWarmupHook')


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
    student = {k[len(PREFIX):]: v for k, v in state_dict.items()
               if k.startswith(PREFIX)}
    if not student:
        raise ValueError(
            f'checkpoint {path} has no "{PREFIX}*" weights: it is not a '
            'distiller checkpoint (a plain model checkpoint needs no export)')
    return student


def check_against_student(model, state_dict, path):
    """Every key and shape of the built student is in ``state_dict``."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [k for k in own if k in state_dict
             and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if missing or unexpected or wrong:
        raise ValueError(
            f'the student weights of {path} do not match the student of the '
            f'config: missing {missing[:8]}, unexpected {unexpected[:8]}, '
            f'shape mismatches {wrong[:8]}')


def dataset_meta(ckpt, cfg):
    """The checkpoint's dataset_meta, else the config's test metainfo."""
    meta = ckpt.get('meta') or {}
    if meta.get('dataset_meta'):
        return meta['dataset_meta']
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    metainfo = dataset.get('metainfo')
    return dict(metainfo) if metainfo else None


def plain_config(cfg, student_cfg):
    """CONFIG with the student as its model and no distiller hooks."""
    cfg = copy.deepcopy(cfg)
    cfg.model = student_cfg
    hooks = [h for h in cfg.get('custom_hooks', []) or []
             if str(h.get('type', '')).split('.')[-1] not in DISTILL_HOOKS]
    cfg.custom_hooks = hooks
    cfg.pop('load_from', None)
    return cfg


def main():
    import torch
    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import load_model_config, safe_torch_load

    args = parse_args()
    cfg = load_config(args.config)
    if 'student' not in cfg.model:
        fail(f'{args.config}: model has no `student`: not a distiller config')
    ckpt = safe_torch_load(args.checkpoint, 'distiller checkpoint')
    if not isinstance(ckpt, dict):
        raise ValueError(f'{args.checkpoint} holds no state dict')
    state_dict = ckpt.get('state_dict', ckpt)
    state_dict = student_state_dict(state_dict, args.checkpoint)

    student_cfg = load_model_config(cfg.model.student, 'student')
    if 'data_preprocessor' in cfg.model and \
            'data_preprocessor' not in student_cfg:
        student_cfg['data_preprocessor'] = cfg.model.data_preprocessor
    check_against_student(
        MODELS.build(student_cfg.copy()), state_dict, args.checkpoint)

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

    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), args.out)
    print(f'exported {len(state_dict)} student tensors to {args.out}')
    if args.save_config:
        plain_config(cfg, student_cfg).dump(args.save_config)
        print(f'plain student config written to {args.save_config}')


if __name__ == '__main__':
    run_cli(main)
