"""Checkpoints that load (almost) nothing: load_from on a distiller, a
Pretrained init whose keys miss (nd_mmdet/utils/load_from_check.py and the
compat wrapper of mmengine's load_state_dict)."""
import pytest
import torch
from mmengine.model import BaseModule
from torch import nn

from nd_mmdet.utils.load_from_check import (check_load_from,
                                            check_pretrained_load)
from nd_mmdet.utils.state_dict_match import checkpoint_kind


def net(depth):
    """A plain model: ``depth`` 4x4 layers and a head (keys ``layers.i.*``,
    ``head.*``): depth 4 is the student, 8 the teacher (same widths, so
    the teacher's file also holds every student key)."""
    return nn.ModuleDict(dict(layers=nn.Sequential(
        *[nn.Linear(4, 4) for _ in range(depth)]), head=nn.Linear(4, 3)))


class Distiller(nn.Module):
    """The state-dict layout of our distillers: ``student.*`` and a
    connector; the teacher outside ``_modules``."""

    def __init__(self):
        super().__init__()
        self.student = net(4)
        self.connector = nn.Linear(4, 4)
        self.__dict__['teacher'] = net(8)
        self.has_teacher = True


def test_checkpoint_kinds():
    model = Distiller()
    assert checkpoint_kind(model, model.state_dict()) == 'model'
    assert checkpoint_kind(model, model.student.state_dict()) == 'student'
    assert checkpoint_kind(model, model.teacher.state_dict()) == 'teacher'
    assert checkpoint_kind(model, net(2).state_dict()) == 'other'


def test_load_from_of_this_model_or_a_new_head_passes():
    model = Distiller()
    check_load_from(model, dict(state_dict=model.state_dict()), 'a.pth')
    ddp = {f'module.{k}': v for k, v in model.state_dict().items()}
    check_load_from(model, dict(state_dict=ddp), 'a.pth')
    other_head = dict(model.state_dict())
    other_head['student.head.weight'] = torch.zeros(7, 4)
    check_load_from(model, dict(state_dict=other_head), 'a.pth')


@pytest.mark.parametrize('kind,needles', [
    ('student', ['plain checkpoint of the student', 'loads 0 of the 12',
                 "model.student.init_cfg=dict(type='Pretrained', "
                 "checkpoint='/c/x.pth')",
                 'model.student.init_cfg.checkpoint=/c/x.pth']),
    ('teacher', ["the teacher's checkpoint", 'loads 0 of the 12',
                 'model.teacher_ckpt']),
    ('other', ['another model', 'loads 0 of the 12', 'missing']),
])
def test_load_from_that_loads_nothing_says_what_the_file_is(kind, needles):
    model = Distiller()
    state = dict(student=model.student.state_dict(),
                 teacher=model.teacher.state_dict(),
                 other=net(2).state_dict())[kind]
    with pytest.raises(ValueError) as err:
        check_load_from(model, dict(state_dict=state), '/c/x.pth')
    assert str(err.value).startswith('load_from: /c/x.pth is ')
    for needle in needles:
        assert needle in str(err.value)


def test_half_loaded_is_the_threshold():
    """12 weights (10 student + 2 connector); 6 loaded pass, 5 do not."""
    model = Distiller()
    keys = sorted(model.state_dict())
    assert len(keys) == 12
    check_load_from(model, dict(state_dict={
        k: model.state_dict()[k] for k in keys[:6]}), 'a.pth')
    with pytest.raises(ValueError, match='loads 5 of the 12'):
        check_load_from(model, dict(state_dict={
            k: model.state_dict()[k] for k in keys[:5]}), 'a.pth')


class Backbone(BaseModule):

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.layers = nn.Sequential(*[nn.Linear(4, 4) for _ in range(3)])


def _save(tmp_path, state):
    path = str(tmp_path / 'pre.pth')
    torch.save(dict(state_dict=state), path)
    return path


def test_pretrained_init_that_loads_nothing_stops(tmp_path):
    """A detector checkpoint (keys ``backbone.*``) as the backbone's
    Pretrained init without ``prefix``: mmengine alone only warns."""
    import nd_mmdet.compat
    assert 'pretrained-load-check' in nd_mmdet.compat.APPLIED
    source = Backbone()
    path = _save(tmp_path, {f'backbone.{k}': v
                            for k, v in source.state_dict().items()})
    model = Backbone(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    assert 'loads 0 of the 6 weights of Backbone' in str(err.value)
    assert "prefix='backbone.'" in str(err.value)
    assert path in str(err.value)


def test_pretrained_init_that_loads_passes_and_loads(tmp_path):
    source = Backbone()
    path = _save(tmp_path, {f'backbone.{k}': v
                            for k, v in source.state_dict().items()})
    model = Backbone(init_cfg=dict(type='Pretrained', checkpoint=path,
                                   prefix='backbone.'))
    model.init_weights()
    assert torch.equal(model.layers[2].weight, source.layers[2].weight)
    plain = Backbone(init_cfg=dict(type='Pretrained',
                                   checkpoint=_save(tmp_path,
                                                    source.state_dict())))
    plain.init_weights()
    assert torch.equal(plain.layers[0].bias, source.layers[0].bias)


def test_direct_pretrained_check_counts_shapes():
    module = Backbone()
    state = {k: torch.zeros(5, 5) if k.endswith('weight') else v
             for k, v in module.state_dict().items()}
    check_pretrained_load(module, state, 'x.pth')  # 3 of 6: half loads
    state['layers.0.bias'] = torch.zeros(5)
    with pytest.raises(ValueError, match='loads 2 of the 6'):
        check_pretrained_load(module, state, 'x.pth')
