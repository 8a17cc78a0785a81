"""The configs of docs/two_stage.md's ablation load through the tools'
strict config path, and each differs from the walkthrough's KD++ by the one
factor its row names."""
import os.path as osp

from nd_mmdet.utils.entrypoint import load_config

HERE = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))), 'benchmarks', 'two_stage_ablation', 'configs')


def model(name):
    return load_config(osp.join(HERE, f'{name}.py')).model


def box_head(cfg):
    return cfg.roi_head.bbox_head


def test_each_config_changes_one_factor():
    kdpp, kd = model('kd++'), model('kd')
    assert set(kd.distill_losses) == {'loss_kd'}
    assert set(kdpp.distill_losses) == {'loss_kd', 'loss_nd'}
    assert kdpp.distill_losses.loss_nd.get('ignore_index') is None
    assert kdpp.connectors.student_embed.in_channels == 64
    assert kdpp.connectors.student_embed.out_channels == 256
    assert box_head(kdpp.teacher).num_classes == 3

    fg = model('kd++_fg')
    assert fg.distill_losses.loss_nd.ignore_index == 3  # K: background
    assert fg.connectors == kdpp.connectors

    eq = model('kd++_eq')
    assert box_head(eq.student).fc_out_channels == 256 == \
        box_head(eq.teacher).fc_out_channels
    assert not eq.get('connectors')
    assert box_head(model('kd_eq').student).fc_out_channels == 256
    assert box_head(model('student_eq')).fc_out_channels == 256
    assert box_head(model('student')).fc_out_channels == 64


def full(name):
    return load_config(osp.join(HERE, f'{name}.py'))


def test_the_factor_configs_change_one_thing_each():
    """kd++_w025 / kd++_warmup / kd++_prepass2 (docs/two_stage.md, "The
    other factors"): the KD++ model and hooks except the one factor."""
    ref = full('kd++')
    w025 = full('kd++_w025')
    assert w025.model.distill_losses.loss_nd.loss_weight == 0.25
    w025.model.distill_losses.loss_nd.loss_weight = \
        ref.model.distill_losses.loss_nd.loss_weight
    assert w025.model == ref.model and w025.custom_hooks == ref.custom_hooks

    warmup = full('kd++_warmup')
    assert warmup.model == ref.model
    extra = [h for h in warmup.custom_hooks if h not in ref.custom_hooks]
    assert [h for h in ref.custom_hooks if h not in warmup.custom_hooks] == []
    assert extra == [dict(type='nd_mmdet.DistillLossWarmupHook',
                          loss_names=('loss_kd', 'loss_nd'), by_epoch=False,
                          warmup_iters=100)]

    prepass = full('kd++_prepass2')
    assert prepass.model == ref.model
    centres = [h for h in prepass.custom_hooks
               if h['type'] == 'nd_mmdet.ClassCentersHook']
    assert centres == [dict(type='nd_mmdet.ClassCentersHook', max_iters=2)]
    assert [h for h in prepass.custom_hooks if h not in centres] == \
        [h for h in ref.custom_hooks
         if h['type'] != 'nd_mmdet.ClassCentersHook']
