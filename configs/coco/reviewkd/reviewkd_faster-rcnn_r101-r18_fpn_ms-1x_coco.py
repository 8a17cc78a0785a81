# ReviewKD R101 -> R18: the student's FPN levels P2-P6 fused by ABF modules
# (ReviewKD's review path, 256 -> 256 channels, mid 256) and matched to the
# teacher's P2-P6 with the HCL loss (weight 1.2, the ReviewKD++ weight).
_base_ = [
    '../_base_/pair_r101-r18.py',
    '../_base_/reviewkd_fpn5_connector.py'
]
model = dict(
    connectors=dict(student_feats={{_base_.reviewkd_fpn5_connector}}),
    distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.2)))
