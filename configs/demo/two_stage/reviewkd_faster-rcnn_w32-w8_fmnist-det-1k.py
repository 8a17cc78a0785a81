# Two-stage demo ReviewKD in place of KD (configs/coco/reviewkd: the
# student's FPN levels fused by ABF modules, 2 * student_width -> the
# teacher's 2 * teacher_width channels, mid 2 * teacher_width, matched to
# the teacher's levels by HCL, weight 1.2). No RoI logit KD, as in the COCO
# configs; the base method of ReviewKD++ (reviewkd++_*: this + ND).
_base_ = ['./kd_faster-rcnn_w32-w8_fmnist-det-1k.py']
student_fpn = 2 * _base_.student_width
teacher_fpn = 2 * _base_.teacher_width
model = dict(
    connectors=dict(
        student_feats=dict(
            type='ReviewKDConnector',
            in_channels=[student_fpn] * 2,
            out_channels=[teacher_fpn] * 2,
            mid_channels=teacher_fpn)),
    distill_losses=dict(
        _delete_=True, loss_hcl=dict(type='HCLLoss', loss_weight=1.2)))
