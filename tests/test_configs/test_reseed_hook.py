"""Every (epoch-based) distillation config of the COCO, CIFAR-100 and
ImageNet sets reseeds per epoch (``nd_mmdet.ReseedPerEpochHook``), so that
a resumed run repeats the uninterrupted one
(tests/test_e2e/test_exact_resume*.py). The demos run an iteration loop,
where a per-epoch reseed does nothing for resume: they do not have it (and
their measured tables stay reproducible)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.tools_runner import REPO

FOLDERS = ('coco', 'cifar100', 'imagenet')
RESEED = 'nd_mmdet.ReseedPerEpochHook'


def top_level_configs(folder):
    """The runnable configs of ``configs/<folder>`` (not ``_base_``)."""
    paths = glob.glob(osp.join(REPO, 'configs', folder, '**', '*.py'),
                      recursive=True)
    return sorted(p for p in paths if '/_base_/' not in p)


def is_distiller(cfg):
    return str(cfg.model.get('type', '')).endswith('Distiller')


@pytest.mark.parametrize('folder', FOLDERS)
def test_every_distillation_config_reseeds_per_epoch(folder):
    distillers = []
    for path in top_level_configs(folder):
        cfg = Config.fromfile(path)
        if not is_distiller(cfg):
            continue
        distillers.append(path)
        hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
        assert hooks.count(RESEED) == 1, (path, hooks)
    # each folder has distillers and models trained alone: both were seen
    assert 0 < len(distillers) < len(top_level_configs(folder))
