# RTMDet's own distillation recipe, RTMDet-m teacher -> RTMDet-s student
# (published, MMYOLO: 44.6 -> 45.7 AP, 300 epochs): on the three neck outputs
# (strides 8, 16, 32), the student's 128 channels go through a 1x1 conv + BN
# connector to the teacher's 192; both maps are standardised per channel
# (PKD-style) and compared with channel-wise divergence (CWD, tau 1, weight 1
# per level). Distillation stops for the last 20 epochs (280-299), which also
# train without mosaic (the student config's PipelineSwitchHook).
# Difference from MMYOLO's recipe: it records the neck's last convolutions
# before their BN + activation; we distil the neck outputs (after them), the
# same maps for every detector family.
_base_ = ['mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py']
custom_imports = dict(imports=['nd_mmdet'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    _scope_='nd_mmdet',
    type='NeckDistiller',
    student='mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
    teacher='mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py',
    teacher_ckpt='checkpoints/coco/rtmdet_m_8xb32-300e_coco.pth',
    connectors=dict(
        student_feats=dict(
            type='ConvBNConnector',
            in_channels=128,
            out_channels=192,
            num_levels=3)),
    distill_losses=dict(
        loss_cwd=dict(
            type='CWDLoss', tau=1.0, loss_weight=1.0, normalize=True)))
# ReseedPerEpochHook: exact resume (seed + epoch per epoch).
custom_hooks = _base_.custom_hooks + [
    dict(type='nd_mmdet.DistillLossStopHook', stop_epoch=280),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
