# GFL for 64 x 64 Fashion-MNIST scenes (configs/demo/dense/), trained from
# scratch on CPU: the backbone and FPN of retinanet_fmnist_det.py (strides 8
# and 16), a GFLHead with two stacked GN convs, one square anchor per
# location (4 x stride: 32 / 64 px) for ATSS (top 9), quality focal loss.
# The teacher and student files set the widths.
_base_ = ['./retinanet_fmnist_det.py']
model = dict(
    type='mmdet.GFL',
    bbox_head=dict(
        _delete_=True,
        type='GFLHead',
        num_classes=10,
        in_channels=64,
        stacked_convs=2,
        feat_channels=128,
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            octave_base_scale=4,
            scales_per_octave=1,
            strides=[8, 16]),
        loss_cls=dict(
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        reg_max=16,
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(
        _delete_=True,
        assigner=dict(type='ATSSAssigner', topk=9),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(nms=dict(type='nms', iou_threshold=0.6)))
