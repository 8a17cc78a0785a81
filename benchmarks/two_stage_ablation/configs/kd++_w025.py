# KD++ with a quarter of ND's weight (0.25 instead of the COCO R50 weight
# 1.0): is the walkthrough's KD++ failure ND pulling too hard?
_base_ = ['./kd++.py']
model = dict(distill_losses=dict(loss_nd=dict(loss_weight=0.25)))
