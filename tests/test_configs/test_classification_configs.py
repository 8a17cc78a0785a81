"""The CIFAR-100 and ImageNet classification configs: every file loads, every
CIFAR model builds (and each X++ distiller runs one loss step against a
random teacher), and the distillation weights are the published ones
(method.md, section 3)."""
import copy
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import nd_mmdet  # noqa: F401  (compat before torchvision / mmpretrain)
from nd_mmdet.registry import MODELS
from nd_mmdet.utils import load_model_config

HEALTH = dict(type='nd_mmdet.TrainingHealthHook')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# ---------------------------------------------------------------- the tables
# pair -> KD++ (kd, nd), DKD++ (alpha, beta, nd), DIST++ (kd, nd),
# ReviewKD++ (hcl, nd), projector (student -> teacher width) or None.
CIFAR_TABLE = {
    'resnet56-resnet20':
    dict(kd=(1.0, 2.0), dkd=(2.5, 4.0, 3.5), dist=(2.0, 1.0),
         reviewkd=(1.2, 1.0), proj=None),
    'wrn40-2-wrn40-1':
    dict(kd=(1.0, 1.5), dkd=(1.0, 6.0, 1.0), dist=(2.5, 3.0),
         reviewkd=(5.0, 4.0), proj=(64, 128)),
    'resnet32x4-resnet8x4':
    dict(kd=(3.5, 2.0), dkd=(2.0, 8.0, 0.5), dist=(1.5, 4.0),
         reviewkd=(8.0, 1.0), proj=None),
    'resnet50-mobilenetv2':
    dict(kd=(3.0, 0.5), dkd=(0.5, 8.0, 1.0), dist=(7.0, 1.0),
         reviewkd=(6.0, 2.0), proj=(1280, 2048)),
    'resnet32x4-shufflenetv1':
    dict(kd=(2.5, 1.5), dkd=(0.5, 8.0, 4.0), dist=(2.5, 3.0),
         reviewkd=(7.0, 1.0), proj=(960, 256)),
    'resnet32x4-shufflenetv2':
    dict(kd=(4.0, 0.5), dkd=(0.5, 6.0, 0.5), dist=(3.0, 4.0),
         reviewkd=(8.0, 1.5), proj=(1024, 256)),
}
IMAGENET_TABLE = {
    'resnet34-resnet18':
    dict(kd=(2.5, 1.0), dkd=(0.8, 0.5, 1.0), reviewkd=(1.0, 3.0), proj=None),
    'resnet50-resnet18':
    dict(kd=(4.0, 1.0), dkd=(0.6, 0.5, 2.0), reviewkd=(3.0, 2.0),
         proj=(512, 2048)),
    'resnet101-resnet18':
    dict(kd=(3.5, 4.0), dkd=(0.8, 0.5, 1.0), reviewkd=(3.0, 1.0),
         proj=(512, 2048)),
    'resnet152-resnet18':
    dict(kd=(4.0, 2.0), dkd=(1.0, 1.0, 1.0), reviewkd=(3.0, 1.0),
         proj=(512, 2048)),
    'resnet50-mobilenetv1':
    dict(kd=(4.0, 1.0), dkd=(0.8, 1.0, 1.0), reviewkd=(8.0, 4.0),
         proj=(1024, 2048)),
}
DATASETS = {
    'cifar100': dict(table=CIFAR_TABLE, T=4.0, warmup=20,
                     methods=('kd', 'dkd', 'dist', 'reviewkd')),
    'imagenet': dict(table=IMAGENET_TABLE, T=1.0, warmup=5,
                     methods=('kd', 'dkd', 'reviewkd')),
}
BASE_LOSS = dict(kd='loss_kd', dkd='loss_dkd', dist='loss_dist',
                 reviewkd='loss_hcl')
CIFAR_MODELS = ('resnet20', 'resnet56', 'resnet8x4', 'resnet32x4', 'wrn40-1',
                'wrn40-2', 'resnet50', 'mobilenetv2', 'shufflenetv1',
                'shufflenetv2')
IMAGENET_MODELS = ('resnet18', 'resnet34', 'resnet50', 'resnet101',
                   'resnet152', 'mobilenetv1')
SMALL_LR_STUDENTS = ('mobilenetv2', 'shufflenetv1', 'shufflenetv2')


def pair_student(pair, models=CIFAR_MODELS + IMAGENET_MODELS):
    (student, ) = [m for m in models if pair.endswith('-' + m)]
    return student


def method_path(dataset, method, pair):
    return osp.join('configs', dataset, method,
                    f'{method}_{pair}_{dataset}.py')


def all_configs(dataset):
    paths = glob.glob(
        osp.join(ROOT, 'configs', dataset, '**', '*.py'), recursive=True)
    return sorted(
        osp.relpath(p, ROOT) for p in paths if '/_base_/' not in p)


CIFAR_CONFIGS = all_configs('cifar100')
IMAGENET_CONFIGS = all_configs('imagenet')


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(osp.join(ROOT, path))


