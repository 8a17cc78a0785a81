# KD r101-r50 (gfl): binary (per-class sigmoid) KL on the K class scores of
# the priors that the student's assigner marks positive; T = 1, weight 0.1.
# No published numbers: 0.1 comes from the Fashion-MNIST RetinaNet demo
# (`make demo-dense`), where 1.0 collapsed the student's box AP (the term
# lifts positive scores to the teacher's and the shared head lifts the
# neighbouring negatives with them) and 0.1 did not. Not tuned on COCO.
_base_ = ['../_base_/pair_gfl_r101-r50.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=0.1)))
