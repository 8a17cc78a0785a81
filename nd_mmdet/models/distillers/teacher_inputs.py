"""The student's preprocessed batch, re-normalised the teacher's way.

MMDetection's ``DetDataPreprocessor`` (an mmengine ``ImgDataPreprocessor``)
turns each image ``raw`` (H, W in the file's BGR order) into

    x = (P(raw) - mean) / std          P = BGR->RGB flip if bgr_to_rgb

and pads the batch with ``pad_value`` (after normalisation) up to a
multiple of ``pad_size_divisor``. Teacher and student may be configured
differently (caffe- vs pytorch-style mean / std, BGR vs RGB: Faster R-CNN
vs RTMDet). Normalisation is affine per channel, so the teacher's input is
computed from the student's batch, after the student's augmentation (batch
augments included), without a second pass through the data pipeline:

    raw' = P_s^-1(x_s * std_s + mean_s)
    x_t  = (P_t(raw') - mean_t) / std_t

The padded area (outside each image's ``img_shape``) gets the teacher's
``pad_value``; when the teacher pads to a larger ``pad_size_divisor`` the
batch is padded further (bottom / right) with that value.
"""
import torch
from torch import nn


def _normalisation(preprocessor):
    """``(mean (C,1,1) | None, std (C,1,1) | None, flip, pad_value,
    pad_size_divisor)`` of an mmengine ``ImgDataPreprocessor``."""
    enabled = getattr(preprocessor, '_enable_normalize', False)
    mean = getattr(preprocessor, 'mean', None) if enabled else None
    std = getattr(preprocessor, 'std', None) if enabled else None
    return (mean, std, bool(getattr(preprocessor, '_channel_conversion',
                                    False)),
            float(getattr(preprocessor, 'pad_value', 0)),
            int(getattr(preprocessor, 'pad_size_divisor', 1) or 1))


class TeacherInputMap(nn.Module):
    """Maps the student's preprocessed batch to the teacher's normalisation.

    Built from the two preprocessors; when they normalise, order channels
    and pad alike (:attr:`remap` False) and the batch is already a multiple
    of the teacher's ``pad_size_divisor``, the input is returned as is.

    Shapes:
        inputs ``(N, 3, H, W)`` (the student's preprocessed batch),
        ``data_samples`` with ``metainfo['img_shape']`` -> ``(N, 3, H', W')``
        with ``H' >= H`` (``W'`` likewise) a multiple of the teacher's
        ``pad_size_divisor``.
    """

    def __init__(self, student_preprocessor, teacher_preprocessor):
        super().__init__()
        s_mean, s_std, s_flip, s_pad, _ = _normalisation(
            student_preprocessor)
        t_mean, t_std, t_flip, t_pad, t_div = _normalisation(
            teacher_preprocessor)
        self.flip = s_flip != t_flip
        self.pad_value = t_pad
        self.pad_size_divisor = t_div
        one, zero = torch.ones(3, 1, 1), torch.zeros(3, 1, 1)
        s_mean = zero if s_mean is None else s_mean.detach().float().cpu()
        s_std = one if s_std is None else s_std.detach().float().cpu()
        t_mean = zero if t_mean is None else t_mean.detach().float().cpu()
        t_std = one if t_std is None else t_std.detach().float().cpu()
        for name, value in (('student mean', s_mean), ('student std', s_std),
                            ('teacher mean', t_mean), ('teacher std', t_std)):
            if value.numel() not in (1, 3):
                raise ValueError(
                    f'{name} has {value.numel()} values; the teacher input '
                    'map handles 1 or 3 channels')
        # x_t = x_s[perm] * scale + shift, per teacher channel.
        if self.flip:
            s_mean, s_std = s_mean.flip(0), s_std.flip(0)
        scale = (s_std / t_std).reshape(-1, 1, 1)
        shift = ((s_mean - t_mean) / t_std).reshape(-1, 1, 1)
        self.register_buffer('scale', scale, persistent=False)
        self.register_buffer('shift', shift, persistent=False)
        self.affine = not (torch.allclose(scale, torch.ones_like(scale))
                           and torch.allclose(shift,
                                              torch.zeros_like(shift)))
        #: whether pixel values change (else only padding may be added)
        self.remap = self.flip or self.affine or s_pad != t_pad

    def forward(self, inputs, data_samples):
        x = inputs
        if self.remap:
            x = self._remap(x, data_samples)
        div = self.pad_size_divisor
        pad_h = -x.shape[2] % div
        pad_w = -x.shape[3] % div
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h),
                                  value=self.pad_value)
        return x

    def _remap(self, x, data_samples):
        """Channel order and normalisation of the teacher; its pad value
        outside each image's ``img_shape``."""
        if self.flip:
            if x.shape[1] != 3:
                raise ValueError(
                    f'teacher and student differ in bgr_to_rgb but the batch'
                    f' has {x.shape[1]} channels (expected 3)')
            x = x.flip(1)
        if self.affine:
            x = x * self.scale.to(x) + self.shift.to(x)
        valid = x.new_zeros((x.shape[0], 1) + x.shape[2:], dtype=torch.bool)
        for i, sample in enumerate(data_samples):
            height, width = sample.metainfo['img_shape'][:2]
            valid[i, :, :height, :width] = True
        return torch.where(valid, x, x.new_tensor(self.pad_value))
