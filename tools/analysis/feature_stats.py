"""Norm and direction statistics of the penultimate embeddings of a model.

For a classifier or a distiller checkpoint (a distiller is built with
``build_teacher=False`` and its checkpoint's student weights are used), run
the student over a dataset split and collect its embedding (the neck output,
what ND regularises); when a teacher is available (``--teacher-config`` /
``--teacher-ckpt``, or a distiller config whose ``model.teacher_ckpt``
exists) collect the teacher's too, on the same preprocessed inputs (as the
distiller feeds it). Then:

- print the mean / median embedding norm and the mean cosine between each
  embedding and its class centre, for the student and the teacher;
- write ``embedding_norms.png`` (histogram of the norms, student vs teacher),
  ``center_cosine.png`` (histogram of the cosines) and ``stats.json`` to
  ``--out-dir``.

Class centres are the per-class means of the teacher's embeddings over the
analysed samples when a teacher is available, else of the model's own. A
distiller's ``student_embed`` connector (projector) is applied to the
student's embedding first, as ND does; a student whose embedding width
differs from the teacher's with no projector is compared with its own
centres.

For a detector (an MMDetection detector or a distiller of detectors) the
samples are the ground-truth boxes of the split and the embedding is ND's
ground-truth-box embedding (``nd_mmdet.models.distillers.
gt_box_embeddings``): each box's average RoIAlign feature on the neck level
its size selects, among the levels of the strides that student and teacher
share (measured by a probe, as ``NeckDistiller`` does); the teacher sees
the images normalised its own way. The projector is applied only for a
``NeckDistiller`` (whose ``student_embed`` is this embedding). The test
pipeline is reordered so that the boxes are loaded before any resize. With
``--embedding head`` a ``DenseDistiller`` / ``TwoStageDistiller`` config's
own head-level embeddings are used instead (its ``forward_distill`` with
the student frozen: positive priors, or sampled RoIs background included).

Usage::

    python tools/analysis/feature_stats.py CONFIG CKPT [--out-dir DIR]
        [--split test] [--max-samples N] [--teacher-config C --teacher-ckpt P]
        [--embedding box|head]
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

import nd_mmdet  # noqa: E402,F401  (nd_mmdet.compat before torchvision)
from nd_mmdet.utils.entrypoint import fail, load_config, run_cli  # noqa: E402


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Embedding norm / direction statistics and plots')
    parser.add_argument('config', help='classifier or distiller config')
    parser.add_argument('checkpoint', help='checkpoint of that config')
    parser.add_argument(
        '--out-dir',
        help='where the PNGs and stats.json go (default: '
        'work_dirs/feature_stats/<config name>)')
    parser.add_argument(
        '--split',
        default='test',
        help="dataset split: the config's test dataset with this `split` "
        '(default test)')
    parser.add_argument(
        '--max-samples',
        type=int,
        help='analyse only the first N samples of the split')
    parser.add_argument('--batch-size', type=int, default=200)
    parser.add_argument(
        '--teacher-config',
        help='a teacher classifier config (default: the distiller\'s '
        'model.teacher)')
    parser.add_argument(
        '--teacher-ckpt',
        help="teacher checkpoint (default: the distiller's "
        'model.teacher_ckpt)')
    parser.add_argument(
        '--embedding',
        choices=('box', 'head'),
        default='box',
        help='detectors: "box" (default): ND\'s ground-truth-box '
        'embeddings on the neck, for any detector; "head": the head-level '
        'embeddings of a DenseDistiller / TwoStageDistiller config (its '
        'entries: positive priors, or sampled RoIs with background), '
        'student through its projector, teacher on the same entries')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of CONFIG (key=value)')
    return parser.parse_args(argv)


# --------------------------------------------------------------- building
def _build_model(cfg):
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    return MODELS.build(cfg.model)


def build_models(cfg, checkpoint, teacher_config=None, teacher_ckpt=None):
    """Return ``(model, student, connector, teacher, note)``; ``teacher`` is
    None when none is available (``note`` says why)."""
    from nd_mmdet.utils import build_model_from_spec, load_state_dict_safely
    is_distiller = 'teacher' in cfg.model
    if is_distiller:
        cfg.model.build_teacher = False
    model = _build_model(cfg)
    load_state_dict_safely(model, checkpoint, what='checkpoint')
    student = model.student if is_distiller else model
    connector = None
    if is_distiller and 'student_embed' in getattr(model, 'connectors', {}):
        connector = model.connectors['student_embed']

    teacher_spec = teacher_config or (cfg.model.teacher
                                      if is_distiller else None)
    teacher_ckpt = teacher_ckpt or (cfg.model.get('teacher_ckpt')
                                    if is_distiller else None)
    teacher, note = None, None
    if teacher_spec is None or not teacher_ckpt:
        note = 'no teacher given'
    elif not osp.isfile(teacher_ckpt):
        if teacher_config or not is_distiller:
            raise FileNotFoundError(
                f'teacher checkpoint not found: {teacher_ckpt}')
        note = f'teacher checkpoint {teacher_ckpt} not found'
    else:
        teacher = build_model_from_spec(teacher_spec, 'teacher')
        load_state_dict_safely(teacher, teacher_ckpt)
    for m in (model, teacher):
        if m is not None:
            m.eval()
    return model, student, connector, teacher, note


def boxes_before_resize(pipeline):
    """The pipeline with ``LoadAnnotations`` moved right after the image
    loading, so that the boxes follow every later resize (MMDetection's
    test pipelines load them after the resize, for evaluation only)."""
    steps = [dict(step) for step in pipeline]
    loads = [s for s in steps if 'LoadAnnotations' in str(s.get('type'))]
    rest = [s for s in steps if s not in loads]
    first = next((i for i, s in enumerate(rest)
                  if 'LoadImage' in str(s.get('type'))), -1)
    return rest[:first + 1] + loads + rest[first + 1:]


def build_loader(cfg, split, batch_size, detection=False):
    import copy

    from mmengine.runner import Runner
    if not isinstance(cfg.get('test_dataloader'), dict):
        fail('config: feature_stats needs a test_dataloader to read data')
    dataset = copy.deepcopy(cfg.test_dataloader.dataset)
    if detection:
        dataset['pipeline'] = boxes_before_resize(dataset['pipeline'])
    if 'split' in dataset:
        dataset['split'] = split
    elif split != 'test':
        fail(f'--split {split}: the test dataset of the config has no '
             '`split` argument')
    return Runner.build_dataloader(
        dict(
            batch_size=batch_size,
            num_workers=0,
            dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=False)))


# ------------------------------------------------------------- computing
def _embedding(model, inputs):
    feats = model.extract_feat(inputs)
    if isinstance(feats, (tuple, list)):
        feats = feats[-1]
    return feats.flatten(1)


def collect(model, student, connector, teacher, loader, max_samples=None):
    """Return dict of (N, D) ``student`` (after the connector, if any),
    optional ``teacher`` embeddings and (N,) ``labels``."""
    import torch
    out = {'student': [], 'teacher': [], 'labels': []}
    seen = 0
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            labels = torch.cat(
                [ds.gt_label.view(-1) for ds in data['data_samples']])
            if max_samples is not None:
                keep = max(0, min(len(labels), max_samples - seen))
                inputs, labels = inputs[:keep], labels[:keep]
            if len(labels) == 0:
                break
            s = _embedding(student, inputs)
            if connector is not None:
                s = connector(s)
            out['student'].append(s)
            if teacher is not None:
                out['teacher'].append(_embedding(teacher, inputs))
            out['labels'].append(labels)
            seen += len(labels)
            if max_samples is not None and seen >= max_samples:
                break
    if not out['labels']:
        raise ValueError('feature_stats: the dataset split is empty')
    return {
        k: torch.cat(v).float() if k != 'labels' else torch.cat(v).long()
        for k, v in out.items() if v
    }


def is_detector(model):
    from mmdet.models.detectors import BaseDetector
    return isinstance(model, BaseDetector)


class BoxEmbedder:
    """ND's ground-truth-box embeddings of a student detector (and of a
    teacher) on the levels of the strides both have."""

    def __init__(self, student, teacher):
        from nd_mmdet.models.distillers.neck_levels import (match_levels,
                                                            probe_levels)
        from nd_mmdet.models.distillers.teacher_inputs import \
            TeacherInputMap
        s_levels = probe_levels(student, 'student')
        if teacher is None:
            self.pairs = [(lv, None) for lv in s_levels]
            self.input_map = None
        else:
            self.pairs = [(p.student, p.teacher) for p in match_levels(
                s_levels, probe_levels(teacher, 'teacher'))]
            self.input_map = TeacherInputMap(student.data_preprocessor,
                                             teacher.data_preprocessor)
        widths = {s.channels for s, _ in self.pairs}
        if len(widths) != 1:
            fail(f'the student\'s levels of strides {self.strides} have '
                 f'widths {sorted(widths)}: box embeddings need one width')
        self.student, self.teacher = student, teacher

    @property
    def strides(self):
        return [s.stride for s, _ in self.pairs]

    def __call__(self, inputs, data_samples):
        """``(student (M, D_s), teacher (M, D_t) | None, labels (M,))``."""
        from nd_mmdet.models.distillers.gt_box_embeddings import (
            boxes_and_levels, pool_boxes)
        rois, labels, levels = boxes_and_levels(data_samples, self.strides)
        feats = self.student.extract_feat(inputs)
        student = pool_boxes([feats[s.index] for s, _ in self.pairs],
                             self.strides, rois, levels)
        teacher = None
        if self.teacher is not None:
            feats = self.teacher.extract_feat(
                self.input_map(inputs, data_samples))
            teacher = pool_boxes([feats[t.index] for _, t in self.pairs],
                                 self.strides, rois, levels)
        return student, teacher, labels


def collect_boxes(model, student, connector, teacher, loader,
                  max_samples=None):
    """:func:`collect` for detectors: one sample per ground-truth box."""
    import torch
    embed = BoxEmbedder(student, teacher)
    out = {'student': [], 'teacher': [], 'labels': []}
    seen = 0
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            s, t, labels = embed(data['inputs'], data['data_samples'])
            keep = len(labels) if max_samples is None else \
                max(0, min(len(labels), max_samples - seen))
            if connector is not None and keep:
                s = connector(s)
            out['student'].append(s[:keep])
            if t is not None:
                out['teacher'].append(t[:keep])
            out['labels'].append(labels[:keep])
            seen += keep
            if max_samples is not None and seen >= max_samples:
                break
    if not seen:
        raise ValueError('feature_stats: the split has no ground-truth box')
    return {
        k: torch.cat(v).float() if k != 'labels' else torch.cat(v).long()
        for k, v in out.items() if v
    }


def collect_head(cfg, checkpoint, teacher_ckpt, loader, max_samples=None):
    """Head-level embeddings of a head-level detector distiller: its own
    ``forward_distill`` (student frozen, everything in eval mode) on each
    batch, which gives ``student_embed`` (projected), ``teacher_embed`` and
    ``labels`` at the distiller's entries."""
    import torch

    from nd_mmdet.utils import load_state_dict_safely
    kind = str(cfg.model.get('type')).split('.')[-1]
    if kind not in ('DenseDistiller', 'TwoStageDistiller'):
        fail(f"--embedding head needs a DenseDistiller / TwoStageDistiller "
             f"config, got {cfg.model.get('type')}")
    cfg.model.build_teacher = True
    if teacher_ckpt:
        cfg.model.teacher_ckpt = teacher_ckpt
    if not osp.isfile(cfg.model.get('teacher_ckpt') or ''):
        fail('--embedding head: teacher checkpoint not found: '
             f"{cfg.model.get('teacher_ckpt')}")
    distiller = _build_model(cfg)
    load_state_dict_safely(distiller, checkpoint, what='checkpoint')
    distiller.eval()
    out = {'student': [], 'teacher': [], 'labels': []}
    seen = 0
    with torch.no_grad():
        for batch in loader:
            data = distiller.data_preprocessor(batch, True)
            with distiller.frozen_student():
                _, values = distiller.forward_distill(data['inputs'],
                                                      data['data_samples'])
            labels = values['labels']
            keep = len(labels) if max_samples is None else \
                max(0, min(len(labels), max_samples - seen))
            out['student'].append(values['student_embed'][:keep])
            out['teacher'].append(values['teacher_embed'][:keep])
            out['labels'].append(labels[:keep])
            seen += keep
            if max_samples is not None and seen >= max_samples:
                break
    if not seen:
        raise ValueError('feature_stats: the split gave no entry')
    return {k: torch.cat(v).float() if k != 'labels' else
            torch.cat(v).long() for k, v in out.items()}


