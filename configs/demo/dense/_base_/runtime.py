# Runtime of the CPU dense demo: MMDetection's runtime, an iteration-based
# loop, no validation loop, one checkpoint at the end (iter_<max_iters>.pth),
# fixed seed (tools/demo.py overrides randomness.seed per run).
_base_ = ['../../../_base_/default_runtime_det.py']
val_cfg = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10**9,  # never periodic: only the last iteration is saved
        save_last=True,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=False)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
