"""tools/analysis/feature_stats.py on detectors: the samples are the
ground-truth boxes (loaded before the resize, so they follow it), the
embeddings ND's box embeddings on the shared-stride neck levels; printed
numbers equal a direct computation; a NeckDistiller's projector is applied
and the teacher's centres used."""
import copy
import importlib.util
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.detector_zoo import test_pipeline as zoo_test_pipeline
from tests.detector_zoo import tiny_detector
from tests.tiny_coco import CLASSES, write_tiny_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
torch.set_num_threads(1)


def _load_tool():
    path = osp.join(REPO, 'tools', 'analysis', 'feature_stats.py')
    spec = importlib.util.spec_from_file_location('feature_stats_det', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(path, model, coco):
    loader = dict(
        batch_size=2, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CocoDataset', data_root=coco['root'],
                     ann_file=coco['val_ann'],
                     data_prefix=dict(img='val2017/'),
                     metainfo=dict(classes=CLASSES), test_mode=True,
                     pipeline=zoo_test_pipeline('retinanet')))
    with open(path, 'w') as f:
        f.write(f"default_scope = 'mmdet'\n"
                f"custom_imports = dict(imports=['nd_mmdet'])\n"
                f'model = {model!r}\ntest_dataloader = {loader!r}\n')
    return str(path)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import build_model_from_spec
    tmp = tmp_path_factory.mktemp('feature_stats_det')
    coco = write_tiny_coco(str(tmp / 'coco'), num_train=2, num_val=6)
    paths = {}
    for name, width in (('student', 1), ('teacher', 2)):
        torch.manual_seed(width)
        model = tiny_detector('retinanet', width=width)
        built = build_model_from_spec(model).eval()
        ckpt = str(tmp / f'{name}.pth')
        torch.save(dict(state_dict=built.state_dict()), ckpt)
        paths[name] = (_config(tmp / f'{name}.py', model, coco), ckpt, built)
    distiller_model = dict(
        type='nd_mmdet.NeckDistiller', student=tiny_detector('retinanet'),
        teacher=tiny_detector('retinanet', width=2),
        teacher_ckpt=paths['teacher'][1],
        connectors=dict(student_embed=dict(
            type='EmbeddingProjector', in_channels=16, out_channels=32)),
        distill_losses=dict(loss_nd=dict(type='NDLoss')))
    distiller = MODELS.build(dict(copy.deepcopy(distiller_model),
                                  build_teacher=False)).eval()
    ckpt = str(tmp / 'distiller.pth')
    torch.save(dict(state_dict=distiller.state_dict()), ckpt)
    paths['distiller'] = (_config(tmp / 'distiller.py', distiller_model,
                                  coco), ckpt, distiller)
    return dict(tmp=tmp, coco=coco, **paths)


def test_boxes_loaded_before_resize():
    tool = _load_tool()
    order = [s['type'] for s in tool.boxes_before_resize(
        zoo_test_pipeline('retinanet'))]
    assert order == ['LoadImageFromFile', 'LoadAnnotations', 'Resize',
                     'PackDetInputs']


