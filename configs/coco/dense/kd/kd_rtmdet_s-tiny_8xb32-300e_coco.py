# KD s-tiny (rtmdet): binary (per-class sigmoid) KL on the K class scores of
# the priors that the student's assigner marks positive and of up to 64
# background priors per image drawn at random (kd_at_negatives); T = 1,
# weight 1.0, the setting of the other dense KD configs. Not tuned on COCO;
# no published numbers.
_base_ = ['../_base_/pair_rtmdet_s-tiny.py']
model = dict(
    kd_at_negatives=True,
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)))
