# ReviewKD: HCL loss (weight 5.0, the ReviewKD++ row of method.md;
# ReviewKD++ adds ND to exactly this) between the teacher's stage outputs +
# pooled embedding and the student's, fused deepest-to-shallowest by ABF
# modules (mid width min(512, last student width) = 64); linear warm-up
# over 20 epochs. Feature taps are module paths: the backbone's stage
# modules and 'neck' (the pooled (N, C) embedding, used as a 1x1 map).
# Teacher and student are tapped at stage-module outputs (the reference
# takes the teacher's pre-activation maps, which are no module's output in
# these backbones).
_base_ = ['../_base_/pair_wrn40-2-wrn40-1.py', '../_base_/hooks_reviewkd.py']
model = dict(
    distill_losses=dict(
        loss_hcl=dict(type='nd_mmdet.HCLLoss', loss_weight=5.0)),
    connectors=dict(
        student_feats=dict(
            type='nd_mmdet.ReviewKDConnector',
            in_channels=[16, 32, 64, 64],
            out_channels=[32, 64, 128, 128],
            mid_channels=64)),
    student_paths=dict(feats=[
        'backbone.block1', 'backbone.block2', 'backbone.block3', 'neck'
    ]),
    teacher_paths=dict(feats=[
        'backbone.block1', 'backbone.block2', 'backbone.block3', 'neck'
    ]))
