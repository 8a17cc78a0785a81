"""CIFAR-100 backbone zoo (the CRD / mdistiller CIFAR variants).

Every backbone takes ``(N, 3, 32, 32)`` images and returns a tuple of stage
feature maps chosen by ``out_indices`` (default: the last one), exposes
``stage_channels`` (channels of every stage output) and ``embed_dim`` (the
width of the final embedding, i.e. ``in_channels`` of the linear head after
global average pooling).

=====================================================  =========  ==========
model                                                  embed_dim  params
=====================================================  =========  ==========
``CifarResNet(arch='resnet20')``                       64         0.28M
``CifarResNet(arch='resnet56')``                       64         0.86M
``CifarResNet(arch='resnet8x4')``                      256        1.23M
``CifarResNet(arch='resnet32x4')``                     256        7.43M
``CifarWideResNet(depth=40, widen_factor=1)``          64         0.57M
``CifarWideResNet(depth=40, widen_factor=2)``          128        2.26M
``CifarResNet50()``                                    2048       23.71M
``CifarMobileNetV2()`` (width 0.5)                     1280       0.81M
``CifarShuffleNetV1()`` (g = 3)                        960        0.95M
``CifarShuffleNetV2()`` (net_size 1)                   1024       1.36M
=====================================================  =========  ==========

Params: backbone plus a 100-way linear head on the embedding.

For ImageNet: ``MobileNetV1()`` (1024-d embedding, 4.23M parameters with a
1000-way head), the MobileNet student of ReviewKD and ND.
"""
from .cifar_mobilenetv2 import CifarMobileNetV2
from .base_backbone import BaseCifarBackbone
from .cifar_resnet import CifarResNet
from .cifar_resnet50 import CifarResNet50
from .mobilenet_v1 import MobileNetV1
from .shufflenet_v1 import CifarShuffleNetV1
from .shufflenet_v2 import CifarShuffleNetV2
from .wide_resnet import CifarWideResNet

__all__ = [
    'BaseCifarBackbone', 'CifarResNet', 'CifarWideResNet', 'CifarResNet50',
    'CifarMobileNetV2', 'CifarShuffleNetV1', 'CifarShuffleNetV2', 'MobileNetV1'
]
