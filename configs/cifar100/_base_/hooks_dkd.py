# Custom hooks of the DKD and DKD++ configs on CIFAR-100: the teacher
# class-centre pre-pass (does nothing when no loss reads class centres, i.e.
# without ND) and the linear warm-up w = min(1, epoch / 20) (epochs counted
# from 1) of the base distillation loss loss_dkd
# (the ND loss is not warmed up).
# Keep ClassCentersHook first: custom_hooks.0.centers_file=... selects a
# precomputed centre file (tools/compute_class_centers.py).
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(
        type='nd_mmdet.DistillLossWarmupHook',
        loss_names=('loss_dkd', ),
        warmup_epochs=20),
    # Exact resume: each epoch's random stream depends on seed + epoch.
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
