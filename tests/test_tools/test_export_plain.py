"""tools/export_student.py --save-config writes a config that plain
MMDetection / MMPretrain load and build: no 'nd_mmdet' anywhere in it,
every ``type`` found in the student package's registries, the exported
weights loading strictly into the model it builds. A config that needs
nd_mmdet (CIFAR backbones) is written with nd_mmdet kept and one warning.

The distiller checkpoints are made from freshly built students (export
only renames and checks weights; training would add nothing here).
"""
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import Registry, init_default_scope

from nd_mmdet.registry import MODELS as ND_MODELS
from nd_mmdet.utils.entrypoint import load_config
from nd_mmdet.utils.model_spec import distiller_part_config
from tests.test_e2e.test_detection_e2e import export_student
from tests.tools_runner import REPO

DETECTION = [
    'configs/demo/dense/kd++_retinanet_r18w32-r18w8_fmnist-det-1k.py',
    'configs/demo/dense/pkd++_rtmdet_w32-w8_fmnist-det-1k.py',
    'configs/coco/kd++/kd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py',
]
IMAGENET = 'configs/imagenet/kd++/kd++_resnet34-resnet18_imagenet.py'
CIFAR = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'


def export(capsys, *args):
    """tools/export_student.py in this process: (stdout, stderr)."""
    capsys.readouterr()
    export_student(*args)
    out = capsys.readouterr()
    return out.out, out.err


def distiller_checkpoint(config, path):
    """A distiller checkpoint (``student.*``) of a fresh student; returns
    the student's state dict."""
    cfg = load_config(osp.join(REPO, config))
    torch.manual_seed(0)
    state = ND_MODELS.build(
        distiller_part_config(cfg.model, 'student')).state_dict()
    torch.save(dict(state_dict={'student.' + k: v for k, v in state.items()},
                    meta=dict(dataset_meta=dict(classes=('a', 'b')))), path)
    return state


#: Keys whose ``type`` names an mmcv op (looked up in ``mmcv.ops``), not a
#: registry entry.
OP_KEYS = ('nms', 'roi_layer')


def types_in(value):
    """Every registry ``type`` string of a nested config."""
    if isinstance(value, dict):
        own = [value['type']] if isinstance(value.get('type'), str) else []
        return own + [t for k, v in value.items() if k not in OP_KEYS
                      for t in types_in(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in types_in(v)]
    return []


def unresolved_types(cfg, package):
    """Types of ``cfg`` found in none of ``package``'s registries (with
    ``package`` as the default scope, as its own tools set it)."""
    module = importlib.import_module(f'{package}.registry')
    registries = [r for r in vars(module).values() if isinstance(r, Registry)]
    init_default_scope(package)
    return [t for t in types_in(cfg.to_dict())
            if all(r.get(t) is None for r in registries)]


def export_plain(config, tmp_path, capsys):
    """Export; return (written config, its text, student state, stderr)."""
    state = distiller_checkpoint(config, tmp_path / 'distiller.pth')
    plain = tmp_path / 'plain.py'
    out, err = export(capsys, osp.join(REPO, config),
                      tmp_path / 'distiller.pth', tmp_path / 'student.pth',
                      '--save-config', plain)
    return Config.fromfile(str(plain)), plain.read_text(), state, out, err


def build_and_load(cfg, registry, tmp_path):
    """Build the plain config's model with the package registry; load the
    exported weights strictly."""
    init_default_scope(cfg.default_scope)
    model = registry.build(cfg.model)
    exported = torch.load(tmp_path / 'student.pth', weights_only=True)
    model.load_state_dict(exported['state_dict'], strict=True)
    return model


@pytest.mark.parametrize('config', DETECTION)
def test_detection_export_is_plain_mmdet(config, tmp_path, capsys):
    from mmdet.registry import MODELS
    cfg, text, state, out, err = export_plain(config, tmp_path, capsys)
    assert 'nd_mmdet' not in text
    assert 'plain student config written to' in out and not err
    assert 'custom_imports' not in cfg
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_hooks == []
    assert 'load_from' not in cfg or cfg.load_from is None
    assert unresolved_types(cfg, 'mmdet') == []
    model = build_and_load(cfg, MODELS, tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_imagenet_export_is_plain_mmpretrain(tmp_path, capsys):
    from mmpretrain.registry import MODELS
    cfg, text, _, out, err = export_plain(IMAGENET, tmp_path, capsys)
    assert 'nd_mmdet' not in text
    assert 'custom_imports' not in cfg and not err
    assert cfg.default_scope == 'mmpretrain'
    # KD warm-up, class centres and reseeding were nd_mmdet hooks
    assert Config.fromfile(osp.join(REPO, IMAGENET)).custom_hooks
    assert cfg.custom_hooks == []
    assert unresolved_types(cfg, 'mmpretrain') == []
    build_and_load(cfg, MODELS, tmp_path)


def test_cifar_export_keeps_nd_mmdet_and_warns(tmp_path, capsys):
    cfg, text, _, out, err = export_plain(CIFAR, tmp_path, capsys)
    warnings = err.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith('warning: ')
    assert 'still needs nd_mmdet' in warnings[0]
    assert 'nd_mmdet.CifarResNet' in warnings[0]
    assert cfg.custom_imports.imports == ['nd_mmdet']
    assert 'plain student config' not in out
    assert "type='nd_mmdet.CifarResNet'" in text
    build_and_load(cfg, ND_MODELS, tmp_path)
