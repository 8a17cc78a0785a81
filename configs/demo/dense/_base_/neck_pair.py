# Dense demo neck distillation (NeckDistiller): the student's two neck levels
# (strides 8 and 16, 32 channels) through a 1x1 conv + BN connector to the
# teacher's 64 channels, PKD on both. Weight 6 per level is the PKD authors'
# Faster R-CNN weight (not tuned here). Student data, schedule and runtime
# are those of the student-alone run. The pair files set the models.
_base_ = ['./train_student.py']
model = dict(
    _scope_='nd_mmdet',
    type='NeckDistiller',
    connectors=dict(
        student_feats=dict(
            type='ConvBNConnector',
            in_channels=32,
            out_channels=64,
            num_levels=2)),
    distill_losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=6.0)))
custom_hooks = [dict(type='nd_mmdet.TrainingHealthHook')]
