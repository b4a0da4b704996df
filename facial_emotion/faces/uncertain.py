"""When a face's emotion is shown as "uncertain": its top class probability is under
`demo.detector.uncertain_below`. One rule for the demo, the service and the API.

On FER2013's PublicTest faces the shipped model is right on about half of the faces whose top
probability is near 0.5 and on fewer below it (benchmarks/uncertain_threshold.py, docs/detector.md);
masked faces land there often (18 of 28). A visible "uncertain" beats a confident wrong label.
"""

from __future__ import annotations

import numpy as np

UNCERTAIN = "uncertain"


def is_uncertain(probabilities: np.ndarray, threshold: float) -> bool:
    """True when the most likely class has a probability under `threshold`."""
    return bool(float(np.max(probabilities)) < threshold)
