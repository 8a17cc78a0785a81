"""Neck distillation end to end through the command-line tools: the
repository's heterogeneous PKD config (FCOS teacher -> RetinaNet student),
shrunk to tiny models of tests/detector_zoo.py and the tiny COCO data, is
trained with tools/train.py and evaluated with tools/test.py (COCO box AP
printed); the checkpoint holds the student and the connector, no teacher.
"""
import torch

from tests.detector_zoo import tiny_detector
from tests.test_e2e.test_detection_e2e import SHRINK, write_config
from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import last_metrics, run_tool

PKD_CFG = 'configs/coco/neck/pkd/pkd_fcos_x101-retinanet_r50_1x_coco.py'
ITERS = 3


def model_file(path, family, width):
    """A config file holding one tiny zoo detector as its ``model``, every
    box kept at test (an untrained detector scores below the default
    threshold and would log no AP)."""
    model = tiny_detector(family, width=width)
    model['test_cfg']['score_thr'] = 0.0
    with open(path, 'w') as f:
        f.write(f"default_scope = 'mmdet'\nmodel = {model!r}\n")
    return str(path)


def pkd_tiny_config(tmp_path, student, teacher, ckpt, data_root, iters):
    """The repository's PKD config on the tiny models (student width 16,
    teacher 32: a ConvBNConnector) and the tiny COCO data."""
    return write_config(tmp_path / 'pkd_tiny.py', PKD_CFG, f"""
model = dict(
    student={student!r}, teacher={teacher!r}, teacher_ckpt={ckpt!r},
    connectors=dict(student_feats=dict(
        type='ConvBNConnector', in_channels=16, out_channels=32,
        num_levels=4)))
""" + SHRINK.format(iters=iters, root=data_root, classes=CLASSES))


def test_pkd_heterogeneous_train_and_test(tmp_path):
    from nd_mmdet.utils import build_model_from_spec
    data = write_tiny_coco(str(tmp_path / 'coco'), num_train=8, num_val=4)
    student = model_file(tmp_path / 'retinanet_tiny.py', 'retinanet', 1)
    teacher = model_file(tmp_path / 'fcos_tiny.py', 'fcos', 2)
    ckpt = str(tmp_path / 'fcos.pth')
    torch.manual_seed(0)
    torch.save(dict(state_dict=build_model_from_spec(teacher).state_dict()),
               ckpt)
    config = pkd_tiny_config(tmp_path, student, teacher, ckpt, data['root'],
                             ITERS)
    work = tmp_path / 'pkd'
    log = run_tool('train.py', config, '--work-dir', work).stdout
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log
    assert 'loss_pkd:' in log and 'loss_cls:' in log
    state = torch.load(work / f'iter_{ITERS}.pth',
                       weights_only=False)['state_dict']
    assert any(k.startswith('connectors.student_feats.') for k in state)
    assert all(k.startswith(('student.', 'connectors.')) for k in state)

    log = run_tool('test.py', config, work / f'iter_{ITERS}.pth',
                   '--work-dir', tmp_path / 'test').stdout
    assert 0.0 <= last_metrics(log, 'coco/bbox_mAP') <= 1.0
