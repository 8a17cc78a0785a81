# CWD (Shu et al., arXiv 2011.13256) at the neck: per stride and channel, the
# softmax over positions at temperature tau, KL(teacher || student) * tau^2.
# Weights are ours (no published CWD run for this pair): tau 1, weight 5 on
# every level, the setting of the public mmdetection-distiller CWD
# RetinaNet config (pppppM/mmdetection-distiller).
_base_ = ['../_base_/pair_retinanet_x101-r50_2x.py']
model = dict(
    distill_losses=dict(
        loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=5.0)))
