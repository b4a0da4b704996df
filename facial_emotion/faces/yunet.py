"""OpenCV's YuNet face detector (`cv2.FaceDetectorYN`) with the weights shipped in this package.

The ONNX file (232,589 bytes) is OpenCV model zoo's face_detection_yunet_2023mar.onnx, MIT
licence; weights/README.md says where it came from and its sha256. Nothing is downloaded at run time.

YuNet runs on the image at its own size, so its time grows with the pixels: images whose longer
side is over `yunet.max_side` are shrunk first, and a tracked face is searched for in a small
window scaled so the face is about `NEAR_FACE_PX` pixels across. With `align`, landmarks are
measured again with the face `yunet.align_face_px` across (see `refine_landmarks`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .boxes import iou, search_window, suppress_overlaps
from .crops import eye_angle
from .detect import DetectorError, DetectorParams, Detections, empty, to_bgr

WEIGHTS_FILE = "face_detection_yunet_2023mar.onnx"
WEIGHTS_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
NEAR_FACE_PX = 64   # without align, a tracked face is looked for at about this size (YuNet finds faces from ~10 px)
TOP_K = 5000        # candidates kept before non-maximum suppression (OpenCV's default)


def weights_path() -> Path:
    """The ONNX file inside the installed package."""
    return Path(str(resources.files("facial_emotion.faces").joinpath("weights", WEIGHTS_FILE)))


def load_yunet(params: DetectorParams, path: Path | None = None) -> cv2.FaceDetectorYN:
    path = path or weights_path()
    if not hasattr(cv2, "FaceDetectorYN"):
        raise DetectorError(f"OpenCV {cv2.__version__} has no FaceDetectorYN; install opencv-python 4.8 or newer")
    if not path.is_file():
        raise DetectorError(f"{path}: YuNet weights missing; reinstall the package (they ship inside it)")
    p = params.yunet
    try:
        return cv2.FaceDetectorYN.create(str(path), "", (320, 320), p.score_threshold, p.nms_threshold, TOP_K)
    except cv2.error as exc:
        raise DetectorError(f"{path}: cannot load the YuNet weights ({str(exc).strip().splitlines()[-1]})") from None


class YuNetDetector:
    """YuNet loaded once (a few ms) with `params.yunet`; boxes, scores and five landmarks per face."""

    def __init__(self, params: DetectorParams | None = None, weights: Path | None = None) -> None:
        self.params = params or DetectorParams()
        self._net = load_yunet(self.params, weights)
        # with align, a tracked face is looked for at the size where its landmarks follow its tilt
        self._near_px = self.params.yunet.align_face_px if self.params.align else NEAR_FACE_PX

    def _run(self, bgr: np.ndarray, scale: float) -> Detections:
        """YuNet on `bgr` resized by `scale`; boxes and landmarks in `bgr`'s pixels."""
        if scale != 1.0:
            size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
        else:
            small = np.ascontiguousarray(bgr)
        height, width = small.shape[:2]
        self._net.setInputSize((width, height))
        _, faces = self._net.detect(small)
        if faces is None or not len(faces):
            return empty(with_landmarks=True)
        faces = np.asarray(faces, dtype=np.float32)
        sx, sy = bgr.shape[1] / width, bgr.shape[0] / height
        boxes = faces[:, :4] * np.array([sx, sy, sx, sy], np.float32)
        landmarks = faces[:, 4:14].reshape(-1, 5, 2) * np.array([sx, sy], np.float32)
        return Detections(np.round(boxes).astype(np.int32), faces[:, 14].copy(), landmarks)

    def detect(self, image: np.ndarray) -> Detections:
        bgr = to_bgr(image)
        scale = min(1.0, self.params.yunet.max_side / max(bgr.shape[:2]))
        found = self._run(bgr, scale).largest_first()
        return self.refine_landmarks(bgr, found) if self.params.align else found

    def detect_near(self, image: np.ndarray, boxes: np.ndarray, search: float = 0.5,
                    size_range: tuple[float, float] = (0.7, 1.4)) -> Detections:
        bgr = to_bgr(image)
        height, width = bgr.shape[:2]
        found: list[Detections] = []
        for box in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
            x0, y0, x1, y1 = search_window(box, search, width, height)
            side = max(int(box[2]), int(box[3]), 1)
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            local = self._run(bgr[y0:y1, x0:x1], self._near_px / side)
            sizes = np.maximum(local.boxes[:, 2], local.boxes[:, 3]) / side
            keep = np.flatnonzero((sizes >= size_range[0]) & (sizes <= size_range[1]))
            if len(keep):
                local = local.select(keep)
                offset = np.array([x0, y0], dtype=np.float32)
                found.append(Detections(local.boxes + np.array([x0, y0, 0, 0], np.int32), local.scores,
                                        local.landmarks + offset))
        if not found:
            return empty(with_landmarks=True)
        merged = Detections.concatenate(found, with_landmarks=True).largest_first()
        return merged.select(suppress_overlaps(merged.boxes))

    def refine_landmarks(self, image: np.ndarray, faces: Detections) -> Detections:
        """The same faces with landmarks measured again, for alignment: YuNet's landmarks on a face
        under about 150 px barely follow its tilt (turned 20 degrees, it reads 3-8), and even at
        that size they lean towards upright. So each face's window is scaled so the face is
        `yunet.align_face_px` across, measured, turned upright by that first reading and measured
        again; the second reading, turned back, is kept (benchmarks/face_framing.py, docs/detector.md)."""
        if not len(faces):
            return faces
        bgr = to_bgr(image)
        height, width = bgr.shape[:2]
        landmarks = faces.landmarks.copy()
        for i, box in enumerate(faces.boxes):
            x0, y0, x1, y1 = search_window(box, 0.5, width, height)
            scale = self.params.yunet.align_face_px / max(int(box[2]), int(box[3]), 1)
            window = cv2.resize(bgr[y0:y1, x0:x1], None, fx=scale, fy=scale,
                                interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
            expected = (np.asarray(box, np.float64) - (x0, y0, 0, 0)) * scale
            first = self._landmarks_at(window, expected)
            if first is None:
                continue  # not found again at this size: keep the first landmarks
            centre = (float(expected[0] + expected[2] / 2), float(expected[1] + expected[3] / 2))
            turn = cv2.getRotationMatrix2D(centre, eye_angle(first), 1.0)
            upright = cv2.warpAffine(window, turn, (window.shape[1], window.shape[0]), borderMode=cv2.BORDER_REPLICATE)
            second = self._landmarks_at(upright, expected)
            if second is None:
                found = first
            else:
                back = cv2.invertAffineTransform(turn)
                found = second @ back[:, :2].T + back[:, 2]
            landmarks[i] = found / scale + np.array([x0, y0], np.float32)
        return Detections(faces.boxes, faces.scores, landmarks)

    def _landmarks_at(self, window: np.ndarray, expected: np.ndarray) -> np.ndarray | None:
        """Landmarks [5, 2] of the face in `window` that overlaps `expected` (x, y, w, h) by IoU >= 0.5."""
        local = self._run(window, 1.0)
        if not len(local):
            return None
        overlaps = iou(local.boxes, expected[None])[:, 0]
        best = int(np.argmax(overlaps))
        return local.landmarks[best].astype(np.float64) if overlaps[best] >= 0.5 else None