def class_centers(embeds, labels):
    """Per-class mean embedding; row k is class k (zero if absent)."""
    import torch
    num = int(labels.max()) + 1
    sums = torch.zeros(num, embeds.shape[1], dtype=torch.float64)
    sums.index_add_(0, labels, embeds.double())
    counts = torch.bincount(labels, minlength=num).clamp(min=1)
    return (sums / counts.unsqueeze(1)).float()


def center_cosine(embeds, labels, centers):
    import torch.nn.functional as F
    return F.cosine_similarity(embeds, centers[labels], dim=1, eps=1e-12)


def compute_stats(embeds):
    """Norms, cosines and their summaries for ``collect``'s output."""
    labels = embeds['labels']
    teacher = embeds.get('teacher')
    student = embeds['student']
    if teacher is not None and teacher.shape[1] == student.shape[1]:
        centres = class_centers(teacher, labels)
        student_centres, centre_source = centres, 'teacher'
    else:
        student_centres, centre_source = class_centers(student,
                                                       labels), 'own'
        centres = class_centers(teacher, labels) if teacher is not None \
            else None
    result = {'centres': centre_source, 'num_samples': int(len(labels))}
    per_sample = {}
    for side, e, c in (('student', student, student_centres),
                       ('teacher', teacher, centres)):
        if e is None:
            continue
        norms = e.norm(dim=1)
        cos = center_cosine(e, labels, c)
        per_sample[side] = (norms, cos)
        result[side] = dict(
            dim=int(e.shape[1]),
            norm_mean=float(norms.mean()),
            norm_median=float(norms.median()),
            cos_mean=float(cos.mean()))
        if side == 'student' and centre_source == 'teacher':
            # also the compactness of the student's own classes
            own = center_cosine(e, labels, class_centers(e, labels))
            result[side]['cos_own_mean'] = float(own.mean())
    if centre_source == 'teacher':
        # where ND's norm term acts: student norm below the teacher's
        below = per_sample['student'][0] < per_sample['teacher'][0]
        result['student']['frac_norm_below_teacher'] = float(
            below.float().mean())
    return result, per_sample


