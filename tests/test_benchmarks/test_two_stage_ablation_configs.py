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
