# Two-stage demo DKD: DKD on the (K+1)-way RoI classification logits of the
# student's sampled RoIs (alpha 1, beta 8, T 1: configs/coco/dkd) in place
# of KD; the base method of DKD++ (dkd++_*: this + ND).
_base_ = ['./kd_faster-rcnn_w32-w8_fmnist-det-1k.py']
model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dkd=dict(
            type='DKDLoss',
            alpha=1.0,
            beta=8.0,
            temperature=1.0,
            loss_weight=1.0)))
