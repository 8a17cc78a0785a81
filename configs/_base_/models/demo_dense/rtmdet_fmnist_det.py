# RTMDet for 64 x 64 Fashion-MNIST scenes (configs/demo/dense/), trained from
# scratch on CPU: MMDetection's RTMDet (CSPNeXt backbone, CSPNeXt-PAFPN neck,
# RTMDetSepBNHead with the dynamic soft-label assigner and quality focal
# loss) with the strides of the RetinaNet demo (8 and 16: CSPNeXt stages 2-3),
# one block per stage and plain BN. The teacher and student files set the
# widths. Images are normalised as in the other dense demos (grey scenes).
#
# exp_on_reg=True (RTMDet-m / -l's setting; -tiny / -s use False): the box
# distances are exp(conv) * stride, always positive. With False they are
# the raw conv outputs, initialised near 0, about half of them negative
# (inverted boxes, no IoU gradient); on some seeds the stride-8 branch never
# left 0 and the w8 student alone spread over 14.2-40.6 box AP on seeds
# 0-2. With True: 45.5-46.9 on seeds 0-4 (configs/coco/dense/README.md).
model = dict(
    type='mmdet.RTMDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[28.7] * 3,
        std=[61.9] * 3,
        bgr_to_rgb=False,
        pad_size_divisor=32,
        batch_augments=None),
    backbone=dict(
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.167,
        widen_factor=0.25,
        out_indices=(2, 3),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True),
        init_cfg=None),
    neck=dict(
        type='CSPNeXtPAFPN',
        in_channels=[64, 128],
        out_channels=64,
        num_csp_blocks=1,
        expand_ratio=0.5,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True)),
    bbox_head=dict(
        type='RTMDetSepBNHead',
        num_classes=10,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        anchor_generator=dict(
            type='MlvlPointGenerator', offset=0, strides=[8, 16]),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        loss_cls=dict(
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        with_objectness=False,
        exp_on_reg=True,
        share_conv=True,
        pred_kernel_size=1,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU', inplace=True)),
    train_cfg=dict(
        assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))
