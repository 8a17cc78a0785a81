"""The demos' claim "same data, schedule and seeds for every method": every
student config of a demo (alone and distilled) resolves to the same training
data and schedule, and the cosine decay ends at the last iteration."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.tools_runner import REPO

DEMOS = dict(cls=('configs/demo', '-2k.py'),
             dense=('configs/demo/dense', '-1k.py'))


def student_configs(demo):
    folder, suffix = DEMOS[demo]
    paths = sorted(glob.glob(osp.join(REPO, folder, f'*{suffix}')))
    assert len(paths) >= 4, f'{folder}: expected the demo student configs'
    return paths


def training_setup(path):
    cfg = Config.fromfile(path)
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset.pop('data_root', None)
    return dict(
        dataset=dataset,
        batch_size=cfg.train_dataloader.batch_size,
        train_cfg=cfg.train_cfg.to_dict(),
        schedule=[dict(s) for s in cfg.param_scheduler],
        optim=cfg.optim_wrapper.to_dict())


@pytest.mark.parametrize('demo', sorted(DEMOS))
def test_students_share_data_and_schedule(demo):
    paths = student_configs(demo)
    reference = training_setup(paths[0])
    max_iters = reference['train_cfg']['max_iters']
    assert reference['schedule'][-1]['end'] == max_iters, (
        f'{osp.basename(paths[0])}: the decay ends at '
        f"{reference['schedule'][-1]['end']}, training at {max_iters}")
    for path in paths[1:]:
        assert training_setup(path) == reference, osp.basename(path)
