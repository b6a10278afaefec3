"""Photos of a screen: does a cheap FFT signal tell them from camera photos? (issue 16)

Made-up images only: scenes drawn with Pillow (tests/media/samples.scene) as a camera
sees them (sensor grain), and the same scenes "photographed off a screen": shown on an
RGB-stripe pixel grid, then resampled at a slight angle and scale as a camera held to
a monitor does (which aliases the grid into moiré), with the same grain. The score is the
strongest peak of the 2-D spectrum's mid-high band (an eighth to half the Nyquist
frequency, off the axes where straight edges put their energy) over that band's median:
a periodic pattern makes a sharp peak. Prints JSON:
each class's scores and how well the best threshold separates them.

    .venv/bin/python bench/moire.py [--images 30]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.media.samples import scene

SIDE = 512


def score(image: Image.Image) -> float:
    grey = np.asarray(image.convert("L").resize((SIDE, SIDE)), dtype=np.float64)
    grey -= grey.mean()
    window = np.outer(np.hanning(SIDE), np.hanning(SIDE))
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(grey * window)))
    y, x = np.indices(spectrum.shape) - SIDE // 2
    radius = np.hypot(x, y) / (SIDE / 2)
    off_axes = (np.abs(x) > 3) & (np.abs(y) > 3)  # straight edges put their energy on the axes
    band = spectrum[(radius > 0.125) & (radius < 0.5) & off_axes]
    return float(band.max() / np.median(band))


def camera(seed: int) -> Image.Image:
    image = Image.open(io.BytesIO(scene(seed, 1024, 768))).convert("RGB")
    return _grain(image, seed)


def off_screen(seed: int) -> Image.Image:
    rng = random.Random(seed)
    shown = Image.open(io.BytesIO(scene(seed, 640, 480))).convert("RGB")
    pitch = 3  # each screen pixel as three coloured stripes and a dark gap
    pixels = np.asarray(shown.resize((640, 480)), dtype=np.float64)
    big = np.repeat(np.repeat(pixels, pitch + 1, axis=0), pitch + 1, axis=1)
    mask = np.zeros((pitch + 1, pitch + 1, 3))
    for channel in range(3):
        mask[:pitch, channel, channel] = 1.0
    tiled = np.tile(mask, (480, 640, 1))
    grid = Image.fromarray(np.clip(big * tiled * 2.2, 0, 255).astype(np.uint8))
    angle, scale = rng.uniform(-4, 4), rng.uniform(0.38, 0.45)
    grid = grid.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)
    size = (round(grid.width * scale), round(grid.height * scale))
    photo = grid.resize(size, Image.Resampling.BILINEAR).crop((40, 40, size[0] - 40, size[1] - 40))
    return _grain(photo, seed)


def _grain(image: Image.Image, seed: int) -> Image.Image:
    noise = Image.effect_noise(image.size, 30).convert("RGB")
    out = io.BytesIO()
    Image.blend(image, noise, 0.08).save(out, "JPEG", quality=85)
    return Image.open(io.BytesIO(out.getvalue()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=30)
    args = parser.parse_args()
    cameras = sorted(score(camera(1000 + i)) for i in range(args.images))
    screens = sorted(score(off_screen(2000 + i)) for i in range(args.images))
    best = max(
        (
            (t, sum(c < t for c in cameras) + sum(s >= t for s in screens))
            for t in cameras + screens
        ),
        key=lambda pair: pair[1],
    )
    print(
        json.dumps(
            {
                "images_per_class": args.images,
                "camera_scores": [round(c, 1) for c in cameras],
                "screen_scores": [round(s, 1) for s in screens],
                "best_threshold": round(best[0], 1),
                "accuracy_at_best": round(best[1] / (2 * args.images), 3),
                "camera_max": round(cameras[-1], 1),
                "screen_min": round(screens[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
