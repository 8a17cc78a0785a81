# PKD++: the PKD config plus ND at the ground-truth boxes (one embedding per
# box: its average RoIAlign feature on the paired FPN level of its size;
# 256-d on both sides, no projector). ND weight 1.0 is ours (no published
# run); the teacher's class centres come from a pre-pass over 200 training
# iterations, as in the Faster R-CNN ND configs.
# Measured (Fashion-MNIST demo scenes, 5 paired seeds, docs/configs.md
# "Which method on which detector"): ND at the ground-truth boxes on top of
# PKD never fell below PKD beyond the seeds' noise, and gained only on
# RetinaNet (+0.34 [+0.07, +0.61]; RTMDet -0.06 [-1.03, +0.91], FCOS ->
# RetinaNet +0.06 [-0.55, +0.67]). PKD is the base to choose; ND here is
# optional.
_base_ = ['../pkd/pkd_faster-rcnn_r101-r50_2x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
# ReseedPerEpochHook: exact resume (seed + epoch per epoch).
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
