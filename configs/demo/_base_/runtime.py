# Runtime of the CPU demo: iteration-based loop, no validation loop, one
# checkpoint at the end (iter_<max_iters>.pth, save_last), fixed seed (the
# demo overrides randomness.seed per run).
_base_ = ['../../_base_/default_runtime_cls.py']

val_cfg = None
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=10**9,  # never periodic: only the last iteration is saved
        save_last=True,
        max_keep_ckpts=1,
        save_best=None),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=False)
