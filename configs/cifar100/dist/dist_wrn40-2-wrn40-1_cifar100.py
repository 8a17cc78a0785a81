# DIST: tau^2 * (beta * inter + gamma * intra), beta = gamma = 1, weight 2.5
# (the DIST++ row of method.md; DIST++ adds ND to exactly this), linear
# warm-up over 20 epochs. tau = 4: the CIFAR temperature T = 4 of the
# reference runs (their DIST++ script passes T as DIST's tau).
_base_ = ['../_base_/pair_wrn40-2-wrn40-1.py', '../_base_/hooks_dist.py']
model = dict(
    distill_losses=dict(
        loss_dist=dict(
            type='nd_mmdet.DISTLoss',
            beta=1.0,
            gamma=1.0,
            tau=4.0,
            loss_weight=2.5)))
