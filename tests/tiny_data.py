"""Writers of tiny datasets in the standard on-disk formats."""
import os
import os.path as osp
import pickle

import numpy as np


def write_tiny_cifar100(root, num_train=64, num_test=32, num_classes=4,
                        seed=0):
    """Write ``root/cifar-100-python/{train,test,meta}`` like the official
    archive (str keys, CHW-flattened uint8 rows). Class k's images are noisy
    versions of one random colour, so a small net can learn them."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, size=(num_classes, 3))
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    for split, num in (('train', num_train), ('test', num_test)):
        labels = np.arange(num) % num_classes
        images = colours[labels][:, :, None, None] + rng.normal(
            0, 30, size=(num, 3, 32, 32))
        data = np.clip(images, 0, 255).astype(np.uint8).reshape(num, -1)
        with open(osp.join(folder, split), 'wb') as f:
            pickle.dump({'data': data, 'fine_labels': labels.tolist()}, f)
    with open(osp.join(folder, 'meta'), 'wb') as f:
        pickle.dump({'fine_label_names': [f'c{i}' for i in range(100)]}, f)
    return folder


def write_tiny_fashion_mnist(root, num_train=120, num_test=40, seed=0):
    """Write Fashion-MNIST idx files (``train-*`` / ``t10k-*``, gzipped)
    under ``root``: 28x28 images of the ten classes, class k brighter than
    class k-1, so a small net can learn them."""
    from nd_mmdet.datasets.fashion_mnist import write_idx
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, num in (('train', num_train), ('t10k', num_test)):
        labels = np.arange(num) % 10
        images = np.clip(labels[:, None, None] * 25 +
                         rng.integers(0, 40, size=(num, 28, 28)), 0, 255)
        write_idx(osp.join(root, f'{prefix}-images-idx3-ubyte.gz'), images)
        write_idx(osp.join(root, f'{prefix}-labels-idx1-ubyte.gz'), labels)
    return root
