# DKD R50 -> MobileNetV2 on the (K+1)-way RoI logits: alpha 1, beta 8, T 1.
# The ND paper gives no detection DKD weights: alpha / beta are DKD's defaults,
# T = 1 is the detection temperature of KD++ (see configs/coco/README.md).
_base_ = ['../_base_/pair_r50-mv2.py']
model = dict(
    distill_losses=dict(
        loss_dkd=dict(
            type='DKDLoss',
            alpha=1.0,
            beta=8.0,
            temperature=1.0,
            loss_weight=1.0)))
