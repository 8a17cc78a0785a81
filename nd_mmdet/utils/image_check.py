"""Images that cannot be decoded are one line naming the file.

mmcv's ``LoadImageFromFile`` asserts that the decoded image is not None
(an ``AssertionError`` traceback from inside the data loader), and OpenCV
decodes a JPEG cut short (a copy interrupted, a full disk) into an image
whose missing rows are grey, with only a libjpeg warning on stderr: the
run trains on it.

:func:`check_image_bytes` refuses JPEG bytes without the end-of-image
marker and PNG bytes without the ``IEND`` chunk (both cheap: the last
bytes); :func:`checked_transform` wraps ``LoadImageFromFile.transform`` so
that a failed or refused decode is a ``ValueError`` naming the file
(``ignore_empty=True`` keeps mmcv's behaviour: the sample is skipped).
The wrapper is installed by ``nd_mmdet.compat.check_image_loading``.
"""

JPEG_START, JPEG_END = b'\xff\xd8', b'\xff\xd9'
PNG_START = b'\x89PNG\r\n\x1a\n'


class ImageDecodeError(ValueError):
    """An image file that is truncated or cannot be decoded."""


def check_image_bytes(content):
    """Raise :class:`ImageDecodeError` when ``content`` is a JPEG or PNG
    stream cut short (other formats are left to the decoder)."""
    data = bytes(content[:8]) if content is not None else b''
    if data.startswith(JPEG_START):
        # Encoders may pad after the marker; look at the tail only.
        if JPEG_END not in bytes(content[-64:]):
            raise ImageDecodeError('truncated JPEG (no end-of-image marker)')
    elif data.startswith(PNG_START):
        if bytes(content[-12:-4])[4:] != b'IEND':
            raise ImageDecodeError('truncated PNG (no IEND chunk)')


def checked_imfrombytes(imfrombytes):
    """``mmcv.imfrombytes`` that first applies :func:`check_image_bytes`."""

    def wrapped(content, *args, **kwargs):
        check_image_bytes(content)
        return imfrombytes(content, *args, **kwargs)

    wrapped._nd_mmdet_checked = True
    return wrapped


def checked_transform(transform):
    """``LoadImageFromFile.transform`` whose decode failures name the
    file."""

    def wrapped(self, results):
        try:
            return transform(self, results)
        except (ImageDecodeError, AssertionError) as err:
            if isinstance(err, AssertionError) and \
                    'failed to load image' not in str(err):
                raise
            why = err if isinstance(err, ImageDecodeError) else \
                'not an image, or corrupt'
            raise ImageDecodeError(
                f"image {results.get('img_path')} cannot be decoded ({why}); "
                'replace or remove it') from None

    wrapped._nd_mmdet_checked = True
    return wrapped
