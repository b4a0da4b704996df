"""The package as a user installs it: the built wheel into a fresh venv with only the inference
dependencies (from a local wheelhouse, pip --no-index), then `facial-emotion analyze` on a folder
with the network cut off (`unshare --net`); TensorFlow is not installed there, so nothing can
import it. Slow tier: building and installing take a minute or two."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "tests/assets/faces"
TIMEOUT = 600


def _offline_prefix() -> list[str]:
    """`unshare --net` when it works here (root, or user namespaces), else nothing: pip --no-index
    and the package's own code reach no network either way."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net"]
    return []


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


@pytest.mark.slow
def test_the_wheel_installs_and_runs_offline_without_tensorflow(tmp_path):
    dist, wheelhouse = tmp_path / "dist", tmp_path / "wheelhouse"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(REPO)],
                 cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("facial_emotion-*.whl")
    # The inference dependencies at their pins; pip answers from its cache when it has them.
    fetched = _run([sys.executable, "-m", "pip", "download", "--dest", str(wheelhouse),
                    "-r", str(REPO / "requirements-inference.txt")])
    if fetched.returncode != 0:
        pytest.skip(f"cannot fetch the inference dependencies for the wheelhouse: {fetched.stderr.strip()[-300:]}")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, offline = env_dir / "bin/python", _offline_prefix()
    installed = _run([*offline, str(python), "-m", "pip", "install", "--no-index", "--find-links", str(wheelhouse),
                      str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    names = _run([str(python), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    for heavy in ("tensorflow", "keras", "mlflow", "dvc", "papermill", "tf2onnx"):
        assert f"{heavy}==" not in names, heavy

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("deepface-img1.jpg", "facerec-obama-and-biden.jpg", "skimage-coffee.jpg"):
        shutil.copy(PHOTOS / name, photos / name)
    (photos / "broken.jpg").write_bytes(b"no photo")
    out = tmp_path / "faces.csv"
    ran = _run([*offline, str(env_dir / "bin/facial-emotion"), "analyze", str(photos), "--csv", str(out)],
               cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr[-3000:]  # broken.jpg: counted and named, the rest written
    assert "3 photos, 0 videos (0 frames) -> 4 faces" in ran.stderr and "broken.jpg: cannot read image" in ran.stderr
    assert "Traceback" not in ran.stderr
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and rows[0]["label"] == "happiness"
    api = _run([*offline, str(python), "-c", "import sys; from facial_emotion import EmotionRecognizer; "
                f"print(len(EmotionRecognizer().analyze({str(photos / 'deepface-img1.jpg')!r})), "
                "'tensorflow' in sys.modules)"], cwd=tmp_path)
    assert api.stdout.strip() == "1 False", api.stderr[-3000:]
