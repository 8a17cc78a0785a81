"""Models: losses, connectors, distillers and the CIFAR backbone zoo.

Importing this package registers every model module in
:data:`nd_mmdet.registry.MODELS`."""
from . import backbones, connectors, distillers, losses  # noqa: F401
