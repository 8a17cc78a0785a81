# FCOS for 64 x 64 Fashion-MNIST scenes (configs/demo/dense/), trained from
# scratch on CPU: the backbone and FPN of retinanet_fmnist_det.py (strides 8
# and 16), an FCOSHead with two stacked GN convs, regress ranges split at
# 32 px, centre sampling; RetinaNet's test_cfg. The teacher and student files
# set the widths.
_base_ = ['./retinanet_fmnist_det.py']
model = dict(
    type='mmdet.FCOS',
    bbox_head=dict(
        _delete_=True,
        type='FCOSHead',
        num_classes=10,
        in_channels=64,
        stacked_convs=2,
        feat_channels=128,
        strides=[8, 16],
        regress_ranges=((-1, 32), (32, 1e8)),
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
        conv_bias=True,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=None)
