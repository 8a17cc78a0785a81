"""CIFAR-100 from the standard ``cifar-100-python`` layout (local only)."""
import os.path as osp

from mmpretrain.datasets import CIFAR100 as _MMPretrainCIFAR100

from nd_mmdet.registry import DATASETS


@DATASETS.register_module()
class CIFAR100(_MMPretrainCIFAR100):
    """MMPretrain's CIFAR-100 with local-only reading and clear errors.

    Reads ``<data_root>/cifar-100-python/{train,test}`` (the official
    archive, extracted). Differences from ``mmpretrain.CIFAR100``:
    ``download`` defaults to False (training never fetches data at run time),
    a missing file is a ``FileNotFoundError`` naming the expected path, and
    ``verify_md5=False`` skips the md5 check of the official files (for data
    written by tests or re-packed by users).

    Each sample is ``{'img': uint8 (32, 32, 3) RGB, 'gt_label': int}``.
    """

    def __init__(self, data_root='', split='train', verify_md5=True,
                 download=False, **kwargs):
        self.verify_md5 = verify_md5
        super().__init__(
            data_root=data_root, split=split, download=download, **kwargs)

    def _expected_files(self):
        root = self.data_prefix['root']
        names = [n for n, _ in self.train_list + self.test_list]
        return [osp.join(root, self.base_folder, n) for n in names]

    def _check_integrity(self):
        if self.verify_md5:
            return super()._check_integrity()
        return all(osp.isfile(p) for p in self._expected_files())

    def load_data_list(self):
        if not self.download:
            missing = [p for p in self._expected_files() if not osp.isfile(p)]
            if missing:
                raise FileNotFoundError(
                    f'CIFAR-100 file not found: {missing[0]} (expected the '
                    'extracted cifar-100-python archive under data_root)')
            if not self._check_integrity():
                raise ValueError(
                    f'CIFAR-100 files under {self.data_prefix["root"]} fail '
                    'the md5 check of the official release; set '
                    'verify_md5=False to use them anyway')
        return super().load_data_list()
