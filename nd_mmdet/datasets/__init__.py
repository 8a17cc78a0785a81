"""Datasets (importing registers them in nd_mmdet.registry.DATASETS)."""
from .cifar100 import CIFAR100

__all__ = ['CIFAR100']
