"""Shared plumbing of tools/train.py and tools/test.py.

Errors a user can fix (a wrong path, a bad config value) end the tool with
one line on stderr naming the file, key or shape at fault and exit status 1;
``ND_MMDET_TRACEBACK=1`` prints the full traceback instead.
"""
import os
import os.path as osp
import sys

from .preflight import PreflightError, check_dataset_paths

#: Exceptions reported as one line (raised by our checks with full context).
USER_ERRORS = (PreflightError, FileNotFoundError, ValueError)
#: errno values of a save that the machine refused (full disk, quota,
#: read-only file system, I/O error): one line, not a traceback.
SAVE_ERRNOS = (28, 122, 30, 5)


def fail(message):
    """Print ``error: message`` on stderr and exit with status 1."""
    print(f'error: {message}', file=sys.stderr)
    sys.exit(1)


#: Messages of a config typo as Python / mmengine's registry word them: an
#: argument a class does not take, a missing one, an unknown type name.
CONFIG_ERROR_PATTERNS = (
    r'__init__\(\) got an unexpected keyword argument',
    r'__init__\(\) missing \d+ required',
    r'is not in the \S+ registry',
)


def is_config_error(err):
    """``err`` is a TypeError / KeyError caused by a config typo."""
    import re
    text = str(err)
    return any(re.search(p, text) for p in CONFIG_ERROR_PATTERNS)


def report(err, hint=''):
    """End the tool with ``err`` as one ``error:`` line."""
    text = ' '.join(str(err).strip('"\'').split())
    fail(f'{text}{hint} (ND_MMDET_TRACEBACK=1 shows the traceback)')


def run_cli(main):
    """Run ``main()``; report :data:`USER_ERRORS` as one line; leave a
    distributed run in step (see :func:`shutdown_distributed`)."""
    if os.environ.get('ND_MMDET_TRACEBACK') == '1':
        result = main()
    else:
        try:
            result = main()
        except USER_ERRORS as err:
            report(err)
        except (TypeError, KeyError) as err:
            if not is_config_error(err):
                raise
            report(err, '; check the config key or --cfg-options')
        except FloatingPointError as err:
            report(err, '; the checkpoints saved before it are intact')
        except OSError as err:
            if err.errno not in SAVE_ERRNOS:
                raise
            report(err, '; the files saved before it are intact (written '
                   'atomically)')
    shutdown_distributed()
    return result


def cfg_options_action():
    """mmengine's ``DictAction`` for ``--cfg-options``, where a value
    written as ``dict(...)`` (its parser recurses without end on it: a
    RecursionError traceback) is one line that gives the dotted keys to
    use instead."""
    import re

    from mmengine.config import DictAction

    class CfgOptionsAction(DictAction):

        def __call__(self, parser, namespace, values, option_string=None):
            for item in values:
                key, _, value = item.partition('=')
                found = re.fullmatch(r'\s*dict\((.*)\)\s*', value)
                if found:
                    pairs = [p.split('=', 1) for p in
                             found.group(1).split(',') if '=' in p]
                    dotted = ' '.join(f'{key}.{k.strip()}={v.strip()}'
                                      for k, v in pairs)
                    fail(f'--cfg-options {key}: a dict(...) value cannot be '
                         f'parsed; set its keys one by one: {dotted}')
            try:
                super().__call__(parser, namespace, values, option_string)
            except RecursionError:
                fail(f'--cfg-options: cannot parse {" ".join(values)}')

    return CfgOptionsAction


def shutdown_distributed():
    """Wait for every rank, then destroy the process group. A rank that
    exits while another still saves a checkpoint can abort inside gloo
    ('terminate called without an active exception')."""
    import torch.distributed as torch_dist
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def load_config(path, cfg_options=None, launcher='none', work_dir=None):
    """Read a config the way MMDetection's tools do (launcher, overrides,
    work_dir: CLI > config > ./work_dirs/<config name>).

    A distiller's ``student`` / ``teacher`` given by name (a config path,
    ``'mmdet::...'`` or ``dict(config=..., **overrides)``) is first
    expanded into its model config dict
    (:func:`nd_mmdet.utils.load_model_config`), so ``cfg_options`` such as
    ``model.student.roi_head.bbox_head.num_classes=1`` merge into it.

    The final config's keys are then checked
    (:func:`nd_mmdet.utils.strict_config.check_config_keys`): a key that
    nothing reads (a typo) stops here with one line."""
    from mmengine.config import Config

    from .model_spec import CONFIG_KEY, load_model_config
    from .strict_config import check_config_keys
    if not osp.isfile(path):
        fail(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    model = cfg.get('model')
    for role in ('student', 'teacher'):
        spec = model.get(role) if isinstance(model, dict) else None
        if isinstance(spec, str) or \
                (isinstance(spec, dict) and CONFIG_KEY in spec):
            model[role] = load_model_config(spec, role, osp.dirname(path))
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    # MMPretrain configs keep the preprocessor at the top level.
    if 'data_preprocessor' in cfg and 'model' in cfg:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    check_config_keys(cfg, cfg_options)
    return cfg


def build_runner(cfg, loaders):
    """Check the dataset paths of ``loaders``, the classes, boxes and
    ``num_classes`` they imply and the loss arguments
    (:mod:`nd_mmdet.utils.preflight`), then build the Runner."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from nd_mmdet.compat import check_image_loading, prepare_cpu_distributed

    from .preflight import check_config_contents
    check_config_contents(cfg, loaders, check_dataset_paths(cfg, loaders))
    prepare_cpu_distributed(cfg)
    check_image_loading()
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
