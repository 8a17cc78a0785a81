# ReviewKD r101-r50 (retinanet): the student's five FPN levels (256-d) fused by
# ABF modules (ReviewKD's review path, mid 256) and matched to the teacher's
# with the HCL loss, weight 1.2 (the paper's ReviewKD++ weight for Faster
# R-CNN R101 -> R18; there are none for one-stage detectors).
_base_ = [
    '../_base_/pair_retinanet_r101-r50.py',
    '../../_base_/reviewkd_fpn5_connector.py'
]
model = dict(
    connectors=dict(student_feats={{_base_.reviewkd_fpn5_connector}}),
    distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.2)))