def load(path):
    """A private copy of the config (the cached one is never mutated)."""
    return copy.deepcopy(_load(path))


def model_cfg(cfg, build_teacher=False):
    """``cfg.model`` as tools/train.py builds it (top-level preprocessor
    merged in); distillers without their teacher unless asked."""
    model = copy.deepcopy(cfg.model)
    if 'data_preprocessor' in cfg:
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    if model.get('type') == 'ClassificationDistiller' and not build_teacher:
        model['build_teacher'] = False
    return model


def build(model):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model)


def head_width(spec):
    return load_model_config(spec).head.in_channels


# ------------------------------------------------------------- file sets
@pytest.mark.parametrize('dataset', list(DATASETS))
def test_every_pair_has_every_method(dataset):
    info = DATASETS[dataset]
    expected = set()
    for pair in info['table']:
        for method in info['methods']:
            expected.add(method_path(dataset, method, pair))
            expected.add(method_path(dataset, method + '++', pair))
    found = {p for p in all_configs(dataset) if '/classifiers/' not in p}
    assert found == expected
    models = CIFAR_MODELS if dataset == 'cifar100' else IMAGENET_MODELS
    classifiers = {p for p in all_configs(dataset) if '/classifiers/' in p}
    assert classifiers == {
        osp.join('configs', dataset, 'classifiers', f'{m}_{dataset}.py')
        for m in models
    }


@pytest.mark.parametrize('path', CIFAR_CONFIGS + IMAGENET_CONFIGS)
def test_config_loads(path):
    cfg = load(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'model' in cfg and 'train_dataloader' in cfg
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))


# ------------------------------------------------------------- building
@pytest.mark.parametrize('path', CIFAR_CONFIGS)
def test_cifar_config_builds(path):
    cfg = load(path)
    model = build(model_cfg(cfg))
    student = getattr(model, 'student', model)
    assert student.head.num_classes == 100
    assert type(student.data_preprocessor).__name__ == 'ClsDataPreprocessor'


@pytest.fixture(scope='module')
def random_teachers(tmp_path_factory):
    """teacher config path -> checkpoint of a randomly initialised teacher
    (saved once per teacher)."""
    root = tmp_path_factory.mktemp('teachers')
    cache = {}

    def get(spec):
        if spec not in cache:
            teacher = MODELS.build(load_model_config(spec))
            path = root / f'teacher{len(cache)}.pth'
            torch.save(dict(state_dict=teacher.state_dict()), path)
            cache[spec] = str(path)
        return cache[spec]

    return get


def one_loss_step(model, size, num_classes):
    """Run ``model.loss`` on a batch of 2 with random class centres."""
    from mmpretrain.structures import DataSample
    model.train()
    if model.needs_class_centers:
        model.set_class_centers(torch.randn(*model.expected_centers_shape()))
    inputs = torch.randn(2, 3, size, size)
    samples = [DataSample().set_gt_label(i) for i in (1, num_classes - 1)]
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    return losses


@pytest.mark.parametrize(
    'path', [p for p in CIFAR_CONFIGS if '++/' in p], ids=osp.basename)
def test_cifar_xpp_loss_step(path, random_teachers):
    """X++ wiring end to end: recorded taps, connectors, projector, ND."""
    cfg = load(path)
    model = model_cfg(cfg, build_teacher=True)
    model['teacher_ckpt'] = random_teachers(model['teacher'])
    losses = one_loss_step(build(model), 32, 100)
    expected = {'loss_cls', 'loss_nd'} | set(cfg.model.distill_losses)
    assert expected <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_imagenet_representative_models(random_teachers):
    """ImageNet models are large: build two (KD++ with a projector; the
    ReviewKD++ wiring through one loss step on 64-px inputs)."""
    cfg = load(method_path('imagenet', 'kd++', 'resnet50-resnet18'))
    model = build(model_cfg(cfg))
    assert model.connectors['student_embed'].fc.weight.shape == (2048, 512)
    assert model.student.head.num_classes == 1000

    cfg = load(method_path('imagenet', 'reviewkd++', 'resnet34-resnet18'))
    model = model_cfg(cfg, build_teacher=True)
    model['teacher_ckpt'] = random_teachers(model['teacher'])
    losses = one_loss_step(build(model), 64, 1000)
    assert {'loss_hcl', 'loss_nd'} <= set(losses)


# ------------------------------------------------------------- weights
def rows():
    for dataset, info in DATASETS.items():
        for pair in info['table']:
            for method in info['methods']:
                yield pytest.param(dataset, pair, method,
                                   id=f'{dataset}-{method}-{pair}')


