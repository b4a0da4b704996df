"""Synthetic FER2013 stand-in: procedurally drawn 48x48 faces, written as a real fer2013.csv.

Why: the pipeline, its tests and CI must run end to end without the (licence-restricted) Kaggle
file. The data is written in the exact fer2013.csv format and read back through the same parser
as the real thing, so every stage downstream of parsing is exercised unchanged.

The faces are cartoons, but they are built to behave like FER rather than like a toy:
- class and usage proportions follow FER2013 (disgust rare), allocated exactly and deterministically;
- identity (face shape, skin, hair, eye spacing), pose, scale, lighting and noise all vary;
- each sample has a random expression intensity blended toward neutral, and similar classes share
  cues (fear vs surprise, anger vs disgust), so classes overlap and no model scores 100%.
Same (n_rows, seed) gives identical arrays and identical file bytes (.csv and .csv.gz), on any CPU.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from facial_emotion.files import atomic_path
from facial_emotion.labels import IMAGE_SIZE, NUM_CLASSES, USAGES

FER2013_CLASS_COUNTS: tuple[int, ...] = (4953, 547, 5121, 8989, 6077, 4002, 6198)
FER2013_USAGE_COUNTS: dict[str, int] = {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}

MIN_ROWS = 70  # 7 classes x 1 row in the smallest usage split (10% of rows) needs 70 rows
_MIN_CELL_FROM = 200  # from this many rows on, every (usage, class) cell gets at least 2 rows

_SS = 2  # draw at 2x resolution, then warp down: cheap anti-aliasing
_CANVAS = IMAGE_SIZE * _SS
_CENTRE = (_CANVAS / 2, _CANVAS / 2 + 4.0)  # face centre on the canvas, a little below the middle
_SHIFT = 4  # cv2 sub-pixel bits for drawing coordinates
_ONE = 1 << _SHIFT
_CHUNK = 2048  # images per vectorised post-processing batch (bounds float32 memory)
_FIXED_OFFSET, _FIXED_SCALE = 128.0, 128.0  # canvas -> uint16 for the bit-exact blur: -128..383 in 1/128 steps

# Expression parameters, in column order. Each class is a prototype at full intensity; a sample is
# neutral + intensity * (prototype - neutral) + jitter, so weak expressions drift toward neutral.
_PARAMS = (
    "brow_raise",  # + up (surprise, fear), - down (anger)
    "brow_tilt",  # + inner ends down (anger), - inner ends raised (sadness, fear)
    "eye_open",  # 1 normal, >1 wide (surprise, fear), <1 squint (disgust, happiness)
    "mouth_width",  # 1 normal, >1 stretched (fear, happiness)
    "mouth_curve",  # + smile, - frown
    "mouth_open",  # 0 closed, 1 wide open
    "mouth_round",  # 1 tall oval opening (surprise), 0 flat stretched opening (fear)
    "lip_raise",  # asymmetric raised upper lip (disgust)
    "teeth",  # visible upper teeth when the mouth is open
    "nose_wrinkle",  # wrinkles across the nose bridge (disgust)
    "forehead",  # horizontal forehead lines (surprise, fear)
    "lip_press",  # thin, dark, tight lips (anger)
    "cheek",  # nasolabial folds from raised cheeks (happiness, disgust)
    "furrow",  # vertical lines between the brows (anger, disgust)
)
_P = {name: i for i, name in enumerate(_PARAMS)}
_NEUTRAL = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
_PROTOTYPES = np.array(
    [
        # raise tilt  eye  width curve open round lipr teeth wrink fore press cheek furrow
        [-0.9, 1.1, 0.85, 0.85, -0.25, 0.0, 0.3, 0.0, 0.0, 0.2, 0.0, 1.0, 0.0, 1.0],  # anger
        [-0.6, 0.6, 0.55, 0.95, -0.45, 0.15, 0.3, 1.0, 0.4, 1.0, 0.0, 0.3, 0.7, 0.6],  # disgust
        [0.8, -0.7, 1.45, 1.3, -0.3, 0.55, 0.1, 0.0, 0.6, 0.0, 0.6, 0.0, 0.0, 0.3],  # fear
        [0.1, 0.0, 0.6, 1.3, 1.0, 0.6, 0.2, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],  # happiness
        [0.0, -1.1, 0.75, 0.9, -0.9, 0.0, 0.5, 0.0, 0.0, 0.0, 0.2, 0.3, 0.0, 0.2],  # sadness
        [1.1, -0.1, 1.6, 0.75, 0.0, 1.0, 1.0, 0.0, 0.3, 0.0, 1.0, 0.0, 0.0, 0.0],  # surprise
        _NEUTRAL.tolist(),  # neutral
    ]
)
_JITTER = np.array([0.3, 0.3, 0.12, 0.08, 0.2, 0.06, 0.2, 0.1, 0.15, 0.1, 0.15, 0.15, 0.15, 0.1])


def _allocate(total: int, weights: tuple[int, ...] | list[int], minimum: int = 0) -> np.ndarray:
    """Largest-remainder split of `total` by integer `weights`, every share at least `minimum`.

    Exact integer arithmetic with ties broken by position, so the split never depends on floats.
    Shares whose quota falls below `minimum` are pinned there and the rest is re-split among the
    others (repeated until stable); without a binding minimum it is plain largest remainder.
    """
    weights = [int(w) for w in weights]
    if minimum * len(weights) > total:
        raise ValueError(f"cannot give {len(weights)} shares at least {minimum} each out of {total}")
    pinned: set[int] = set()
    while True:
        free = [i for i in range(len(weights)) if i not in pinned]
        remaining = total - minimum * len(pinned)
        weight_sum = sum(weights[i] for i in free)
        newly = {i for i in free if remaining * weights[i] < minimum * weight_sum}
        if not newly:
            break
        pinned |= newly
    counts = np.full(len(weights), minimum, dtype=np.int64)
    floors = {i: remaining * weights[i] // weight_sum for i in free}
    remainders = {i: remaining * weights[i] % weight_sum for i in free}
    for i in free:
        counts[i] = floors[i]
    leftover = remaining - sum(floors.values())
    for i in sorted(free, key=lambda i: (-remainders[i], i))[:leftover]:
        counts[i] += 1
    return counts


def allocate_counts(n_rows: int) -> dict[str, np.ndarray]:
    """Rows per class in each usage split: FER2013 proportions, exact and deterministic.

    Usage totals are a largest-remainder split of n_rows; each usage is then split over classes the
    same way (stratified). Small datasets still get every class in every split (>= 2 rows per cell
    from 200 rows, >= 1 below), so rare disgust never vanishes from a test split.
    """
    if n_rows < MIN_ROWS:
        raise ValueError(
            f"n_rows={n_rows} is too small for a FER-like synthetic dataset: need at least {MIN_ROWS} "
            f"so that each of the {NUM_CLASSES} classes appears in every usage split"
        )
    cell_min = 2 if n_rows >= _MIN_CELL_FROM else 1
    usage_totals = _allocate(n_rows, [FER2013_USAGE_COUNTS[u] for u in USAGES], minimum=cell_min * NUM_CLASSES)
    return {
        usage: _allocate(int(total), FER2013_CLASS_COUNTS, minimum=cell_min)
        for usage, total in zip(USAGES, usage_totals)
    }


def _sample_parameters(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All random draws for all faces at once, in a fixed order, so output depends only on the seed."""
    n = len(labels)
    u = rng.uniform
    p: dict[str, np.ndarray] = {}
    # Expression: intensity in [0, 1] (neutral faces only get jitter). Beta(1.8, 1.1) puts most mass
    # on clear expressions but leaves ~10% below 0.25 that look almost neutral.
    intensity = np.where(labels == NUM_CLASSES - 1, 0.0, rng.beta(1.8, 1.1, n))
    expr = _NEUTRAL + intensity[:, None] * (_PROTOTYPES[labels] - _NEUTRAL)
    expr = expr + rng.normal(0.0, 1.0, (n, len(_PARAMS))) * _JITTER
    p["expr"] = expr
    p["lip_side"] = rng.choice(np.array([-1.0, 1.0]), n)
    # Identity.
    p["face_w"] = u(29.0, 37.0, n)
    p["face_ratio"] = u(1.18, 1.4, n)
    p["eye_dx"] = u(0.34, 0.44, n)
    p["eye_w"] = u(0.16, 0.21, n)
    p["eye_y"] = u(-0.2, -0.08, n)
    p["mouth_y"] = u(0.4, 0.5, n)
    p["nose_y"] = u(0.14, 0.22, n)
    p["brow_gap"] = u(0.16, 0.24, n)
    p["brow_thick"] = u(2.5, 5.0, n)
    p["skin"] = np.clip(rng.normal(150.0, 35.0, n), 70.0, 225.0)
    p["hair"] = u(10.0, 120.0, n)
    p["hair_kind"] = rng.integers(0, 4, n)  # 0 none/bald, 1 short, 2 long, 3 fringe
    p["background"] = u(0.0, 255.0, n)
    p["clothes"] = u(0.0, 255.0, n)
    p["gaze"] = rng.normal(0.0, 0.15, (n, 2))
    p["blur"] = u(0.7, 1.7, n)
    # Pose and framing.
    p["angle"] = rng.normal(0.0, 6.0, n)
    p["scale"] = u(1.05, 1.3, n)
    p["shift"] = rng.normal(0.0, 1.5, (n, 2))
    p["flip"] = rng.random(n) < 0.5
    # Photometric.
    p["contrast"] = u(0.7, 1.25, n)
    p["brightness"] = rng.normal(0.0, 15.0, n)
    p["light"] = rng.normal(0.0, 25.0, (n, 2))  # gradient strength across x and y
    p["noise"] = u(1.0, 8.0, n)
    return p


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def _poly(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.round(np.stack([xs, ys], axis=1) * _ONE).astype(np.int32)


def _ellipse(img: np.ndarray, cx: float, cy: float, ax: float, ay: float, color: float,
             thickness: int = -1, angle: float = 0.0, start: float = 0.0, end: float = 360.0) -> None:
    cv2.ellipse(img, _pt(cx, cy), _pt(max(ax, 0.0), max(ay, 0.0)), angle, start, end, float(color),
                thickness, cv2.LINE_AA, _SHIFT)


def _line(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, color: float, thickness: int) -> None:
    cv2.polylines(img, [_poly(xs, ys)], False, float(color), max(1, int(thickness)), cv2.LINE_AA, _SHIFT)


_XS = np.linspace(-1.0, 1.0, 17)


def _draw_mouth(img: np.ndarray, cx: float, my: float, fw: float, e: np.ndarray, side: float, skin: float) -> None:
    """Mouth as an upper and a lower lip curve: corners lift for smiles, the gap opens for surprise."""
    half_w = fw * 0.36 * np.clip(e[_P["mouth_width"]], 0.5, 1.6)
    curve = np.clip(e[_P["mouth_curve"]], -1.4, 1.4)
    opening = fw * 0.38 * np.clip(e[_P["mouth_open"]], 0.0, 1.3)
    roundness = np.clip(e[_P["mouth_round"]], 0.0, 1.0)
    xs = cx + half_w * _XS
    base = my - curve * fw * 0.11 * (_XS**2 - 0.35)
    envelope = (1.0 - _XS**2) ** (0.12 + 0.45 * roundness)
    upper = base - opening * envelope * 0.3
    lower = base + opening * envelope * 0.7
    lip_raise = np.clip(e[_P["lip_raise"]], 0.0, 1.3)
    upper = upper - lip_raise * fw * 0.09 * np.exp(-(((_XS - side * 0.45) / 0.35) ** 2))
    gap = float(np.max(lower - upper))
    press = float(np.clip(e[_P["lip_press"]], 0.0, 1.2))
    lip_color = skin - 45.0 - 25.0 * press
    if gap > 1.5:
        cv2.fillPoly(img, [_poly(np.r_[xs, xs[::-1]], np.r_[upper, lower[::-1]])], float(skin * 0.18),
                     cv2.LINE_AA, _SHIFT)
        teeth = float(np.clip(e[_P["teeth"]], 0.0, 1.0))
        if teeth > 0.25:
            band = np.minimum(upper + (lower - upper) * 0.55, upper + fw * 0.1 * teeth)
            inner = slice(2, -2)
            cv2.fillPoly(img, [_poly(np.r_[xs[inner], xs[inner][::-1]], np.r_[upper[inner], band[inner][::-1]])],
                         float(min(255.0, skin + 55.0)), cv2.LINE_AA, _SHIFT)
        _line(img, xs, upper, lip_color, 2)
        _line(img, xs, lower, lip_color, 2)
    else:
        _line(img, xs, (upper + lower) / 2, lip_color - 15.0, round(3.0 - 1.5 * press))
        # lower lip shadow, gone when the lips are pressed
        _line(img, xs[4:-4], base[4:-4] + fw * 0.09, skin - 25.0 * (1.0 - press), 2)


def _draw_face(p: dict[str, list], i: int) -> np.ndarray:
    """One face on a 96x96 canvas (float32), parameters taken from row i of the sampled draws."""
    e = p["expr"][i]
    fw = p["face_w"][i]
    fh = fw * p["face_ratio"][i]
    skin = p["skin"][i]
    hair = min(p["hair"][i], skin - 40.0)
    cx, cy = _CENTRE
    img = np.full((_CANVAS, _CANVAS), p["background"][i], dtype=np.float32)

    # Shoulders, hair behind the head, neck, face oval.
    _ellipse(img, cx, _CANVAS + 14.0, fw * 2.2, 34.0, p["clothes"][i])
    kind = p["hair_kind"][i]
    if kind == 2:
        cv2.rectangle(img, _pt(cx - fw * 1.2, cy - fh * 0.4), _pt(cx + fw * 1.2, cy + fh * 1.1), float(hair),
                      -1, cv2.LINE_AA, _SHIFT)
    if kind:
        _ellipse(img, cx, cy - fh * 0.15, fw * 1.14, fh * 0.98, hair)
    cv2.rectangle(img, _pt(cx - fw * 0.5, cy), _pt(cx + fw * 0.5, _CANVAS), float(skin * 0.85), -1, cv2.LINE_AA, _SHIFT)
    _ellipse(img, cx, cy, fw, fh, skin)
    if kind == 3:
        _ellipse(img, cx + fw * 0.1, cy - fh * 0.8, fw * 0.85, fh * 0.28, hair)

    eye_y = cy + p["eye_y"][i] * fh
    eye_dx = p["eye_dx"][i] * fw
    ew = p["eye_w"][i] * fw
    eye_open = float(np.clip(e[_P["eye_open"]], 0.25, 1.9))
    eh = ew * 0.48 * eye_open
    brow_raise = float(np.clip(e[_P["brow_raise"]], -1.3, 1.5))
    tilt = float(np.clip(e[_P["brow_tilt"]], -1.5, 1.5))
    brow_y = eye_y - p["brow_gap"][i] * fw - brow_raise * fw * 0.11 - max(eye_open - 1.0, 0.0) * ew * 0.3
    nose_y = cy + p["nose_y"][i] * fh
    mouth_y = cy + p["mouth_y"][i] * fh

    # Forehead lines (surprise, fear) above the brows.
    forehead = float(np.clip(e[_P["forehead"]], 0.0, 1.2))
    if forehead > 0.15:
        for k in range(3):
            y = brow_y - fw * (0.13 + 0.09 * k)
            xs = cx + fw * (0.42 - 0.06 * k) * _XS
            _line(img, xs, y + fw * 0.03 * _XS**2, skin - 40.0 * forehead, 1)

    # Eyes: socket shadow, sclera, iris, upper lid.
    gx, gy = p["gaze"][i]
    for side in (-1.0, 1.0):
        ex = cx + side * eye_dx
        _ellipse(img, ex, eye_y - ew * 0.1, ew * 1.35, ew * 0.85, skin - 18.0)
        _ellipse(img, ex, eye_y, ew, eh, min(255.0, skin + 35.0))
        r = ew * 0.5
        _ellipse(img, ex + gx * ew * 0.4, eye_y + gy * eh * 0.3, r, min(r, eh), skin * 0.22)
        _ellipse(img, ex, eye_y, ew, eh, skin * 0.3, thickness=2, start=180.0, end=360.0)
        # squint / smile: raised lower lid
        _ellipse(img, ex, eye_y + eh * 0.9, ew * 0.9, max(ew * 0.25 * (1.1 - eye_open), 0.5), skin - 30.0,
                 thickness=1, start=200.0, end=340.0)

    # Brows: a thick, slightly arched stroke; tilt moves the inner ends.
    thick = round(p["brow_thick"][i])
    for side in (-1.0, 1.0):
        inner_x, outer_x = cx + side * (eye_dx - ew * 1.05), cx + side * (eye_dx + ew * 1.25)
        xs = np.linspace(inner_x, outer_x, 7)
        t = np.linspace(0.0, 1.0, 7)
        ys = brow_y + tilt * fw * 0.09 * (1.0 - 2.0 * t) - fw * 0.04 * np.sin(np.pi * t) * (1.0 + 0.3 * brow_raise)
        _line(img, xs, ys, hair if kind else skin - 80.0, thick)

    # Furrow between the brows (anger, disgust).
    furrow = float(np.clip(e[_P["furrow"]], 0.0, 1.2))
    if furrow > 0.15:
        for side in (-1.0, 1.0):
            x = cx + side * fw * 0.06
            _line(img, np.array([x, x - side * fw * 0.015]), np.array([brow_y, brow_y + fw * 0.16]),
                  skin - 45.0 * furrow, 1)

    # Nose: side shading, nostrils, wrinkles across the bridge (disgust).
    for side in (-1.0, 1.0):
        _line(img, np.array([cx + side * fw * 0.08, cx + side * fw * 0.12]), np.array([eye_y, nose_y - fw * 0.05]),
              skin - 10.0, 2)
        _ellipse(img, cx + side * fw * 0.09, nose_y, fw * 0.06, fw * 0.035, skin * 0.45)
    _ellipse(img, cx, nose_y - fw * 0.02, fw * 0.1, fw * 0.06, min(255.0, skin + 12.0))
    wrinkle = float(np.clip(e[_P["nose_wrinkle"]], 0.0, 1.2))
    if wrinkle > 0.15:
        for k in range(3):
            y = eye_y + fw * (0.04 + 0.07 * k)
            xs = cx + fw * 0.1 * _XS
            _line(img, xs, y - fw * 0.03 * _XS**2, skin - 50.0 * wrinkle, 1)

    # Nasolabial folds from raised cheeks (happiness, disgust).
    cheek = float(np.clip(e[_P["cheek"]], 0.0, 1.2))
    if cheek > 0.15:
        for side in (-1.0, 1.0):
            t = np.linspace(0.0, 1.0, 7)
            xs = cx + side * fw * (0.2 + 0.22 * np.sin(np.pi * t * 0.8))
            ys = nose_y - fw * 0.02 + (mouth_y - nose_y + fw * 0.05) * t
            _line(img, xs, ys, skin - 40.0 * cheek, 2)

    _draw_mouth(img, cx, mouth_y, fw, e, p["lip_side"][i], skin)
    return img


def _blur_bit_exact(canvas: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur through OpenCV's bit-exact 16-bit fixed-point path.

    Why: its float paths round differently with and without AVX2, so the same seed drew slightly
    different faces (and a different dataset hash) on different CPUs. Values are stored with an
    offset of 128 and a step of 1/128, which covers the canvas' range (colours a little below 0 or
    above 255) with no visible loss.
    """
    fixed = np.clip(np.rint((canvas + _FIXED_OFFSET) * _FIXED_SCALE), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    blurred = cv2.GaussianBlur(fixed, (0, 0), sigma)
    return blurred.astype(np.float32) * np.float32(1.0 / _FIXED_SCALE) - np.float32(_FIXED_OFFSET)


def _render(p: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Draw every face, then warp, light and add noise in vectorised batches."""
    n = len(p["expr"])
    rows = {k: (v.tolist() if k != "expr" else v) for k, v in p.items()}
    out = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    small = np.empty((min(n, _CHUNK), IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    grid = (np.arange(IMAGE_SIZE, dtype=np.float32) - (IMAGE_SIZE - 1) / 2) / IMAGE_SIZE
    centre = _CENTRE
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        for j, i in enumerate(range(start, stop)):
            canvas = _draw_face(rows, i)
            canvas = _blur_bit_exact(canvas, rows["blur"][i])
            m = cv2.getRotationMatrix2D(centre, rows["angle"][i], rows["scale"][i] / _SS)
            sx, sy = rows["shift"][i]
            m[0, 2] += IMAGE_SIZE / 2 + sx - centre[0]
            m[1, 2] += IMAGE_SIZE / 2 + sy - centre[1]
            small[j] = cv2.warpAffine(canvas, m, (IMAGE_SIZE, IMAGE_SIZE), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE)
        batch = small[: stop - start]
        sl = slice(start, stop)
        flip = p["flip"][sl]
        batch[flip] = batch[flip][:, :, ::-1]
        light = p["light"][sl].astype(np.float32)
        gradient = light[:, 0, None, None] * grid[None, None, :] + light[:, 1, None, None] * grid[None, :, None]
        mean = batch.mean(axis=(1, 2), keepdims=True)
        batch = (batch - mean) * p["contrast"][sl, None, None].astype(np.float32) + mean
        batch = batch + gradient + p["brightness"][sl, None, None].astype(np.float32)
        noise = rng.standard_normal(batch.shape, dtype=np.float32) * p["noise"][sl, None, None].astype(np.float32)
        out[sl] = np.clip(np.rint(batch + noise), 0, 255).astype(np.uint8)
    return out


def generate_faces(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic FER-like data: (images uint8 [n,48,48], labels int64 [n], usage str array [n]).

    Rows come Training, then PublicTest, then PrivateTest (like fer2013.csv), shuffled within each
    usage; class counts per usage follow `allocate_counts`. Deterministic for (n_rows, seed).
    """
    counts = allocate_counts(n_rows)
    rng = np.random.default_rng(seed)
    label_parts, usage_parts = [], []
    for usage in USAGES:
        part = np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), counts[usage])
        label_parts.append(rng.permutation(part))
        usage_parts.append(np.full(len(part), usage, dtype=f"<U{max(map(len, USAGES))}"))
    labels = np.concatenate(label_parts)
    usage = np.concatenate(usage_parts)
    params = _sample_parameters(labels, rng)
    images = _render(params, rng)
    return images, labels, usage


_PIXEL_TEXT = [str(v) for v in range(256)]
_HEADER = b"emotion,pixels,Usage\n"
_WRITE_ROWS = 1024  # rows formatted per write: bounds memory for full-size files


def _csv_chunks(images: np.ndarray, labels: np.ndarray, usage: np.ndarray) -> Iterator[bytes]:
    """fer2013.csv bytes, header first, then rows in blocks (plain ' '.join is the fastest formatter)."""
    yield _HEADER
    text = _PIXEL_TEXT
    flat = images.reshape(len(images), -1)
    for start in range(0, len(flat), _WRITE_ROWS):
        stop = start + _WRITE_ROWS
        rows = zip(flat[start:stop].tolist(), labels[start:stop].tolist(), usage[start:stop].tolist())
        lines = [f"{label},{' '.join([text[v] for v in row])},{split}\n" for row, label, split in rows]
        yield "".join(lines).encode("ascii")


def write_fer_csv(path: str | Path, images: np.ndarray, labels: np.ndarray, usage: np.ndarray) -> None:
    """Write rows, in the given order, in the exact fer2013.csv format, atomically.

    Header `emotion,pixels,Usage`, LF line endings, 2304 space-separated pixel ints. A path ending in
    .gz is gzip-compressed with mtime 0 and no embedded file name, so equal data gives equal bytes.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    usage = np.asarray(usage)
    n = len(images)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must have shape [n, {IMAGE_SIZE}, {IMAGE_SIZE}], got {images.shape}")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.integer) or (n and (images.min() < 0 or images.max() > 255)):
            raise ValueError(f"images must be uint8 or integers in 0..255, got dtype {images.dtype}")
        images = images.astype(np.uint8)
    if labels.shape != (n,) or usage.shape != (n,):
        raise ValueError(
            f"need one label and one usage per image: {n} images, labels {labels.shape}, usage {usage.shape}"
        )
    if n and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"labels must be integers in 0..{NUM_CLASSES - 1}")
    usage = usage.astype(str)
    bad = sorted(set(usage.tolist()) - set(USAGES))
    if bad:
        raise ValueError(f"unknown usage values {bad}; expected one of {list(USAGES)}")
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        if path.suffix == ".gz":
            # filename="" keeps the temp file's name out of the header; level 3 is ~4x faster than 6
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=3, mtime=0) as gz:
                for chunk in _csv_chunks(images, labels, usage):
                    gz.write(chunk)
        else:
            for chunk in _csv_chunks(images, labels, usage):
                fh.write(chunk)


def generate_fer_csv(path: str | Path, n_rows: int, seed: int) -> None:
    """Generate `n_rows` synthetic faces and write them as fer2013.csv (or .csv.gz) at `path`."""
    images, labels, usage = generate_faces(n_rows, seed)
    write_fer_csv(path, images, labels, usage)
