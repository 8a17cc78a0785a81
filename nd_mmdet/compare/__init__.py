"""tools/compare.py's parts: does a method help, over seeds, paired.

- :mod:`.configs`: the config digest and what a config says (metric,
  distiller, best checkpoint);
- :mod:`.records`: a run's record (``compare_run.json``), atomic, checked;
- :mod:`.runs`: one run as a job: train (``tools/train.py --resume``),
  evaluate (``tools/test.py --dump-metrics``), or reuse;
- :mod:`.launcher`: the jobs as child processes, N at once;
- :mod:`.stats`: means, sample std, paired wins / ties and t intervals;
- :mod:`.report` / :mod:`.plots`: results.md / results.json and the PNGs.
"""
