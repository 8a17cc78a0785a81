# RTMDet recipe++ : the RTMDet neck recipe (CWD on standardised neck maps)
# plus ND at the ground-truth boxes, the student's 96-d box embedding
# projected to the teacher's 128 d. ND weight 1.0 is ours (no published
# run). The class-centre pre-pass (200 training iterations) runs before
# training; both losses stop at epoch 280.
# Measured (Fashion-MNIST demo, RTMDet w32 -> w8, 5 paired seeds, docs/
# configs.md "Which method on which detector"): ND at the ground-truth
# boxes on top of a neck loss (PKD there) gave -0.06 [-1.03, +0.91] AP:
# no gain, no loss. The base recipe (rtmdet-kd_*) is the one to choose.
_base_ = ['./rtmdet-kd_s-tiny_8xb32-300e_coco.py']
model = dict(
    connectors=dict(
        student_embed=dict(
            type='EmbeddingProjector', in_channels=96,
            out_channels=128)),
    distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
custom_hooks = _base_.custom_hooks + [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200)
]
