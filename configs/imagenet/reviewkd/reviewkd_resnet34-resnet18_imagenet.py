# ReviewKD: HCL loss (weight 1.0, the ReviewKD++ row of method.md;
# ReviewKD++ adds ND to exactly this) between the teacher's four stage
# outputs + pooled embedding and the student's (56/28/14/7/1 px at 224 px
# on both sides), fused deepest-to-shallowest by ABF modules (mid width
# 512, ReviewKD's ImageNet setting); linear warm-up over 5 epochs.
# Feature taps are module paths: the backbone's stage modules and 'neck'
# (the pooled (N, C) embedding, used as a 1x1 map).
_base_ = ['../_base_/pair_resnet34-resnet18.py', '../_base_/hooks_reviewkd.py']
model = dict(
    distill_losses=dict(
        loss_hcl=dict(type='nd_mmdet.HCLLoss', loss_weight=1.0)),
    connectors=dict(
        student_feats=dict(
            type='nd_mmdet.ReviewKDConnector',
            in_channels=[64, 128, 256, 512, 512],
            out_channels=[64, 128, 256, 512, 512],
            mid_channels=512)),
    student_paths=dict(feats=[
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3',
        'backbone.layer4', 'neck'
    ]),
    teacher_paths=dict(feats=[
        'backbone.layer1', 'backbone.layer2', 'backbone.layer3',
        'backbone.layer4', 'neck'
    ]))
