"""Evaluate a checkpoint: COCO box AP for detectors, top-1/top-5 for
classifiers. Same arguments as MMDetection's tools/test.py, plus
``--teacher``.

    python tools/test.py CONFIG CHECKPOINT [--teacher] [--work-dir DIR] ...

The checkpoint is compared with the model to evaluate before anything runs
(every key and shape must match, nothing extra), since mmengine would load
a wrong one silently and score an untrained model:

- distiller CONFIG, distiller CHECKPOINT: its ``student.*`` weights must
  match the student; the student is evaluated (the teacher is not built);
- distiller CONFIG, plain student CHECKPOINT (e.g. from
  tools/export_student.py): the student's own config is evaluated with it
  (a line says so);
- distiller CONFIG, the teacher's CHECKPOINT (the config's ``teacher_ckpt``
  or weights that fit the teacher): refused, naming ``--teacher``;
- plain CONFIG, distiller CHECKPOINT: refused, naming
  tools/export_student.py and the distiller config;
- anything else that does not match, an empty or truncated file: refused.

Each refusal is one ``error:`` line naming the checkpoint, exit status 1.

``--teacher`` evaluates the teacher of a distiller CONFIG alone (its model
config, CHECKPOINT loaded strictly) and stores the scores in
``<work_dir>/teacher_score.json``. A later evaluation of the student of the
same CONFIG and work dir reads that file and prints one ``warning:`` line
when the student scores above its teacher (``coco/bbox_mAP`` /
``accuracy/top1``): a teacher below its student usually means a wrong or
undertrained teacher checkpoint.

``--dump-metrics FILE`` also writes the numeric metrics to ``FILE`` as a
JSON object ``{name: number}`` (what tools/compare.py reads)."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# nd_mmdet first: nd_mmdet.compat must run before torchvision is imported.
import nd_mmdet  # noqa: E402,F401
from nd_mmdet.utils.entrypoint import (build_runner, fail,  # noqa: E402
                                       load_config, run_cli)
from nd_mmdet.utils.state_dict_match import (  # noqa: E402
    STUDENT_PREFIX, checkpoint_state_dict, describe, mismatch, with_prefix)

#: File in the work dir with the scores of the last ``--teacher`` run.
TEACHER_SCORE_FILE = 'teacher_score.json'
#: The metric that compares a student with its teacher, by task.
MAIN_METRICS = ('coco/bbox_mAP', 'accuracy/top1')


def parse_args():
    from nd_mmdet.utils.entrypoint import cfg_options_action
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--teacher',
        action='store_true',
        help='evaluate the teacher of a distiller config with CHECKPOINT '
        '(scores kept in <work_dir>/teacher_score.json)')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--dump-metrics',
        metavar='JSON',
        help='also write the metrics ({name: number}) to this JSON file '
        '(atomically; tools/compare.py reads it)')
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
        action=cfg_options_action(),
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


def model_keys(model_cfg, default_scope):
    """The state dict of ``model_cfg`` built on CPU (keys and shapes);
    ``default_scope`` resolves a type without a scope."""
    import copy

    from nd_mmdet.registry import MODELS
    model_cfg = copy.deepcopy(model_cfg)
    if default_scope and '_scope_' not in model_cfg:
        model_cfg['_scope_'] = default_scope
    return MODELS.build(model_cfg).state_dict()


def is_teacher_checkpoint(cfg, path, state_dict):
    """The config's ``teacher_ckpt`` itself, or weights that fit the
    teacher exactly."""
    from nd_mmdet.utils.model_spec import distiller_part_config
    teacher_ckpt = cfg.model.get('teacher_ckpt')
    if teacher_ckpt and osp.isfile(teacher_ckpt) and \
            osp.samefile(teacher_ckpt, path):
        return True
    if 'teacher' not in cfg.model:
        return False
    teacher = model_keys(distiller_part_config(cfg.model, 'teacher'),
                         cfg.get('default_scope'))
    return mismatch(teacher, state_dict) is None


def select_model(cfg, args, state_dict):
    """Check ``state_dict`` against the model to evaluate; set
    ``cfg.model`` to that model (see the module doc for the cases).

    Returns:
        str: what is evaluated: ``'teacher'``, ``'student'`` or ``'model'``
        (a plain config's).
    """
    from nd_mmdet.utils.model_spec import distiller_part_config
    path, config = args.checkpoint, args.config
    scope = cfg.get('default_scope')
    distiller = 'student' in cfg.model and 'teacher' in cfg.model
    student_weights = with_prefix(state_dict, STUDENT_PREFIX)
    if args.teacher:
        if not distiller:
            fail(f'--teacher: {config} is not a distiller config (its model '
                 'has no student / teacher)')
        if student_weights:
            fail(f'--teacher: checkpoint {path} holds "{STUDENT_PREFIX}*" '
                 'weights (a distiller checkpoint); give the teacher\'s '
                 'checkpoint (teacher_ckpt of the config)')
        cfg.model = distiller_part_config(cfg.model, 'teacher')
        check_exact(model_keys(cfg.model, scope), state_dict, path,
                    'teacher')
        return 'teacher'
    if not distiller:
        if student_weights:
            fail(f'checkpoint {path} is a distiller checkpoint '
                 f'("{STUDENT_PREFIX}*" weights) and {config} is a plain '
                 'config: export the student with tools/export_student.py, '
                 'or evaluate with the distiller config')
        check_exact(model_keys(cfg.model, scope), state_dict, path, 'model')
        return 'model'
    student_cfg = distiller_part_config(cfg.model, 'student')
    student = model_keys(student_cfg, scope)
    if student_weights:
        check_exact(student, student_weights, path, 'student')
        cfg.model.build_teacher = False  # the student alone is evaluated
        return 'student'
    if is_teacher_checkpoint(cfg, path, state_dict):
        fail(f'checkpoint {path} looks like a teacher checkpoint (the '
             f'teacher of {config}): evaluate it with --teacher')
    diff = mismatch(student, state_dict)
    if diff:
        fail(f'checkpoint {path} holds no weights of the student of '
             f'{config}: no "{STUDENT_PREFIX}*" weights, and as plain '
             f'weights: {describe(diff)}')
    print(f'checkpoint {path} holds plain student weights: evaluating the '
          f'student of {config} alone with them')
    cfg.model = student_cfg
    return 'student'


def check_exact(expected, state_dict, path, what):
    """Fail unless ``state_dict`` has exactly the keys / shapes of
    ``expected`` (the state dict of the ``what`` model)."""
    diff = mismatch(expected, state_dict)
    if diff:
        fail(f'checkpoint {path} does not match the {what} of the config: '
             f'{describe(diff)}')


def main_metric(metrics):
    """``(name, value)`` of the first :data:`MAIN_METRICS` in ``metrics``."""
    for name in MAIN_METRICS:
        if name in (metrics or {}):
            return name, float(metrics[name])
    return None, None


def teacher_score_path(cfg):
    return osp.join(cfg.work_dir, TEACHER_SCORE_FILE)


def save_teacher_score(cfg, args, metrics):
    """Write the ``--teacher`` scores to the work dir (main process)."""
    import json

    from mmengine.dist import is_main_process
    if not is_main_process():
        return
    path = teacher_score_path(cfg)
    os.makedirs(cfg.work_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(config=osp.abspath(args.config),
                       checkpoint=osp.abspath(args.checkpoint),
                       metrics={k: float(v) for k, v in metrics.items()
                                if isinstance(v, (int, float))}),
                  f, indent=1)
    print(f'teacher scores written to {path}')


def dump_metrics(metrics, path):
    """``--dump-metrics``: the numeric metrics as ``{name: number}``
    (main process; written atomically)."""
    import json

    from mmengine.dist import is_main_process

    from nd_mmdet.compat import atomic_write_bytes
    if not is_main_process():
        return
    numbers = {}
    for name, value in (metrics or {}).items():
        if not isinstance(value, (str, bytes, bool)):
            try:
                numbers[name] = float(value)  # also numpy / 1-element torch
            except (TypeError, ValueError):
                pass  # e.g. a list of per-class values
    atomic_write_bytes(json.dumps(numbers, indent=1).encode(), path)


def warn_if_above_teacher(cfg, args, metrics):
    """One ``warning:`` line when the student scores above the teacher
    scored by ``--teacher`` for the same config in the same work dir."""
    import json
    path = teacher_score_path(cfg)
    if not osp.isfile(path):
        return
    with open(path) as f:
        teacher = json.load(f)
    if teacher.get('config') != osp.abspath(args.config):
        return
    name, value = main_metric(metrics)
    if name is None or name not in teacher.get('metrics', {}):
        return
    if value > teacher['metrics'][name]:
        print(f'warning: the student scores {name}={value:.4f}, above its '
              f'teacher ({teacher["metrics"][name]:.4f} with '
              f'{teacher["checkpoint"]}, from {path}): the teacher '
              'checkpoint may be wrong or undertrained', file=sys.stderr)


def main():
    from nd_mmdet.utils import safe_torch_load
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    if not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    ckpt = safe_torch_load(args.checkpoint, 'checkpoint')
    role = select_model(cfg, args,
                        checkpoint_state_dict(ckpt, args.checkpoint))
    del ckpt
    cfg.load_from = args.checkpoint
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
    metrics = runner.test()
    if args.dump_metrics:
        dump_metrics(metrics, args.dump_metrics)
    if role == 'teacher':
        save_teacher_score(cfg, args, metrics)
    elif role == 'student':
        warn_if_above_teacher(cfg, args, metrics)


if __name__ == '__main__':
    run_cli(main)
