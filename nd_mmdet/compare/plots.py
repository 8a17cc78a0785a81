"""The PNGs of a comparison (matplotlib, Agg backend; written atomically).

- :func:`plot_scores`: per method, each seed's score as a dot (one colour
  per seed, the same seed joined by a grey line across methods: the pairs)
  and the mean ± sample std as a bar; the teacher as a dashed line.
- :func:`plot_curves`: the training curves of every run, one panel per
  loss (and the validation metric when the runs validated), x = iteration
  shared by all panels, one colour per method, one line per seed; read
  from mmengine's ``<run_dir>/<timestamp>/vis_data/scalars.json`` (the
  folders of a resumed run are joined, the later value winning).
"""
import glob
import io
import json
import os.path as osp

from nd_mmdet.compat import atomic_write_bytes


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=100, bbox_inches='tight')
    _pyplot().close(fig)
    atomic_write_bytes(buffer.getvalue(), path)


def plot_scores(results, path):
    """Per-seed dots and mean ± std per method of :mod:`report`'s results."""
    plt = _pyplot()
    scale, methods = results['scale'], results['methods']
    seeds = results['seeds']
    colours = plt.get_cmap('tab10')
    fig, ax = plt.subplots(figsize=(1.6 * len(methods) + 2.5, 4))
    for k, seed in enumerate(seeds):
        xs, ys = [], []
        for i, method in enumerate(methods):
            run = method['runs'][k]
            if run['status'] == 'done':
                xs.append(i)
                ys.append(run['score'] * scale)
        ax.plot(xs, ys, color='0.8', lw=0.8, zorder=1)
        ax.scatter(xs, ys, color=colours(k % 10), s=22, zorder=2,
                   label=f'seed {seed}')
    for i, method in enumerate(methods):
        summary = method['summary']
        if summary:
            ax.errorbar(i + 0.18, summary['mean'] * scale,
                        yerr=(summary['std'] or 0) * scale, fmt='s',
                        color='k', capsize=4, zorder=3,
                        label='mean ± std' if i == 0 else None)
    teacher = results.get('teacher')
    if teacher and teacher['score'] is not None:
        ax.axhline(teacher['score'] * scale, ls='--', color='0.4',
                   label='teacher')
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels([m['name'] for m in methods])
    ax.set_ylabel(results['metric'] + (' (x100)' if scale != 1 else ''))
    ax.set_title(f'{results["metric"]} per seed (grey: same seed)')
    ax.legend(fontsize=7, loc='best')
    ax.grid(axis='y', alpha=0.3)
    _save(fig, path)


def read_scalars(run_dir):
    """``{key: {iteration: value}}`` of a run's training / validation
    scalars. Validation logged by epoch (mmengine's ``step`` = the epoch)
    is placed at the last iteration of that epoch."""
    entries = []
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path, encoding='utf-8') as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill
                if isinstance(entry, dict) and \
                        isinstance(entry.get('step'), (int, float)):
                    entries.append(entry)
    epoch_end = {}
    for entry in entries:
        if isinstance(entry.get('epoch'), int):
            epoch_end[entry['epoch']] = max(
                epoch_end.get(entry['epoch'], 0), entry['step'])
    series = {}
    for entry in entries:
        step = entry['step']
        if epoch_end and not any(k.startswith('loss') for k in entry):
            step = epoch_end.get(step, step)  # a validation by epoch
        for key, value in entry.items():
            if isinstance(value, (int, float)) and \
                    key not in ('step', 'iter', 'epoch'):
                series.setdefault(key, {})[step] = value
    return series


def plot_curves(runs, metric, path):
    """``runs``: ``[(method, seed, run_dir)]``. Returns False (and writes
    nothing) when no run logged a loss."""
    data = [(m, s, read_scalars(d)) for m, s, d in runs]
    keys = sorted({k for _, _, sc in data for k in sc if k.startswith('loss')})
    if any(metric in sc for _, _, sc in data):
        keys.append(metric)
    if not keys:
        return False
    plt = _pyplot()
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3 * rows),
                             sharex=True, squeeze=False)
    methods = list(dict.fromkeys(m for m, _, _ in data))
    colours = plt.get_cmap('tab10')
    for ax, key in zip(axes.flat, keys):
        labelled = set()
        for method, _, scalars in data:
            if key not in scalars:
                continue
            steps = sorted(scalars[key])
            ax.plot(steps, [scalars[key][s] for s in steps],
                    color=colours(methods.index(method) % 10), lw=0.9,
                    alpha=0.7, marker='.' if key == metric else None,
                    label=None if method in labelled else method)
            labelled.add(method)
        ax.set_title(key, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc='best')
        ax.set_xlabel('iteration', fontsize=8)
        ax.tick_params(labelbottom=True)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    fig.suptitle('training curves (one line per run: method x seed)',
                 fontsize=10)
    _save(fig, path)
    return True
