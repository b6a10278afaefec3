"""The case's map as a server-drawn SVG: the scene, the arrival fixes, the positions driven
and the photos' EXIF places, with distances from the scene in metres. Web Mercator at a zoom
that fits every point within MAX_MAP_M of the scene, so tiles of a configured tile server
(KANCHA_DESK_TILE_URL, `{z}/{x}/{y}`) line up under it; without one it is drawn bare."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from cases.geo import distance_m

WIDTH, HEIGHT, MARGIN = 640, 400, 36
TILE = 256
MAX_ZOOM = 18
MAX_MAP_M = 50_000.0  # farther points are listed, not drawn (a photo from another city)
RADIUS_M = 500.0  # the far-from-scene radius of an arrival fix
SCALES_M = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)


@dataclass
class MapPoint:
    kind: str  # scene | arrival | position | photo | event
    lat: float
    lon: float
    label: str = ""
    at: datetime | None = None
    distance_m: float = 0.0
    x: float = 0.0
    y: float = 0.0
    on_map: bool = True


@dataclass
class MapTile:
    href: str
    x: float
    y: float


@dataclass
class CaseMap:
    points: list[MapPoint]
    width: int = WIDTH
    height: int = HEIGHT
    zoom: int = MAX_ZOOM
    tiles: list[MapTile] = field(default_factory=list)
    track: str = ""  # SVG polyline points of the positions, in time order
    radius_px: float = 0.0
    scale_m: int = 0
    scale_px: float = 0.0

    @property
    def scene(self) -> MapPoint:
        return self.points[0]

    @property
    def arrivals(self) -> list[MapPoint]:
        return [p for p in self.points if p.kind == "arrival" and p.on_map]


def _world(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator at zoom 0, in pixels of a 256-pixel world."""
    lat = max(-85.05, min(85.05, lat))
    x = (lon + 180.0) / 360.0 * TILE
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * TILE
    return x, y


def _zoom(spans: tuple[float, float]) -> int:
    for zoom in range(MAX_ZOOM, -1, -1):
        if spans[0] * 2**zoom <= WIDTH - 2 * MARGIN and spans[1] * 2**zoom <= HEIGHT - 2 * MARGIN:
            return zoom
    return 0


def tile_href(template: str, zoom: int, x: int, y: int) -> str:
    return template.replace("{z}", str(zoom)).replace("{x}", str(x)).replace("{y}", str(y))


def case_map(scene: MapPoint, others: list[MapPoint], tile_url: str = "") -> CaseMap:
    """Lay the points out around the scene (the first point); `tile_url` adds tiles."""
    points = [scene, *others]
    for point in others:
        point.distance_m = distance_m(scene.lat, scene.lon, point.lat, point.lon)
        point.on_map = point.distance_m <= MAX_MAP_M
    drawn = [p for p in points if p.on_map]
    world = [_world(p.lat, p.lon) for p in drawn]
    xs, ys = [w[0] for w in world], [w[1] for w in world]
    zoom = _zoom((max(xs) - min(xs), max(ys) - min(ys)))
    scale = 2**zoom
    left = (max(xs) + min(xs)) / 2 * scale - WIDTH / 2
    top = (max(ys) + min(ys)) / 2 * scale - HEIGHT / 2
    for point, (wx, wy) in zip(drawn, world, strict=True):
        point.x, point.y = round(wx * scale - left, 1), round(wy * scale - top, 1)
    metres_per_px = 156_543.034 * math.cos(math.radians(scene.lat)) / scale
    radius = min(RADIUS_M / metres_per_px, 10.0 * WIDTH)  # near a pole the metres run out
    out = CaseMap(points=points, zoom=zoom, radius_px=round(radius, 1))
    out.scale_m = max((m for m in SCALES_M if m / metres_per_px <= 160), default=SCALES_M[0])
    out.scale_px = round(out.scale_m / metres_per_px, 1)
    track = sorted((p for p in drawn if p.kind == "position" and p.at), key=lambda p: p.at)
    out.track = " ".join(f"{p.x},{p.y}" for p in track)
    if tile_url:
        out.tiles = _tiles(tile_url, zoom, left, top)
    return out


def _tiles(template: str, zoom: int, left: float, top: float) -> list[MapTile]:
    count = 2**zoom
    tiles = []
    for ty in range(math.floor(top / TILE), math.floor((top + HEIGHT) / TILE) + 1):
        if not 0 <= ty < count:
            continue
        for tx in range(math.floor(left / TILE), math.floor((left + WIDTH) / TILE) + 1):
            href = tile_href(template, zoom, tx % count, ty)
            tiles.append(MapTile(href, round(tx * TILE - left, 1), round(ty * TILE - top, 1)))
    return tiles
