# Custom hooks of the ReviewKD and ReviewKD++ configs on ImageNet: the teacher
# class-centre pre-pass (one pass over the training set; does nothing when no
# loss reads class centres, i.e. without ND) and the linear warm-up
# w = min(1, epoch / 5) (epochs counted from 1) of the base distillation loss
# loss_hcl (the ND loss is not warmed up).
# Keep ClassCentersHook first: custom_hooks.0.centers_file=... selects a
# precomputed centre file (tools/compute_class_centers.py).
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(
        type='nd_mmdet.DistillLossWarmupHook',
        loss_names=('loss_hcl', ),
        warmup_epochs=5),
    # Exact resume: each epoch's random stream depends on seed + epoch.
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
