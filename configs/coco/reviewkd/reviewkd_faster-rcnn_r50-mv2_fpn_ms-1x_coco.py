# ReviewKD R50 -> MobileNetV2: the student's FPN levels P2-P6 fused by ABF
# modules (ReviewKD's review path, 256 -> 256 channels, mid 256) and matched
# to the teacher's P2-P6 with the HCL loss (weight 2.2, the ReviewKD++ weight).
_base_ = [
    '../_base_/pair_r50-mv2.py',
    '../_base_/reviewkd_fpn5_connector.py'
]
model = dict(
    connectors=dict(student_feats={{_base_.reviewkd_fpn5_connector}}),
    distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=2.2)))
