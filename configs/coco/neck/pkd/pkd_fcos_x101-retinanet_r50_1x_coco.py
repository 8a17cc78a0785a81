# PKD (Cao et al., arXiv 2207.02039) at the neck: per stride, both maps
# standardised per channel, then MSE / 2 (= 1 - Pearson r per channel).
# Published: FCOS X101 -> RetinaNet R50, 1x: 36.5 -> 40.3 AP.
# Weight 10 on every level, as the PKD authors' MMRazor
# config (their loss sums one term per level, each with that weight).
_base_ = ['../_base_/pair_fcos_x101-retinanet_r50_1x.py']
model = dict(
    distill_losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=10)))
