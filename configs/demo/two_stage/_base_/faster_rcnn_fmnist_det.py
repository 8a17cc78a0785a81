# Faster R-CNN for the 64 x 64 Fashion-MNIST scenes, trained from scratch on
# CPU: the teacher and the student of configs/demo/two_stage/. Every linked
# width follows from ONE number per model, `teacher_width` / `student_width`
# (the backbone's stem width w):
#
#   backbone      ResNet-18 layout, 3 stages of w, 2w, 4w channels (stages
#                 2-3 read: strides 8 and 16)
#   neck          FPN in_channels [2w, 4w] -> out_channels 2w, 2 levels
#   rpn_head      in_channels = feat_channels = 2w
#   roi extractor out_channels 2w (RoIAlign 7 x 7; RoIs below 32 px on the
#                 stride-8 level, larger ones on stride 16: finest_scale 16)
#   bbox_head     in_channels 2w; the box feature (fc_out_channels) 8w of
#                 the TEACHER's w for both models (below)
#
# From scratch means no ImageNet weights (init_cfg=None), no frozen stage
# (frozen_stages=-1) and BN statistics updated in training
# (norm_eval=False). num_classes is not set here: every config that uses
# these models sets it from its data's `classes` (len(classes)); left
# unset, MMDetection's default (80) is refused before training.
# Other sizes for 1-3 items of 8-40 px per scene: anchors of 16-48 px
# (scales 2 and 3 at strides 8 and 16), fewer proposals and sampled RoIs
# than the COCO recipe (128 per image, 25 % foreground).
teacher_width = 32
student_width = 8


def box_feature_dim(width):
    """Width of the box feature (the last shared FC): what ND reads."""
    return 8 * width


def faster_rcnn(width, box_width=None):
    """The Faster R-CNN of stem width ``width`` (all linked widths); its box
    feature is ``box_width`` wide (default ``box_feature_dim(width)``)."""
    fpn = 2 * width
    # RPN proposals, in training and at test
    proposals = dict(nms_pre=500, max_per_img=200, min_bbox_size=0,
                     nms=dict(type='nms', iou_threshold=0.7))
    return dict(
        type='mmdet.FasterRCNN',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[28.7] * 3,
            std=[61.9] * 3,
            bgr_to_rgb=False,
            pad_size_divisor=32),
        backbone=dict(
            type='ResNet',
            depth=18,
            base_channels=width,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=(1, 2),
            frozen_stages=-1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False,
            style='pytorch',
            init_cfg=None),
        neck=dict(
            type='FPN',
            in_channels=[2 * width, 4 * width],
            out_channels=fpn,
            num_outs=2),
        rpn_head=dict(
            type='RPNHead',
            in_channels=fpn,
            feat_channels=fpn,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[2, 3],
                ratios=[0.5, 1.0, 2.0],
                strides=[8, 16]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[.0, .0, .0, .0],
                target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7,
                               sampling_ratio=0),
                out_channels=fpn,
                featmap_strides=[8, 16],
                finest_scale=16),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=fpn,
                fc_out_channels=box_width or box_feature_dim(width),
                roi_feat_size=7,
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[0., 0., 0., 0.],
                    target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.7,
                    neg_iou_thr=0.3,
                    min_pos_iou=0.3,
                    match_low_quality=True,
                    ignore_iof_thr=-1),
                sampler=dict(
                    type='RandomSampler',
                    num=128,
                    pos_fraction=0.5,
                    neg_pos_ub=-1,
                    add_gt_as_proposals=False),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            rpn_proposal=proposals,
            rcnn=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.5,
                    neg_iou_thr=0.5,
                    min_pos_iou=0.5,
                    match_low_quality=False,
                    ignore_iof_thr=-1),
                sampler=dict(
                    type='RandomSampler',
                    num=128,
                    pos_fraction=0.25,
                    neg_pos_ub=-1,
                    add_gt_as_proposals=True),
                pos_weight=-1,
                debug=False)),
        test_cfg=dict(
            rpn=proposals,
            rcnn=dict(
                score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=100)))


teacher_model = faster_rcnn(teacher_width)
# The student keeps the teacher's box-feature width, as every COCO pair of
# the paper does (both keep MMDetection's two shared FCs of 1024): ND then
# compares the two box features directly, with no projector. This is the
# rule for two-stage students (docs/two_stage.md: with a projector from a
# 64-d box feature the student was less stable and ND gained nothing
# measurable); the two FCs are a small part of the student's cost.
student_model = faster_rcnn(student_width,
                            box_width=box_feature_dim(teacher_width))
# For a student with a box feature of its own width instead (8 *
# student_width, e.g. benchmarks/two_stage_ablation/configs/kd++.py): the
# projector to the teacher's width that ND then needs.
student_embed_projector = dict(
    type='EmbeddingProjector',
    in_channels=box_feature_dim(student_width),
    out_channels=box_feature_dim(teacher_width))
