"""Train a model (a distiller, or a plain detector / classifier) from a config.

Same arguments and behaviour as MMDetection's tools/train.py.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# nd_mmdet first: nd_mmdet.compat must run before torchvision is imported.
import nd_mmdet  # noqa: E402,F401
from nd_mmdet.utils.entrypoint import (build_runner, fail,  # noqa: E402
                                       load_config, run_cli)


def parse_args():
    from nd_mmdet.utils.entrypoint import cfg_options_action
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=cfg_options_action(),
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_amp(cfg):
    """``--amp``: the config's optimizer wrapper becomes AmpOptimWrapper
    (a wrapper without ``type`` is mmengine's default OptimWrapper)."""
    from mmengine.device import get_device
    if get_device() == 'cpu':
        fail('--amp: mmengine\'s AmpOptimWrapper needs a GPU (cuda, npu, '
             'mlu or musa); none is available here')
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print('AMP training is already enabled in your config.')
    elif optim_wrapper != 'OptimWrapper':
        fail(f'--amp needs optim_wrapper.type OptimWrapper, the config has '
             f'{optim_wrapper}')
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'


def resume_path(args, cfg):
    """The checkpoint to resume from (None: train afresh)."""
    from nd_mmdet.utils.work_dir import resolve_auto_resume
    if args.resume == 'auto':
        path = resolve_auto_resume(cfg.work_dir)
        if path is None:
            print(f'resume: no checkpoint in {cfg.work_dir}; training '
                  'starts afresh')
        return path
    if not osp.isfile(args.resume):
        fail(f'--resume: checkpoint not found: {args.resume}')
    return args.resume


def check_runner(runner, cfg):
    """What only the built model tells: the resume checkpoint fits it, a
    ``load_from`` checkpoint loads at least half of its weights, a model
    that reads class centres has the hook that provides them, and a
    distiller that maps the student's batch to the teacher's preprocessing
    (NeckDistiller) maps it to the one the teacher was trained with."""
    from nd_mmdet.engine.class_centers import unwrap
    from nd_mmdet.engine.hooks import ClassCentersHook
    from nd_mmdet.models.distillers.base_distiller import \
        MISSING_CENTERS_HOOK
    from nd_mmdet.utils import safe_torch_load
    from nd_mmdet.utils.load_from_check import check_load_from
    from nd_mmdet.utils.work_dir import check_resume_checkpoint
    model = unwrap(runner.model)
    if getattr(model, 'needs_class_centers', False) and not any(
            isinstance(h, ClassCentersHook) for h in runner.hooks):
        fail(f'{MISSING_CENTERS_HOOK} (the model has an ND loss)')
    if getattr(model, 'teacher_input', None) is not None and \
            getattr(model, 'teacher_ckpt', None):
        from nd_mmdet.utils.teacher_preprocessing import (
            check_teacher_preprocessing, module_normalisation)
        check_teacher_preprocessing(
            model.teacher_ckpt,
            module_normalisation(model.teacher.data_preprocessor),
            "the teacher's data_preprocessor of this config (the "
            f"{type(model).__name__} maps the student's batch to it)")
    if cfg.get('resume') and cfg.get('load_from'):
        checkpoint = safe_torch_load(cfg.load_from, '--resume checkpoint')
        check_resume_checkpoint(model, checkpoint, cfg.load_from)
    elif cfg.get('load_from') and '://' not in str(cfg.load_from):
        checkpoint = safe_torch_load(cfg.load_from, 'load_from checkpoint')
        check_load_from(model, checkpoint, cfg.load_from)


def main():
    from nd_mmdet.utils.work_dir import lock_work_dir, prepare_work_dir
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            fail('config: --auto-scale-lr needs `auto_scale_lr` with '
                 '`enable` and `base_batch_size` in the config')

    prepare_work_dir(cfg.work_dir)
    if os.environ.get('RANK', '0') == '0':
        lock_work_dir(cfg.work_dir)
    if args.resume is not None:
        path = resume_path(args, cfg)
        cfg.resume = path is not None
        cfg.load_from = path

    runner = build_runner(cfg, loaders=('train_dataloader', 'val_dataloader'))
    check_runner(runner, cfg)
    if cfg.get('resume'):
        from nd_mmdet.utils.best_record import BestRecordHook
        runner.register_hook(BestRecordHook(), 'VERY_HIGH')
    runner.train()


if __name__ == '__main__':
    run_cli(main)
