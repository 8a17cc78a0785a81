"""Random streams that keep the methods of one seed paired.

A seed fixes the student's initialisation, the data order, the
augmentations and the student's own samplers (RPN / RoI sampling). For the
per-seed difference between two methods (student alone, KD, KD++, ...) to be
a paired sample, what only one method adds must not move those streams:

- building the teacher, the losses and the connectors (a projector's
  ``nn.Linear`` init draws numbers) happens under :func:`preserved_rng`, so
  the global stream after building a distiller is the one after building
  its student alone, and the Runner's ``init_weights`` gives the student the
  same weights in every method of a seed;
- the random numbers the distillation draws in training (a projector's
  dropout masks, the background priors a dense KD samples) come from the
  distiller's own :class:`PrivateStream`, so they do not shift the RoI
  sampler's draws of the next iteration;
- the class-centre pre-pass (teacher forward over training batches, the
  student's RPN + sampler in eval mode, the data loader's augmentations)
  runs under :func:`preserved_rng`, so KD++ starts training from the random
  state KD starts from, and a run that loads cached centres draws what a
  run that computed them drew.
"""
import contextlib
import random

import numpy as np
import torch


def _cuda_devices(device=None):
    """CUDA device indices whose states are saved: ``device``'s when it is
    a CUDA device, else every initialised device."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return []
    if device is not None:
        device = torch.device(device)
        if device.type != 'cuda':
            return []
        return [device.index if device.index is not None else
                torch.cuda.current_device()]
    return list(range(torch.cuda.device_count()))


@contextlib.contextmanager
def preserved_rng(device=None):
    """Run the block, then put python's ``random``, numpy's global and
    torch's CPU (and CUDA: ``device``'s, or every initialised device's)
    random states back to what they were before it."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    cpu_state = torch.get_rng_state()
    cuda = {i: torch.cuda.get_rng_state(i) for i in _cuda_devices(device)}
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu_state)
        for index, state in cuda.items():
            torch.cuda.set_rng_state(state, index)


class PrivateStream:
    """A torch random stream of its own, swapped in for a block.

    ``with stream(device):`` makes torch's global CPU generator (and that of
    ``device`` when it is a CUDA device) continue this stream for the block,
    then saves where the stream got to and puts the global states back. The
    numbers drawn in the block (``nn.Dropout``, ``torch.randperm``) are thus
    a function of :attr:`seed` and of how many were drawn in earlier blocks,
    and the global stream is untouched.

    Args:
        seed (int): the stream's seed.
    """

    def __init__(self, seed):
        self.reseed(seed)

    def reseed(self, seed):
        """Restart the stream from ``seed`` (e.g. per epoch, for an exact
        resume)."""
        self.seed = int(seed)
        self._states = {}

    @contextlib.contextmanager
    def __call__(self, device=None):
        cuda = _cuda_devices(device) if device is not None else []
        saved = {'cpu': torch.get_rng_state()}
        saved.update({i: torch.cuda.get_rng_state(i) for i in cuda})
        try:
            self._enter('cpu', torch.set_rng_state,
                        torch.random.default_generator.manual_seed)
            for index in cuda:
                self._enter(
                    index, lambda s, i=index: torch.cuda.set_rng_state(s, i),
                    lambda seed, i=index: torch.cuda.default_generators[i].
                    manual_seed(seed))
            yield
        finally:
            self._states['cpu'] = torch.get_rng_state()
            for index in cuda:
                self._states[index] = torch.cuda.get_rng_state(index)
            torch.set_rng_state(saved.pop('cpu'))
            for index, state in saved.items():
                torch.cuda.set_rng_state(state, index)

    def _enter(self, key, set_state, manual_seed):
        state = self._states.get(key)
        if state is None:
            manual_seed(self.seed)
        else:
            set_state(state)
