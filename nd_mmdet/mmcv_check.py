"""mmcv, checked when nd_mmdet is imported (as MMDetection checks it).

The package does not declare mmcv in ``install_requires``
(requirements/mminstall.txt, the ``mminstall`` extra): PyPI has no
onedl-mmcv wheel with compiled ops for this torch, so pip would start a
10+ minute source build (hours with CUDA) that the user did not ask for.
scripts/install.sh builds it once against the installed torch and caches
the wheel. Instead, ``import nd_mmdet`` stops with one line
(:class:`MMCVError`, an ``ImportError``) when mmcv

- is missing,
- has a version outside :data:`MMCV_RANGE` (the range of
  requirements/mminstall.txt), or
- has no compiled ops (``mmcv._ext``: an ``MMCV_WITH_OPS=0`` build or
  mmcv-lite; every detector needs its NMS / RoIAlign),

naming scripts/install.sh and docs/get_started.md. The check imports mmcv
(which imports torch, not torchvision) and only looks for the ops module:
loading it is left to the first use.
"""
import importlib.util

#: ``(minimum, maximum)``: minimum <= mmcv version < maximum.
MMCV_RANGE = ('2.3.6', '2.4')

#: Where a user is sent.
HOW = ('install it with scripts/install.sh (it builds mmcv with its ops '
       'against your torch and caches the wheel; --cuda for GPUs), see '
       'docs/get_started.md "Install"')


class MMCVError(ImportError):
    """mmcv is missing, of another version or without its ops (one line)."""


def mmcv_problem():
    """What is wrong with the installed mmcv, or None."""
    low, high = MMCV_RANGE
    wanted = f'onedl-mmcv>={low},<{high} with its compiled ops'
    try:
        import mmcv
    except ImportError as err:
        return f'nd_mmdet needs {wanted}, and mmcv cannot be imported ' \
            f'({err}); pip does not install it for nd_mmdet (PyPI has no ' \
            f'wheel with ops: a source build): {HOW}'
    from mmengine.utils import digit_version
    version = getattr(mmcv, '__version__', '0')
    if not digit_version(low) <= digit_version(version) < \
            digit_version(high):
        return f'nd_mmdet needs {wanted}, got mmcv {version} ' \
            f'({mmcv.__file__}): {HOW}'
    try:
        ops = importlib.util.find_spec('mmcv._ext')
    except (ImportError, ValueError):
        ops = None
    if ops is None:
        return f'nd_mmdet needs {wanted}; mmcv {version} ' \
            f'({mmcv.__file__}) has no compiled ops (mmcv._ext: built with ' \
            f'MMCV_WITH_OPS=0, or mmcv-lite): {HOW}'
    return None


def check_mmcv():
    """Raise :class:`MMCVError` (one line) when :func:`mmcv_problem`
    finds something."""
    problem = mmcv_problem()
    if problem:
        raise MMCVError(problem)
