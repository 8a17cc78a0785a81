# COCO 2017 detection in the standard layout under data/coco/
# (annotations/instances_{train,val}2017.json, {train,val}2017/), 2 images per
# GPU (x 8 GPUs = batch 16 of the 1x schedule). Multi-scale training as in
# MMDetection's *_ms-1x configs: the short side is drawn from 640..800 (step
# 32) with the long side at most 1333; testing at (1333, 800).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
