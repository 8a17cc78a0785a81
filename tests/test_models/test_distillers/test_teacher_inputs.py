"""TeacherInputMap: the student's preprocessed batch mapped to the teacher's
normalisation equals the teacher's own preprocessing of the same images,
padding included."""
import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample

from nd_mmdet.models.distillers.teacher_inputs import TeacherInputMap

torch.set_num_threads(1)

#: MMDetection's two styles: torchvision (RGB) and caffe (BGR, std 1)
PYTORCH = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
               bgr_to_rgb=True, pad_size_divisor=32)
CAFFE = dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0],
             bgr_to_rgb=False, pad_size_divisor=32)
#: YOLOX: no normalisation, grey padding
YOLOX = dict(pad_size_divisor=32, pad_value=114)


def raw_batch():
    """Two uint8 BGR images of different sizes (the batch gets padded)."""
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 50, 70), generator=gen,
                            dtype=torch.uint8),
              torch.randint(0, 256, (3, 64, 40), generator=gen,
                            dtype=torch.uint8)]
    samples = []
    for img in images:
        sample = DetDataSample()
        sample.set_metainfo(dict(img_shape=tuple(img.shape[1:]),
                                 ori_shape=tuple(img.shape[1:])))
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


def preprocess(cfg):
    pre = DetDataPreprocessor(**cfg)
    return pre, pre(raw_batch(), False)


@pytest.mark.parametrize('student, teacher', [
    (PYTORCH, CAFFE), (CAFFE, PYTORCH), (YOLOX, PYTORCH), (PYTORCH, YOLOX),
    (PYTORCH, dict(CAFFE, pad_size_divisor=128))])
def test_equals_teachers_own_preprocessing(student, teacher):
    s_pre, s_data = preprocess(student)
    t_pre, t_data = preprocess(teacher)
    mapped = TeacherInputMap(s_pre, t_pre)(s_data['inputs'],
                                           s_data['data_samples'])
    assert mapped.shape == t_data['inputs'].shape
    torch.testing.assert_close(mapped, t_data['inputs'], atol=1e-4,
                               rtol=1e-5)


def test_same_preprocessing_is_returned_unchanged():
    s_pre, s_data = preprocess(PYTORCH)
    t_pre, _ = preprocess(dict(PYTORCH))
    mapping = TeacherInputMap(s_pre, t_pre)
    assert not mapping.remap
    assert mapping(s_data['inputs'], s_data['data_samples']) is \
        s_data['inputs']


def test_hand_values_of_the_affine_map():
    """Student x = (B - 10) / 2 in RGB order; teacher (raw - 1) / 4 in BGR
    order: teacher channel 0 (B) = (2 x_s[2] + 10 - 1) / 4."""
    s_pre = DetDataPreprocessor(mean=[30, 20, 10], std=[2, 2, 2],
                                bgr_to_rgb=True)
    t_pre = DetDataPreprocessor(mean=[1, 1, 1], std=[4, 4, 4])
    mapping = TeacherInputMap(s_pre, t_pre)
    x = torch.arange(3.).view(1, 3, 1, 1)  # R = 0, G = 1, B = 2
    sample = DetDataSample(metainfo=dict(img_shape=(1, 1)))
    out = mapping(x, [sample]).flatten().tolist()
    # B: (2*2 + 10 - 1)/4, G: (2*1 + 20 - 1)/4, R: (2*0 + 30 - 1)/4
    assert out == pytest.approx([13 / 4, 21 / 4, 29 / 4])


def test_one_channel_mean_with_flip_is_refused_at_forward():
    s_pre = DetDataPreprocessor(bgr_to_rgb=True)
    t_pre = DetDataPreprocessor()
    mapping = TeacherInputMap(s_pre, t_pre)
    sample = DetDataSample(metainfo=dict(img_shape=(2, 2)))
    with pytest.raises(ValueError, match='has 1 channels'):
        mapping(torch.zeros(1, 1, 2, 2), [sample])
