"""OpenCV's YuNet face detector (`cv2.FaceDetectorYN`) with the weights shipped in this package.

The ONNX file (232,589 bytes) is OpenCV model zoo's face_detection_yunet_2023mar.onnx, MIT
licence; weights/README.md says where it came from and its sha256. Nothing is downloaded at run time.

YuNet runs on the image at its own size, so its time grows with the pixels: images whose longer
side is over `yunet.max_side` are shrunk first, and a tracked face is searched for in a small
window scaled so the face is about `NEAR_FACE_PX` pixels across. With `align`, landmarks are
measured again with the face `yunet.align_face_px` across (see `refine_landmarks`).

A still photo (`detect(image, still=True)`: the service, the demo's photos, the API) may take longer
than a video frame: faces that shrank below YuNet's reach at `max_side` get a second look at up to
`yunet.second_look_side` (in tiles of `max_side`, or in one full pass), and with `yunet.turned` the
photo is also scanned turned by 90, 180 and 270 degrees (at `yunet.turned_scale` of the first pass's
resolution), for faces lying down or upside down that the upright scan misses. A photo's passes are
independent, so they run on OpenCV's thread count (`cv2.getNumThreads()`, one YuNet per thread: a
net is not safe to share), and are merged by non-maximum suppression, most confident first.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from ..params.demo import DetectorParams
from .boxes import iou, merge_overlaps, search_window, suppress_overlaps
from .crops import eye_angle
from .detections import DetectorError, Detections, empty
from .images import to_bgr

WEIGHTS_FILE = "face_detection_yunet_2023mar.onnx"
WEIGHTS_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
NEAR_FACE_PX = 64   # without align, a tracked face is looked for at about this size
SMALLEST_FACE_PX = 10  # YuNet finds faces from about this size
# YuNet (OpenCV 4.14) on an input of 32 px or less returns garbage boxes (coordinates near 1e29) once
# the same net has run on a larger one: smaller inputs are padded up to this, and garbage is dropped
MIN_INPUT_PX = 64
TOP_K = 5000        # candidates kept before non-maximum suppression (OpenCV's default)
# second look in tiles: neighbours share three times the largest face the first pass can miss, so such
# a face cut by one tile is whole in the next (faces larger than that the first pass already found)
TILE_OVERLAP_FACES = 3
CONTAINED = 0.7      # merging passes: a box with this share of its area inside a more confident one is the same face


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
        self._weights = weights
        self._local = threading.local()
        self._local.net = load_yunet(self.params, weights)  # a bad weights file fails here, not in a pass
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        # with align, a tracked face is looked for at the size where its landmarks follow its tilt
        self._near_px = self.params.yunet.align_face_px if self.params.align else NEAR_FACE_PX

    @property
    def _net(self) -> cv2.FaceDetectorYN:
        """This thread's YuNet (made on the thread's first use)."""
        net = getattr(self._local, "net", None)
        if net is None:
            net = self._local.net = load_yunet(self.params, self._weights)
        return net

    def _passes(self, jobs: list) -> list[Detections]:
        """Run independent passes (callables returning Detections) on OpenCV's thread count."""
        workers = min(len(jobs), max(1, cv2.getNumThreads()))
        if workers <= 1:
            return [job() for job in jobs]
        if self._pool is None or self._pool_size < workers:
            self._pool, self._pool_size = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yunet"), workers
        return list(self._pool.map(lambda job: job(), jobs))

    def _run(self, bgr: np.ndarray, scale: float) -> Detections:
        """YuNet on `bgr` resized by `scale`; boxes and landmarks in `bgr`'s pixels."""
        if scale != 1.0:
            size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
        else:
            small = np.ascontiguousarray(bgr)
        height, width = small.shape[:2]
        if min(height, width) < MIN_INPUT_PX:  # padded right and below: the coordinates stay the same
            small = cv2.copyMakeBorder(small, 0, max(0, MIN_INPUT_PX - height), 0, max(0, MIN_INPUT_PX - width),
                                       cv2.BORDER_CONSTANT)
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self._net.detect(small)
        if faces is None or not len(faces):
            return empty(with_landmarks=True)
        faces = np.asarray(faces, dtype=np.float32)
        faces = faces[_plausible(faces, width, height)]
        if not len(faces):
            return empty(with_landmarks=True)
        sx, sy = bgr.shape[1] / width, bgr.shape[0] / height
        boxes = faces[:, :4] * np.array([sx, sy, sx, sy], np.float32)
        landmarks = faces[:, 4:14].reshape(-1, 5, 2) * np.array([sx, sy], np.float32)
        return Detections(np.round(boxes).astype(np.int32), faces[:, 14].copy(), landmarks)

    def detect(self, image: np.ndarray, still: bool = False) -> Detections:
        bgr = to_bgr(image)
        p = self.params.yunet
        scale = min(1.0, p.max_side / max(bgr.shape[:2]))
        if still:
            jobs = [lambda: self._run(bgr, scale)]
            if p.second_look != "off" and scale < 1.0:
                jobs.extend(self._second_look_jobs(bgr, scale))
            if p.turned:
                turned = scale * p.turned_scale
                jobs.extend(lambda turns=turns: self._run_turned(bgr, turns, turned) for turns in (1, 2, 3))
            found = merge(self._passes(jobs), p.nms_threshold)
        else:
            found = self._run(bgr, scale)
        found = found.largest_first()
        return self.refine_landmarks(bgr, found) if self.params.align else found

    def second_look(self, bgr: np.ndarray) -> Detections:
        """YuNet on the photo at up to `second_look_side` (its own size at most): in overlapping
        tiles of `max_side`, or in one pass (`second_look: full`); boxes in the photo's pixels."""
        first = min(1.0, self.params.yunet.max_side / max(bgr.shape[:2]))
        parts = self._passes(self._second_look_jobs(bgr, first))
        merged = merge(parts, self.params.yunet.nms_threshold)
        return Detections(np.round(merged.boxes).astype(np.int32), merged.scores, merged.landmarks)

    def _second_look_jobs(self, bgr: np.ndarray, first_scale: float) -> list:
        """The second look's passes: one per tile (or one in all), each giving boxes in the photo's pixels."""
        p = self.params.yunet
        scale = min(1.0, p.second_look_side / max(bgr.shape[:2]))
        if p.second_look == "full":
            return [lambda: self._run(bgr, scale)]
        big = bgr if scale == 1.0 else cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        height, width = big.shape[:2]
        tile = p.max_side
        # the largest face the first pass can miss, in `big`'s pixels: SMALLEST_FACE_PX at the first pass's scale
        overlap = min(tile // 2, math.ceil(TILE_OVERLAP_FACES * SMALLEST_FACE_PX * scale / first_scale))

        def run_tile(x0: int, y0: int) -> Detections:
            local = self._run(big[y0:y0 + tile, x0:x0 + tile], 1.0)
            return Detections((local.boxes + np.array([x0, y0, 0, 0], np.int32)) / scale, local.scores,
                              (local.landmarks + np.array([x0, y0], np.float32)) / scale)

        return [lambda x0=x0, y0=y0: run_tile(x0, y0)
                for y0 in tile_starts(height, tile, overlap) for x0 in tile_starts(width, tile, overlap)]

    def _run_turned(self, bgr: np.ndarray, turns: int, scale: float) -> Detections:
        """YuNet on the photo turned `turns` quarter turns anticlockwise; boxes and landmarks turned
        back into the photo's pixels (a box's width and height swap with each quarter turn)."""
        found = self._run(np.ascontiguousarray(np.rot90(bgr, turns)), scale)
        height, width = bgr.shape[:2]
        x, y, w, h = (found.boxes[:, i] for i in range(4))
        points = found.landmarks.reshape(-1, 2)
        px, py = points[:, 0], points[:, 1]
        if turns == 1:
            boxes, back = np.stack([width - (y + h), x, h, w], 1), np.stack([width - py, px], 1)
        elif turns == 2:
            boxes, back = np.stack([width - (x + w), height - (y + h), w, h], 1), np.stack([width - px, height - py], 1)
        else:
            boxes, back = np.stack([y, height - (x + w), h, w], 1), np.stack([py, height - px], 1)
        return Detections(boxes.astype(np.int32), found.scores, back.reshape(-1, 5, 2).astype(np.float32))

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
        jobs = [lambda i=i: self._refined(bgr, faces.boxes[i], faces.landmarks[i]) for i in range(len(faces))]
        return Detections(faces.boxes, faces.scores, np.stack(self._passes(jobs)).astype(np.float32))

    def _refined(self, bgr: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """One face's landmarks measured again (refine_landmarks); its first ones when not found again."""
        height, width = bgr.shape[:2]
        x0, y0, x1, y1 = search_window(box, 0.5, width, height)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return landmarks  # a box at the very edge: nothing to measure again
        scale = self.params.yunet.align_face_px / max(int(box[2]), int(box[3]), 1)
        window = cv2.resize(bgr[y0:y1, x0:x1], None, fx=scale, fy=scale,
                            interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
        expected = (np.asarray(box, np.float64) - (x0, y0, 0, 0)) * scale
        centre = (float(expected[0] + expected[2] / 2), float(expected[1] + expected[3] / 2))
        coarse = eye_angle((landmarks - np.array([x0, y0], np.float32)) * scale)
        # a face turned past 45 degrees (found by a turned scan) is measured turned upright first:
        # YuNet reads landmarks well only on faces near upright
        first = self._landmarks_turned(window, expected, centre, coarse if abs(coarse) > 45 else 0.0)
        if first is None:
            return landmarks  # not found again at this size: keep the first landmarks
        second = self._landmarks_turned(window, expected, centre, eye_angle(first))
        found = first if second is None else second
        return found / scale + np.array([x0, y0], np.float32)

    def _landmarks_turned(self, window: np.ndarray, expected: np.ndarray, centre: tuple[float, float],
                          angle: float) -> np.ndarray | None:
        """Landmarks of the face at `expected` in `window` turned by `angle` about `centre`, given
        back in the window's own pixels; None when not found there."""
        if angle == 0.0:
            return self._landmarks_at(window, expected)
        turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
        upright = cv2.warpAffine(window, turn, (window.shape[1], window.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        if 45 < abs(angle) < 135:  # the face's box, turned a quarter: width and height swap about its centre
            x, y, w, h = expected
            expected = np.array([centre[0] - h / 2, centre[1] - w / 2, h, w])
        found = self._landmarks_at(upright, expected)
        if found is None:
            return None
        back = cv2.invertAffineTransform(turn)
        return found @ back[:, :2].T + back[:, 2]

    def _landmarks_at(self, window: np.ndarray, expected: np.ndarray) -> np.ndarray | None:
        """Landmarks [5, 2] of the face in `window` that overlaps `expected` (x, y, w, h) by IoU >= 0.5."""
        local = self._run(window, 1.0)
        if not len(local):
            return None
        overlaps = iou(local.boxes, expected[None])[:, 0]
        best = int(np.argmax(overlaps))
        return local.landmarks[best].astype(np.float64) if overlaps[best] >= 0.5 else None


def _plausible(faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """Rows of YuNet's output that can be faces in a width x height input: finite, a score in [0, 1],
    a positive size no larger than twice the input, and overlapping it."""
    x, y, w, h, score = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3], faces[:, 14]
    return (np.isfinite(faces).all(axis=1) & (score >= 0) & (score <= 1) & (w > 0) & (h > 0)
            & (w <= 2 * width) & (h <= 2 * height) & (x < width) & (y < height) & (x + w > 0) & (y + h > 0))


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Origins of the fewest tiles of `tile` pixels that cover `length` with neighbours sharing at
    least `overlap`, evenly spaced, the first at 0 and the last flush with the end."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def merge(parts: list[Detections], nms_threshold: float) -> Detections:
    """Detections of several passes as one: most confident first, dropping any box that overlaps a
    kept one by more than `nms_threshold` IoU or lies mostly inside it (a face cut by a tile's edge)."""
    found = Detections.concatenate([p for p in parts if len(p)], with_landmarks=True)
    if not len(found):
        return found
    found = found.select(np.argsort(-found.scores, kind="stable"))
    return found.select(merge_overlaps(found.boxes, nms_threshold, CONTAINED))
