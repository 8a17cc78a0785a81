"""nd_mmdet.compare.configs: the config digest that decides whether a
finished run is reused, and what is read from a config (metric, distiller,
best checkpoint)."""
import pytest

from nd_mmdet.compare.configs import inspect_config, parse_options
from tests.tools_runner import REPO

STUDENT = f'{REPO}/configs/demo/resnet8thin_fmnist-2k.py'
KD = f'{REPO}/configs/demo/kd_resnet8-resnet8thin_fmnist-2k.py'
DENSE = f'{REPO}/configs/demo/dense/retinanet_r18w8_fmnist-det-1k.py'


def test_parse_options():
    assert parse_options(['a.b=1', 'c=[1,2]', 'd=x']) == \
        {'a.b': 1, 'c': [1, 2], 'd': 'x'}
    assert parse_options(None) == {}
    with pytest.raises(ValueError, match="'oops' is not KEY=VALUE"):
        parse_options(['oops'])


def test_digest_ignores_seed_and_work_dir_but_not_settings():
    base = inspect_config(STUDENT)
    assert len(base.digest) == 64
    # the seed and the work dir differ between the runs of one config
    assert inspect_config(STUDENT, ['randomness.seed=7',
                                    'work_dir=/elsewhere']).digest == \
        base.digest
    # any other setting is a different config
    assert inspect_config(STUDENT, ['train_cfg.max_iters=10']).digest != \
        base.digest
    assert inspect_config(STUDENT, ['randomness.deterministic=True']
                          ).digest != base.digest
    assert (base.metric, base.distiller, base.save_best) == \
        ('accuracy/top1', False, False)


def test_digest_follows_the_teacher_checkpoint_contents(tmp_path):
    ckpt = tmp_path / 'teacher.pth'
    ckpt.write_bytes(b'weights v1')
    opts = [f'model.teacher_ckpt={ckpt}']
    first = inspect_config(KD, opts)
    assert first.distiller and first.teacher_ckpt == str(ckpt)
    assert inspect_config(KD, opts).digest == first.digest
    ckpt.write_bytes(b'weights v2')  # retrained in place
    assert inspect_config(KD, opts).digest != first.digest
    with pytest.raises(ValueError, match='teacher_ckpt .*missing.pth not '
                       'found'):
        inspect_config(KD, [f'model.teacher_ckpt={tmp_path}/missing.pth'])


def test_detection_metric_and_best_checkpoint(tmp_path):
    dense = inspect_config(DENSE)
    assert dense.metric == 'coco/bbox_mAP' and not dense.save_best
    # save_best counts only with a validation loop to choose the best
    config = tmp_path / 'validated.py'
    config.write_text(
        f"_base_ = ['{STUDENT}']\n"
        "default_hooks = dict(checkpoint=dict(save_best='auto'))\n"
        "val_cfg = dict(_delete_=True)\n"
        "val_dataloader = dict(_delete_=True, batch_size=8, "
        "dataset=dict(type='nd_mmdet.FashionMNIST', split='test'))\n"
        "val_evaluator = dict(_delete_=True, type='Accuracy')\n")
    assert inspect_config(str(config)).save_best
    assert not inspect_config(str(config), ['val_cfg=None']).save_best
