"""Datasets (importing registers them in nd_mmdet.registry.DATASETS)."""
from .cifar100 import CIFAR100
from .fashion_mnist import FashionMNIST

__all__ = ['CIFAR100', 'FashionMNIST']
