"""Install nd_mmdet. The OpenMMLab stack is installed by scripts/install.sh
(see README "Install"), not resolved by pip from here: a pip resolve of an
unpinned torch pulls a multi-GB CUDA build and mmcv needs a source build."""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    namespace = {}
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'nd_mmdet',
                    'version.py')
    with open(path, encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='nd_mmdet',
    version=read_version(),
    description='Knowledge distillation with feature norm and direction '
    'regularisation (ND) on OpenMMLab',
    packages=find_packages(exclude=('configs', 'tools', 'tests',
                                    'benchmarks')),
    python_requires='>=3.10',
    license='Apache-2.0',
    zip_safe=False,
)
