"""Evaluate a checkpoint: COCO box AP for detectors, top-1/top-5 for
classifiers. A distiller's checkpoint is evaluated as its student (the
teacher is not built). Same arguments as MMDetection's tools/test.py."""
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
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test time augmentation: the config must define `tta_model` '
        'and `tta_pipeline`')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, '
        'it will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
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


def is_detection(cfg):
    metrics = cfg.get('test_evaluator', {})
    metrics = metrics if isinstance(metrics, list) else [metrics]
    return any('Coco' in str(m.get('type', '')) for m in metrics)


def enable_visualization(cfg, args):
    vis = cfg.default_hooks.get('visualization')
    if vis is None:
        fail('--show / --show-dir: the config has no '
             'default_hooks.visualization')
    if 'DetVisualizationHook' in vis['type']:
        vis['draw'] = True
        vis['show'] = args.show
        vis['wait_time'] = args.wait_time
        vis['test_out_dir'] = args.show_dir
    else:
        vis['enable'] = True
        vis['show'] = args.show
        vis['wait_time'] = args.wait_time
        vis['out_dir'] = args.show_dir


def enable_tta(cfg):
    """Wrap the model in the config's ``tta_model`` and test with its
    ``tta_pipeline`` (as MMDetection / MMPretrain do)."""
    from mmengine.config import ConfigDict
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        fail(f'--tta: the config defines no {" / ".join(missing)}')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    if 'batch_shapes_cfg' in dataset:
        dataset.batch_shapes_cfg = None
    dataset.pipeline = cfg.tta_pipeline


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    if not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if 'teacher' in cfg.model:
        # Evaluate the student alone: the teacher is not needed.
        cfg.model.build_teacher = False
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        enable_tta(cfg)

    runner = build_runner(cfg, loaders=('test_dataloader', ))
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            fail(f'--out: the output file must be a .pkl file: {args.out}')
        if is_detection(cfg):
            from mmdet.evaluation import DumpDetResults
            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out))
        else:
            from mmengine.evaluator import DumpResults
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    run_cli(main)
