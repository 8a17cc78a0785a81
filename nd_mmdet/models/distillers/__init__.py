from .base_distiller import BaseDistiller
from .classification_distiller import ClassificationDistiller
from .dense_distiller import DenseDistiller  # noqa: F401
from .neck_distiller import NeckDistiller  # noqa: F401
from .recorder import OutputRecorder
from .two_stage_distiller import TwoStageDistiller  # noqa: F401

__all__ = ['BaseDistiller', 'ClassificationDistiller', 'OutputRecorder']