# --------------------------------------------------------------- output
def plot(per_sample, title, out_dir, centres='teacher'):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    paths = {}
    for index, (key, xlabel, name) in enumerate(
        (('norm', 'embedding L2 norm', 'embedding_norms.png'),
         ('cos', 'cosine to class centre (teacher centres)'
          if centres == 'teacher' else
          'cosine to class centre (each model its own centres)',
          'center_cosine.png'))):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for side, colour in (('student', 'tab:blue'),
                             ('teacher', 'tab:orange')):
            if side not in per_sample:
                continue
            values = per_sample[side][index].numpy()
            ax.hist(values, bins=50, alpha=0.55, color=colour,
                    label=f'{side} (mean {values.mean():.3f})')
        ax.set_xlabel(xlabel)
        ax.set_ylabel('samples')
        ax.set_title(title, fontsize=9)
        ax.legend()
        fig.tight_layout()
        path = osp.join(out_dir, name)
        fig.savefig(path)
        plt.close(fig)
        paths[key] = path
    return paths


def format_summary(result):
    lines = [
        f"feature stats: {result['num_samples']} samples of split "
        f"{result['split']}, class centres from the "
        f"{'teacher' if result['centres'] == 'teacher' else 'model itself'}"
    ]
    for side in ('student', 'teacher'):
        if side in result:
            r = result[side]
            lines.append(
                f"  {side:<8} dim {r['dim']:>4}  norm mean "
                f"{r['norm_mean']:.6f}  median {r['norm_median']:.6f}  "
                f"cosine to class centre mean {r['cos_mean']:.6f}" +
                (f"  (to its own class centre {r['cos_own_mean']:.6f})"
                 if 'cos_own_mean' in r else ''))
    if 'frac_norm_below_teacher' in result.get('student', {}):
        lines.append(
            '  student norm below the teacher\'s on '
            f"{100 * result['student']['frac_norm_below_teacher']:.2f}% of "
            'the samples')
    if result.get('note'):
        lines.append(f"  ({result['note']})")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if bool(args.teacher_config) != bool(args.teacher_ckpt) and \
            args.teacher_config:
        fail('--teacher-config needs --teacher-ckpt')
    if args.max_samples is not None and args.max_samples < 1:
        fail('--max-samples must be >= 1')
    cfg = load_config(args.config, args.cfg_options)
    if not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'feature_stats',
        osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out_dir, exist_ok=True)

    model, student, connector, teacher, note = build_models(
        cfg, args.checkpoint, args.teacher_config, args.teacher_ckpt)
    detection = is_detector(student)
    loader = build_loader(cfg, args.split, args.batch_size, detection)
    if detection and args.embedding == 'head':
        embeds = collect_head(cfg, args.checkpoint, args.teacher_ckpt,
                              loader, args.max_samples)
    elif detection:
        if type(model).__name__ != 'NeckDistiller':
            connector = None  # its projector maps another embedding
        embeds = collect_boxes(model, student, connector, teacher, loader,
                               args.max_samples)
    else:
        embeds = collect(model, student, connector, teacher, loader,
                         args.max_samples)
    result, per_sample = compute_stats(embeds)
    notes = [note] if note else []
    if connector is not None:
        notes.append('student embedding after its student_embed projector')
    if teacher is not None and result['centres'] == 'own':
        notes.append(f"student embedding is {result['student']['dim']}-d, "
                     f"teacher {result['teacher']['dim']}-d: each is "
                     'compared with its own class centres')
    if detection and args.embedding == 'head':
        notes.append('samples are the distiller\'s head-level entries')
    elif detection:
        notes.append('samples are ground-truth boxes; embeddings are ND\'s '
                     'box embeddings on the neck')
    result.update(
        config=args.config,
        checkpoint=args.checkpoint,
        split=args.split,
        note='; '.join(notes))
    title = f'{osp.basename(args.config)} ({args.split})'
    result['plots'] = plot(per_sample, title, out_dir, result['centres'])
    with open(osp.join(out_dir, 'stats.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(format_summary(result))
    print(f"  plots: {result['plots']['norm']}, {result['plots']['cos']}")
    return result


if __name__ == '__main__':
    run_cli(main)
