"""Export the shipped Keras model to ONNX beside it, checked on FER2013's test rows (or, without
the data, on generated faces), and record the file and the check in its card.

    python -m facial_emotion.pretrained.export --fer2013 data/raw/fer2013.csv.gz

The API, the CLI, the demo and the service load the ONNX file through ONNX Runtime; the `.keras`
file stays for the pipeline (fine-tuning, the Keras benchmark baseline). build.py calls this too.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from ..cli import run_main
from ..errors import PipelineError
from ..files import read_json, write_json
from . import DEFAULT, SHIPPED, TEST_USAGES

log = logging.getLogger("facial_emotion.pretrained")

MIN_AGREEMENT = 0.999  # params.yaml export.min_agreement's default; the shipped model is held to it too
GENERATED_FACES = 2000


def check_faces(fer2013: Path | None) -> tuple[np.ndarray, str]:
    """FER2013's PublicTest + PrivateTest faces, or random faces when the data is not at hand."""
    if fer2013 is None:
        faces = np.random.default_rng(0).integers(0, 256, (GENERATED_FACES, 48, 48), dtype=np.uint8)
        return faces, f"{GENERATED_FACES} generated faces (uniform noise, seed 0)"
    from ..data.fer_csv import read_fer_csv

    if not fer2013.exists():
        raise PipelineError(f"{fer2013}: not found")
    dataset, _ = read_fer_csv(fer2013)
    mask = np.isin(dataset.usage, TEST_USAGES)
    return dataset.images[mask], f"FER2013 {' + '.join(TEST_USAGES)} ({int(mask.sum())} faces)"


def export_shipped(fer2013: Path | None = None, which: str = DEFAULT) -> dict:
    """Export one shipped model (`which`: its label set) to ONNX beside it and record the check in its card."""
    from ..inference.export import export_checked
    from ..models.store import load_keras_model

    shipped = SHIPPED[which]
    faces, described = check_faces(fer2013)
    result = export_checked(load_keras_model(shipped.keras_file), shipped.onnx_file, faces, shipped.keras_file.name,
                            MIN_AGREEMENT)
    card = read_json(shipped.card_json)
    card["onnx"] = {"file": result["file"], "sha256": result["sha256"], "classes": result["classes"],
                    "opset": result["opset"], "parity_faces": described,
                    "parity": {k: round(v, 8) if isinstance(v, float) else v for k, v in result["parity"].items()},
                    "runtime": result["runtime"]}
    write_json(shipped.card_json, card)
    log.info("wrote %s (%.2f MB) and its card entry", shipped.onnx_file, shipped.onnx_file.stat().st_size / 1e6)
    return card["onnx"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facial_emotion.pretrained.export",
                                     description="Export the shipped Keras model to ONNX, parity-checked")
    parser.add_argument("--fer2013", type=Path, default=None,
                        help="FER2013 CSV: check on its test rows (default: on generated faces)")
    parser.add_argument("--which", choices=sorted(SHIPPED), default=DEFAULT, help="which shipped model")
    args = parser.parse_args(argv)
    export_shipped(args.fer2013, args.which)


if __name__ == "__main__":
    run_main(main)
