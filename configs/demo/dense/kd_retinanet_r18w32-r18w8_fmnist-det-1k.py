# Dense demo KD: binary KD (T = 1, weight 1.0) on the K sigmoid class scores
# of the priors the student's assigner marks positive and of up to 64
# background priors per image drawn at random (kd_at_negatives; ND, in the
# KD++ run, stays at the positives). At the positives alone the term lifts
# the positive scores to the teacher's and the shared head lifts the
# neighbouring negatives with them: box AP fell (600 iterations; weight
# 0.1: -4.5 over three seeds; 1.0: collapse), see
# configs/coco/dense/README.md.
_base_ = ['./_base_/distill_pair_retinanet.py']
model = dict(
    kd_at_negatives=True,
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)))
