# Fashion-MNIST from Debian's dataset-fashion-mnist package (local idx files,
# never downloaded); 28x28 grey images repeated to 3 channels. No validation
# during training: tools/test.py evaluates the final checkpoint on `test`.
dataset_type = 'nd_mmdet.FashionMNIST'
data_root = '/usr/share/datasets/fashion-mnist'
data_preprocessor = dict(
    num_classes=10, mean=[72.94] * 3, std=[90.02] * 3, to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,  # MMPretrain's train.py sets True: needs workers
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    # Infinite sampler + iteration-based loop: no pause between epochs.
    sampler=dict(type='InfiniteSampler', shuffle=True),
)
test_dataloader = dict(
    batch_size=500,
    num_workers=0,
    persistent_workers=False,  # MMPretrain's train.py sets True: needs workers
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = dict(type='Accuracy', topk=(1, ))
val_dataloader = None
val_evaluator = None
