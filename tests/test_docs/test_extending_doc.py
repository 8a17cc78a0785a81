"""docs/extending.md's example runs as written: its loss module and its
config (kept outside the repository, base given as an ``nd_mmdet::``
path) build a distiller whose loss step gives the new loss."""
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config

from tests.tools_runner import REPO

DOC = osp.join(REPO, 'docs', 'extending.md')


def python_blocks():
    """``{first-line comment path: code}`` of the page's python blocks."""
    text = open(DOC, encoding='utf-8').read()
    blocks = re.findall(r'```python\n(.*?)```', text, flags=re.S)
    return {b.splitlines()[0].split()[1]: b for b in blocks}


@pytest.fixture
def project(tmp_path, monkeypatch):
    blocks = python_blocks()
    for name, code in blocks.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path / 'my_project'))
    yield tmp_path / 'my_project'
    sys.modules.pop('my_loss', None)


def test_own_loss_from_own_project(project, tmp_path):
    from mmengine.utils import import_modules_from_strings
    from mmpretrain.structures import DataSample

    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import load_model_config
    torch.set_num_threads(1)
    cfg = Config.fromfile(str(project / 'configs' /
                              'cos_resnet56-resnet20.py'))
    assert cfg.custom_imports.imports == ['nd_mmdet', 'my_loss']
    import_modules_from_strings(cfg.custom_imports.imports)
    teacher = MODELS.build(load_model_config(cfg.model.teacher))
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg.model.teacher_ckpt = str(ckpt)
    model = MODELS.build(cfg.model)
    model.set_class_centers(torch.rand(*model.expected_centers_shape()) + .1)
    samples = [DataSample().set_gt_label(i) for i in (3, 7)]
    losses = model.loss(torch.randn(2, 3, 32, 32), samples)
    assert {'loss_cos', 'loss_kd', 'loss_nd'} <= set(losses)
    assert 0 <= float(losses['loss_cos']) <= 2
    losses['loss_cos'].backward()
