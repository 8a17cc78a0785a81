# Dense demo KD: binary KD (T = 1) on the K sigmoid class scores of the
# priors the student's assigner marks positive. Weight 0.1: at 1.0 the
# student's focal loss doubled and its box AP fell from ~18 to 0.4 (the KD
# term pulls positive scores up to the teacher's and the shared head lifts
# the neighbouring negatives with them); at 0.1 KD is about neutral.
_base_ = ['./_base_/distill_pair.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=0.1)))
