# ReviewKD: HCL loss (weight 8.0, the ReviewKD++ row of method.md;
# ReviewKD++ adds ND to exactly this) between the teacher's stage outputs +
# pooled embedding and the student's, fused deepest-to-shallowest by ABF
# modules (mid width min(512, last student width) = 256); linear warm-up
# over 20 epochs. Feature taps are module paths: the backbone's stage
# modules and 'neck' (the pooled (N, C) embedding, used as a 1x1 map).
# Teacher and student are tapped at stage-module outputs (the reference
# takes the teacher's pre-activation maps, which are no module's output in
# these backbones).
_base_ = [
    '../_base_/pair_resnet32x4-resnet8x4.py', '../_base_/hooks_reviewkd.py'
]
model = dict(
    distill_losses=dict(
        loss_hcl=dict(type='nd_mmdet.HCLLoss', loss_weight=8.0)),
    connectors=dict(
        student_feats=dict(
            type='nd_mmdet.ReviewKDConnector',
            in_channels=[64, 128, 256, 256],
            out_channels=[64, 128, 256, 256],
            mid_channels=256)),
    student_paths=dict(feats=[
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'neck'
    ]),
    teacher_paths=dict(feats=[
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'neck'
    ]))
