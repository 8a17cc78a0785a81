"""tools/analysis/feature_stats.py on tiny models and tiny Fashion-MNIST
files: the PNGs are written and the printed numbers equal a direct
computation."""
import importlib.util
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nd_mmdet.datasets.fashion_mnist import write_idx

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MEAN, STD = 72.94, 90.02


def _load_tool():
    path = osp.join(REPO, 'tools', 'analysis', 'feature_stats.py')
    spec = importlib.util.spec_from_file_location('feature_stats_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _classifier(channels, embed):
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(
            type='nd_mmdet.CifarResNet', arch='resnet8', channels=channels),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=10,
            in_channels=embed,
            loss=dict(type='CrossEntropyLoss')))


def _config_text(model, data_root):
    return (f"default_scope = 'mmpretrain'\n"
            f"custom_imports = dict(imports=['nd_mmdet'])\n"
            f'data_preprocessor = dict(num_classes=10, mean=[{MEAN}] * 3, '
            f'std=[{STD}] * 3, to_rgb=False)\n'
            f'model = {model!r}\n'
            f'test_dataloader = dict(batch_size=4, num_workers=0, '
            f"dataset=dict(type='nd_mmdet.FashionMNIST', "
            f"data_root={data_root!r}, split='test', "
            f"pipeline=[dict(type='PackInputs')]), "
            f"sampler=dict(type='DefaultSampler', shuffle=False))\n")


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Tiny data, a student classifier, a teacher classifier and a distiller
    (8-d student -> 16-d teacher through a projector), random weights."""
    from mmengine.registry import MODELS, init_default_scope
    tmp = tmp_path_factory.mktemp('feature_stats')
    root = str(tmp / 'data')
    import os
    os.makedirs(root)
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 10
    # class-dependent brightness so the embeddings differ by class
    images = np.clip(labels[:, None, None] * 20 +
                     rng.integers(0, 60, size=(30, 28, 28)), 0, 255)
    write_idx(osp.join(root, 't10k-images-idx3-ubyte.gz'), images)
    write_idx(osp.join(root, 't10k-labels-idx1-ubyte.gz'), labels)

    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    paths = {}
    student_cfg = _classifier((4, 4, 4, 8), 8)
    teacher_cfg = _classifier((4, 8, 8, 16), 16)
    for name, cfg in (('student', student_cfg), ('teacher', teacher_cfg)):
        model = MODELS.build(cfg)
        ckpt = str(tmp / f'{name}.pth')
        torch.save({'state_dict': model.state_dict()}, ckpt)
        config = str(tmp / f'{name}.py')
        with open(config, 'w') as f:
            f.write(_config_text(cfg, root))
        paths[name] = (config, ckpt, model.eval())

    distiller_model = dict(
        _scope_='nd_mmdet',
        type='ClassificationDistiller',
        student=student_cfg,
        teacher=paths['teacher'][0],
        teacher_ckpt=paths['teacher'][1],
        connectors=dict(
            student_embed=dict(
                type='EmbeddingProjector', in_channels=8, out_channels=16)),
        distill_losses=dict(loss_nd=dict(type='NDLoss')))
    distiller = MODELS.build(
        dict(distiller_model, build_teacher=False,
             data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor')))
    ckpt = str(tmp / 'distiller.pth')
    torch.save({'state_dict': distiller.state_dict()}, ckpt)
    config = str(tmp / 'distiller.py')
    with open(config, 'w') as f:
        f.write(_config_text(distiller_model, root))
    paths['distiller'] = (config, ckpt, distiller.eval())
    return dict(root=root, tmp=tmp, images=images, labels=labels, **paths)


def _inputs(images):
    x = torch.from_numpy(images.astype(np.float32))[:, None].repeat(
        1, 3, 1, 1)
    return (x - MEAN) / STD


def _embed(model, x):
    with torch.no_grad():
        return model.neck(model.backbone(x))[-1].flatten(1)


def _direct(emb, labels, centre_source):
    labels = torch.as_tensor(labels)
    centres = torch.stack(
        [centre_source[labels == k].mean(0) for k in range(10)])
    norms = emb.norm(dim=1)
    cos = F.cosine_similarity(emb, centres[labels], dim=1)
    return norms.mean().item(), norms.median().item(), cos.mean().item()


def _printed(text, side):
    match = re.search(
        rf'{side}\s+dim\s+(\d+)\s+norm mean (\S+)\s+median (\S+)\s+'
        r'cosine to class centre mean (\S+)', text)
    assert match, text
    return int(match.group(1)), tuple(float(v) for v in match.groups()[1:])


def _is_png(path):
    with open(path, 'rb') as f:
        return f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_classifier_own_centres(setup, capsys):
    tool = _load_tool()
    config, ckpt, model = setup['student']
    out_dir = str(setup['tmp'] / 'out_student')
    tool.main([config, ckpt, '--out-dir', out_dir, '--max-samples', '25'])
    text = capsys.readouterr().out
    emb = _embed(model, _inputs(setup['images'][:25]))
    expected = _direct(emb, setup['labels'][:25], emb)
    dim, printed = _printed(text, 'student')
    assert dim == 8 and not re.search(r'^\s+teacher\s+dim', text, re.M)
    assert 'no teacher given' in text
    assert 'class centres from the model itself' in text
    np.testing.assert_allclose(printed, expected, rtol=1e-5, atol=1e-6)
    for name in ('embedding_norms.png', 'center_cosine.png'):
        assert _is_png(osp.join(out_dir, name))
    with open(osp.join(out_dir, 'stats.json')) as f:
        stats = json.load(f)
    assert stats['num_samples'] == 25 and stats['centres'] == 'own'


def test_distiller_projected_student_vs_teacher_centres(setup, capsys):
    tool = _load_tool()
    config, ckpt, distiller = setup['distiller']
    out_dir = str(setup['tmp'] / 'out_distiller')
    tool.main([config, ckpt, '--out-dir', out_dir])
    text = capsys.readouterr().out
    x = _inputs(setup['images'])
    teacher = setup['teacher'][2]
    t = _embed(teacher, x)
    with torch.no_grad():
        s = distiller.connectors['student_embed'](
            _embed(distiller.student, x))
    labels = setup['labels']
    assert 'class centres from the teacher' in text
    assert 'projector' in text
    s_dim, s_printed = _printed(text, 'student')
    t_dim, t_printed = _printed(text, 'teacher')
    assert (s_dim, t_dim) == (16, 16)
    np.testing.assert_allclose(s_printed, _direct(s, labels, t), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(t_printed, _direct(t, labels, t), rtol=1e-5,
                               atol=1e-6)
    own = float(re.search(r'to its own class centre (\S+)\)', text).group(1))
    np.testing.assert_allclose(own, _direct(s, labels, s)[2], rtol=1e-5)
    below = float(re.search(r"below the teacher's on (\S+)%", text).group(1))
    expected = 100 * (s.norm(dim=1) < t.norm(dim=1)).float().mean().item()
    assert below == pytest.approx(expected, abs=0.006)
    for name in ('embedding_norms.png', 'center_cosine.png'):
        assert _is_png(osp.join(out_dir, name))


def test_student_with_other_teacher_width_uses_own_centres(setup, capsys):
    tool = _load_tool()
    config, ckpt, model = setup['student']
    t_config, t_ckpt, teacher = setup['teacher']
    tool.main([
        config, ckpt, '--out-dir', str(setup['tmp'] / 'out_pair'),
        '--teacher-config', t_config, '--teacher-ckpt', t_ckpt
    ])
    text = capsys.readouterr().out
    x = _inputs(setup['images'])
    s, t = _embed(model, x), _embed(teacher, x)
    labels = setup['labels']
    assert 'own class centres' in text
    np.testing.assert_allclose(
        _printed(text, 'student')[1], _direct(s, labels, s), rtol=1e-5,
        atol=1e-6)
    np.testing.assert_allclose(
        _printed(text, 'teacher')[1], _direct(t, labels, t), rtol=1e-5,
        atol=1e-6)


def test_missing_checkpoint_fails_clearly(setup):
    tool = _load_tool()
    config = setup['student'][0]
    with pytest.raises(SystemExit):
        tool.main([config, str(setup['tmp'] / 'nope.pth')])
