# ReviewKD at the neck: the student's paired levels fused by ABF modules
# (review path, 256 -> 256 channels, mid 256), then HCL against the teacher's
# levels of the same strides. Weight 1.2 is ours (the ReviewKD++ R101 -> R18
# Faster R-CNN weight of the ND paper; no published ReviewKD run for this
# pair).
_base_ = [
    '../_base_/pair_faster-rcnn_r101-r50_2x.py',
    '../../_base_/reviewkd_fpn4_connector.py'
]
model = dict(
    connectors=dict(student_feats={{_base_.reviewkd_fpn4_connector}}),
    distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.2)))
