# PKD (Cao et al., arXiv 2207.02039) at the neck: per stride, both maps
# standardised per channel, then MSE / 2 (= 1 - Pearson r per channel).
# Published: Faster R-CNN R101 -> R50, 2x: 38.4 -> 40.3 AP.
# Weight 6 on every level, as the PKD authors' MMRazor
# config (their loss sums one term per level, each with that weight).
_base_ = ['../_base_/pair_faster-rcnn_r101-r50_2x.py']
model = dict(
    distill_losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=6)))
