from .base_distiller import BaseDistiller
from .classification_distiller import ClassificationDistiller
from .recorder import OutputRecorder

__all__ = ['BaseDistiller', 'ClassificationDistiller', 'OutputRecorder']
