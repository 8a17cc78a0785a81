# Dense demo neck distillation + ND at the ground-truth boxes ("PKD++"): the
# PKD pair (neck_pair.py) plus ND (weight 1.0, the dense demo's ND weight; not
# tuned) on one embedding per ground-truth box (its average RoIAlign feature
# on the neck level of its size), the student's 32-channel embedding
# projected to the teacher's 64 (EmbeddingProjector); the teacher's class
# centres come from one pass over the student's 1,000 scenes (32 batches).
_base_ = ['./neck_pair.py']
model = dict(
    connectors=dict(
        student_embed=dict(
            type='EmbeddingProjector', in_channels=32, out_channels=64)),
    distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
