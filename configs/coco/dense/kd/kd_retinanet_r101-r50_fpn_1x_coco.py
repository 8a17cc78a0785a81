# KD r101-r50 (retinanet): binary (per-class sigmoid) KL on the K class scores
# of the priors that the student's assigner marks positive and of up to 64
# background priors per image drawn at random (kd_at_negatives; ND, in KD++,
# stays at the positives); T = 1, weight 1.0. No published numbers: this is
# what helped in the Fashion-MNIST RetinaNet demo (`make demo-dense`), where KD
# at the positives alone lowered box AP (it lifts positive scores to the
# teacher's and the shared head lifts the neighbouring negatives with them).
# Not tuned on COCO.
_base_ = ['../_base_/pair_retinanet_r101-r50.py']
model = dict(
    kd_at_negatives=True,
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)))
