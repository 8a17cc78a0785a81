# PKD (Cao et al., arXiv 2207.02039) at the neck: per stride, both maps
# standardised per channel, then MSE / 2 (= 1 - Pearson r per channel).
# Published: RetinaNet X101 -> R50, 2x: 37.4 -> 40.8 AP.
# Weight 10 on every level, as the PKD authors' MMRazor
# config (their loss sums one term per level, each with that weight).
_base_ = ['../_base_/pair_retinanet_x101-r50_2x.py']
model = dict(
    distill_losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=10)))