def _direct_boxes(setup, tool):
    """The split's boxes through the reordered pipeline; checked against
    the json boxes times each image's scale factor."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(setup['student'][0])
    loader = tool.build_loader(cfg, 'test', 2, detection=True)
    with open(osp.join(setup['coco']['root'],
                       setup['coco']['val_ann'])) as f:
        ann = json.load(f)
    batches = list(loader)
    for batch in batches:
        for sample in batch['data_samples']:
            sx, sy = sample.metainfo['scale_factor']
            image_id = sample.metainfo['img_id']
            expected = [[x * sx, y * sy, (x + w) * sx, (y + h) * sy]
                        for a in ann['annotations']
                        if a['image_id'] == image_id
                        for x, y, w, h in [a['bbox']]]
            np.testing.assert_allclose(
                sample.gt_instances.bboxes.tensor.numpy(), expected,
                rtol=1e-5)
    return batches, len(ann['annotations'])


def _stats(emb, labels, centres_from):
    centres = torch.stack([centres_from[labels == k].mean(0)
                           if (labels == k).any() else
                           torch.zeros(centres_from.shape[1])
                           for k in range(int(labels.max()) + 1)])
    norms = emb.norm(dim=1)
    return norms.mean().item(), F.cosine_similarity(
        emb, centres[labels], dim=1).mean().item()


def _printed(text, side):
    match = re.search(rf'{side}\s+dim\s+(\d+)\s+norm mean (\S+)\s+median '
                      r'\S+\s+cosine to class centre mean (\S+)', text)
    assert match, text
    return int(match.group(1)), (float(match.group(2)),
                                 float(match.group(3)))


def _embeddings(setup, tool, student, teacher, projector=None):
    from nd_mmdet.models.distillers.gt_box_embeddings import (box_levels,
                                                              gt_boxes,
                                                              pool_boxes)
    batches, num_boxes = _direct_boxes(setup, tool)
    s_all, t_all, l_all = [], [], []
    with torch.no_grad():
        for batch in batches:
            data = student.data_preprocessor(batch, False)
            rois, labels = gt_boxes(data['data_samples'])
            strides = [8, 16, 32, 64, 128]
            levels = box_levels(rois, strides)
            s = pool_boxes(list(student.extract_feat(data['inputs'])),
                           strides, rois, levels)
            s_all.append(projector(s) if projector else s)
            t_all.append(pool_boxes(
                list(teacher.extract_feat(data['inputs'])), strides, rois,
                levels))
            l_all.append(labels)
    labels = torch.cat(l_all)
    assert len(labels) == num_boxes
    return torch.cat(s_all), torch.cat(t_all), labels


def test_plain_detector_with_teacher(setup, capsys):
    tool = _load_tool()
    config, ckpt, student = setup['student']
    t_config, t_ckpt, teacher = setup['teacher']
    result = tool.main([config, ckpt, '--out-dir',
                        str(setup['tmp'] / 'out_plain'), '--teacher-config',
                        t_config, '--teacher-ckpt', t_ckpt])
    text = capsys.readouterr().out
    s, t, labels = _embeddings(setup, tool, student, teacher)
    assert result['num_samples'] == len(labels)
    assert 'ground-truth boxes' in text and result['centres'] == 'own'
    assert _printed(text, 'student')[0] == 16
    np.testing.assert_allclose(_printed(text, 'student')[1],
                               _stats(s, labels, s), rtol=1e-4)
    np.testing.assert_allclose(_printed(text, 'teacher')[1],
                               _stats(t, labels, t), rtol=1e-4)


def test_neck_distiller_projected_and_teacher_centres(setup, capsys):
    tool = _load_tool()
    config, ckpt, distiller = setup['distiller']
    teacher = setup['teacher'][2]
    result = tool.main([config, ckpt, '--out-dir',
                        str(setup['tmp'] / 'out_distiller')])
    text = capsys.readouterr().out
    s, t, labels = _embeddings(setup, tool, distiller.student, teacher,
                               distiller.connectors['student_embed'])
    assert result['centres'] == 'teacher'
    assert _printed(text, 'student')[0] == 32
    np.testing.assert_allclose(_printed(text, 'student')[1],
                               _stats(s, labels, t), rtol=1e-4)
    below = (s.norm(dim=1) < t.norm(dim=1)).float().mean().item()
    assert result['student']['frac_norm_below_teacher'] == \
        pytest.approx(below)


def test_head_level_embeddings_of_a_dense_distiller(setup, capsys):
    """--embedding head: the DenseDistiller's own entries (the student's
    positive priors on each batch), projected student vs teacher."""
    from mmengine.config import Config

    from nd_mmdet.registry import MODELS
    tool = _load_tool()
    model = dict(
        type='nd_mmdet.DenseDistiller', student=tiny_detector('retinanet'),
        teacher=tiny_detector('retinanet', width=2),
        teacher_ckpt=setup['teacher'][1],
        connectors=dict(student_embed=dict(
            type='EmbeddingProjector', in_channels=16, out_channels=32)),
        distill_losses=dict(loss_nd=dict(type='NDLoss')))
    distiller = MODELS.build(copy.deepcopy(model)).eval()
    ckpt = str(setup['tmp'] / 'dense.pth')
    torch.save(dict(state_dict=distiller.state_dict()), ckpt)
    config = _config(setup['tmp'] / 'dense.py', model, setup['coco'])
    result = tool.main([config, ckpt, '--embedding', 'head', '--out-dir',
                        str(setup['tmp'] / 'out_head')])
    text = capsys.readouterr().out
    loader = tool.build_loader(Config.fromfile(config), 'test', 2, True)
    s_all, t_all, l_all = [], [], []
    with torch.no_grad():
        for batch in loader:
            data = distiller.data_preprocessor(batch, True)
            with distiller.frozen_student():
                _, values = distiller.forward_distill(data['inputs'],
                                                      data['data_samples'])
            s_all.append(values['student_embed'])
            t_all.append(values['teacher_embed'])
            l_all.append(values['labels'])
    s, t, labels = torch.cat(s_all), torch.cat(t_all), torch.cat(l_all)
    assert 0 < result['num_samples'] == len(labels)
    assert int(labels.max()) < len(CLASSES)  # positives only
    assert "head-level entries" in text and result['centres'] == 'teacher'
    np.testing.assert_allclose(_printed(text, 'student')[1],
                               _stats(s, labels, t), rtol=1e-4)
    with pytest.raises(SystemExit):
        tool.main([setup['distiller'][0], setup['distiller'][1],
                   '--embedding', 'head'])