@pytest.mark.parametrize('dataset,pair,method', list(rows()))
def test_published_weights(dataset, pair, method):
    info = DATASETS[dataset]
    weights = info['table'][pair][method]
    base = load(method_path(dataset, method, pair))
    plus = load(method_path(dataset, method + '++', pair))
    losses = base.model.distill_losses
    name = BASE_LOSS[method]
    assert list(losses) == [name]
    loss = losses[name]
    T = info['T']
    if method == 'kd':
        assert loss == dict(type='nd_mmdet.KDLoss', temperature=T,
                            loss_weight=weights[0])
    elif method == 'dkd':
        assert loss == dict(type='nd_mmdet.DKDLoss', alpha=weights[0],
                            beta=weights[1], temperature=T, loss_weight=1.0)
    elif method == 'dist':
        assert loss == dict(type='nd_mmdet.DISTLoss', beta=1.0, gamma=1.0,
                            tau=T, loss_weight=weights[0])
    else:
        assert loss == dict(type='nd_mmdet.HCLLoss', loss_weight=weights[0])

    # X++ = X + loss_nd with the published ND weight, nothing else changed
    # but the projector.
    nd = dict(type='nd_mmdet.NDLoss', loss_weight=weights[-1])
    assert plus.model.distill_losses == dict(**losses, loss_nd=nd)
    base_rest = {k: v for k, v in base.model.items()
                 if k not in ('distill_losses', 'connectors')}
    plus_rest = {k: v for k, v in plus.model.items()
                 if k not in ('distill_losses', 'connectors')}
    assert plus_rest == base_rest
    base_conn = dict(base.model.get('connectors', {}))
    plus_conn = dict(plus.model.get('connectors', {}))
    assert 'student_embed' not in base_conn
    projector = plus_conn.pop('student_embed', None)
    assert plus_conn == base_conn

    # The projector maps the student's embedding width to the teacher's.
    s_dim = head_width(base.model.student)
    t_dim = head_width(base.model.teacher)
    proj = info['table'][pair]['proj']
    if proj is None:
        assert projector is None and s_dim == t_dim
    else:
        assert (s_dim, t_dim) == proj
        assert projector == dict(type='nd_mmdet.EmbeddingProjector',
                                 in_channels=s_dim, out_channels=t_dim)

    # The warm-up scales exactly the base loss; centres hook first.
    for cfg in (base, plus):
        hooks = cfg.custom_hooks
        assert hooks[0] == dict(type='nd_mmdet.ClassCentersHook')
        assert hooks[1] == dict(type='nd_mmdet.DistillLossWarmupHook',
                                loss_names=(name, ),
                                warmup_epochs=info['warmup'])
        assert hooks[2] == dict(type='nd_mmdet.ReseedPerEpochHook')
        assert hooks[3] == HEALTH
        assert len(hooks) == 4

    if method == 'reviewkd':
        conn = base_conn['student_feats']
        assert conn['type'] == 'nd_mmdet.ReviewKDConnector'
        s_paths = base.model.student_paths['feats']
        t_paths = base.model.teacher_paths['feats']
        assert len(conn['in_channels']) == len(conn['out_channels']) == \
            len(s_paths) == len(t_paths)
        assert s_paths[-1] == t_paths[-1] == 'neck'
        assert (conn['in_channels'][-1], conn['out_channels'][-1]) == \
            (s_dim, t_dim)
        assert conn['mid_channels'] == (
            min(512, s_dim) if dataset == 'cifar100' else
            (256 if 'mobilenet' in pair else 512))


# ------------------------------------------------------------- schedules
@pytest.mark.parametrize('path', CIFAR_CONFIGS)
def test_cifar_schedule(path):
    cfg = load(path)
    name = osp.basename(path)[:-len('_cifar100.py')]
    student = name if '/classifiers/' in path else pair_student(name)
    opt = cfg.optim_wrapper.optimizer
    lr = 0.02 if student in SMALL_LR_STUDENTS else 0.1
    assert (opt.type, opt.lr, opt.momentum, opt.nesterov,
            opt.weight_decay) == ('SGD', lr, 0.9, True, 5e-4)
    assert cfg.param_scheduler.milestones == [150, 180, 210]
    assert cfg.train_cfg.max_epochs == 240
    assert cfg.train_dataloader.batch_size == 64  # x 2 GPUs = 128
    if 'teacher_ckpt' in cfg.model:
        teacher = cfg.model.teacher_ckpt.split('/')[1]
        assert cfg.model.teacher_ckpt == f'work_dirs/{teacher}/teacher.pth'
        assert osp.isfile(
            osp.join(ROOT, 'configs', 'cifar100', 'classifiers',
                     teacher + '.py'))


@pytest.mark.parametrize('path', IMAGENET_CONFIGS)
def test_imagenet_schedule_and_data(path):
    cfg = load(path)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.nesterov,
            opt.weight_decay) == ('SGD', 0.2, 0.9, True, 1e-4)
    assert cfg.param_scheduler.milestones == [30, 60, 90]
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size == 64  # x 8 GPUs = 512
    assert cfg.auto_scale_lr.base_batch_size == 512
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[loader].dataset
        assert (dataset.type, dataset.data_root) == ('ImageNet',
                                                     'data/imagenet')
    if 'teacher_ckpt' in cfg.model:
        teacher = osp.basename(path).split('-')[0].split('_')[-1]
        assert cfg.model.teacher_ckpt == (
            f'checkpoints/imagenet/{teacher}_torchvision_mmpretrain.pth')
