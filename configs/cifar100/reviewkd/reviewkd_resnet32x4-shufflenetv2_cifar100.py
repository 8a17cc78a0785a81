# ReviewKD: HCL loss (weight 8.0, the ReviewKD++ row of method.md;
# ReviewKD++ adds ND to exactly this) between the teacher's stage outputs +
# pooled embedding and the student's, fused deepest-to-shallowest by ABF
# modules (mid width min(512, last student width) = 512); linear warm-up
# over 20 epochs. Feature taps are module paths: the backbone's stage
# modules and 'neck' (the pooled (N, C) embedding, used as a 1x1 map).
# Teacher and student are tapped at stage-module outputs (the reference
# takes the teacher's pre-activation maps, which are no module's output in
# these backbones).
# The student's maps (16/8/4/1 px) are smaller than the teacher's
# (32/16/8/1 px): as in ReviewKD, each fused level is upsampled
# (nearest) to the teacher's size (out_shapes) before the output conv.
# NOTE: needs ReviewKDConnector(out_shapes=...) in nd_mmdet (not there yet:
# building this config fails with an unexpected-keyword error until then).
_base_ = [
    '../_base_/pair_resnet32x4-shufflenetv2.py', '../_base_/hooks_reviewkd.py'
]
model = dict(
    distill_losses=dict(
        loss_hcl=dict(type='nd_mmdet.HCLLoss', loss_weight=8.0)),
    connectors=dict(
        student_feats=dict(
            type='nd_mmdet.ReviewKDConnector',
            in_channels=[116, 232, 464, 1024],
            out_channels=[64, 128, 256, 256],
            mid_channels=512,
            out_shapes=[32, 16, 8, 1])),
    student_paths=dict(feats=[
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'neck'
    ]),
    teacher_paths=dict(feats=[
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'neck'
    ]))
