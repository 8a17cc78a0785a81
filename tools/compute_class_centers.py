"""Compute the teacher class centres of a distillation config and save them.

    python tools/compute_class_centers.py CONFIG [--out FILE] [--max-iters N]

Runs the teacher (eval mode, no gradient) over the config's training data
with the training pipeline, one pass (classification) or ``--max-iters``
batches (detection configs set ``ClassCentersHook(max_iters=...)``, which
is used when ``--max-iters`` is not given), averages its embeddings per
class and saves ``(K, D)`` centres with their metadata (number of classes,
width, teacher checkpoint digest, dataset identity, max_iters; written
atomically). With ``--launcher pytorch`` every rank
processes its shard and the sums are all-reduced. Point the config's
``ClassCentersHook(centers_file=...)`` at the result, or leave it at the
default ``<work_dir>/class_centers.pth`` where training looks first.
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
    parser = argparse.ArgumentParser(
        description='Compute teacher class centres for ND')
    parser.add_argument('config', help='distillation config file path')
    parser.add_argument(
        '--out', help='output file (default <work_dir>/class_centers.pth)')
    parser.add_argument(
        '--max-iters',
        type=int,
        help='batches to use (default: the ClassCentersHook setting, or one '
        'pass over the training data)')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument('--cfg-options', nargs='+', action=cfg_options_action())
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def hook_max_iters(cfg):
    for hook in cfg.get('custom_hooks', []):
        if str(hook.get('type', '')).endswith('ClassCentersHook'):
            return hook.get('max_iters')
    return None


def main():
    from mmengine import dist

    from nd_mmdet.engine import (compute_class_centers, save_class_centers)
    from nd_mmdet.engine.dataset_identity import dataset_identity
    from nd_mmdet.engine.class_centers import unwrap

    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    runner = build_runner(cfg, loaders=('train_dataloader', ))
    model = unwrap(runner.model)
    if not hasattr(model, 'teacher_embeddings_for_centers'):
        fail(f'{args.config}: model {type(model).__name__} is not a '
             'distiller; class centres need a teacher')
    out = args.out or osp.join(cfg.work_dir, 'class_centers.pth')
    max_iters = args.max_iters if args.max_iters is not None \
        else hook_max_iters(cfg)
    dataloader = runner.build_dataloader(
        cfg.train_dataloader, seed=runner.seed)
    centers, counts = compute_class_centers(model, dataloader, max_iters)
    if dist.is_main_process():
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        save_class_centers(out, centers, counts, model.teacher_digest,
                           dataset_identity(dataloader.dataset), max_iters)
        empty = (counts == 0).nonzero().flatten().tolist()
        print(f'saved {tuple(centers.shape)} class centres from '
              f'{int(counts.sum())} samples to {out}' +
              (f'; classes without samples: {empty[:20]}' if empty else ''))


if __name__ == '__main__':
    run_cli(main)
