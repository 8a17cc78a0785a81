# PKD++: the PKD config plus ND at the ground-truth boxes (one embedding per
# box: its average RoIAlign feature on the paired FPN level of its size;
# 256-d on both sides, no projector). ND weight 1.0 is ours (no published
# run); the teacher's class centres come from a pre-pass over 200 training
# iterations, as in the Faster R-CNN ND configs.
_base_ = ['../pkd/pkd_fcos_x101-retinanet_r50_1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
# ReseedPerEpochHook: exact resume (seed + epoch per epoch).
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
