"""Render the demo flat's cover photo (web/static/demo/w-1001.jpg) without any downloaded image.

A small ray caster: a bright Altbau living room seen from the door (wooden floor, white walls, a tall
window onto the facade across the street, sunlight falling through it onto the floor), furniture drawn
in the same perspective, then what a camera adds: soft focus, grain, vignette and a warm grade. The
result reads as a listing photo at the sizes the pages and mails show it. Needs Pillow and numpy (the
dev extras); run `python scripts/render_demo_cover.py` after changing it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 1280, 800
FOCAL, CX, CY = 720.0, 640.0, 372.0
EYE = 1.45  # camera height (m)
ROOM_W, ROOM_H, DEPTH = 5.4, 3.1, 5.6  # Altbau: high ceilings
WINDOW = (-2.0, 0.55, 0.1, 2.75)  # x0, y0, x1, y1 on the back wall
SUN = np.array([0.42, -0.62, -1.0])  # direction the light travels (into the room, downwards)
OUT = Path(__file__).resolve().parents[1] / "starter" / "web" / "static" / "demo" / "w-1001.jpg"
rng = np.random.default_rng(1001)
Array = NDArray[np.float64]


def project(x: float, y: float, z: float) -> tuple[float, float]:
    return CX + FOCAL * x / z, CY + FOCAL * (EYE - y) / z


def room() -> Array:
    px, py = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
    dx, dy = (px - CX) / FOCAL, (CY - py) / FOCAL
    inf = np.full(px.shape, np.inf)
    t_floor = np.where(dy < 0, -EYE / np.where(dy < 0, dy, -1), inf)
    t_ceiling = np.where(dy > 0, (ROOM_H - EYE) / np.where(dy > 0, dy, 1), inf)
    t_left = np.where(dx < 0, -(ROOM_W / 2) / np.where(dx < 0, dx, -1), inf)
    t_right = np.where(dx > 0, (ROOM_W / 2) / np.where(dx > 0, dx, 1), inf)
    t_back = np.full(px.shape, DEPTH)
    ts = np.stack([t_floor, t_ceiling, t_left, t_right, t_back])
    surface = ts.argmin(axis=0)
    t = ts.min(axis=0)
    x, y, z = dx * t, EYE + dy * t, t
    image = np.zeros((HEIGHT, WIDTH, 3))

    # Floor: oak planks along the depth, each its own tone, with grain and a soft sheen towards the window.
    floor = surface == 0
    plank = np.floor((x + 10) / 0.19)
    offset = (plank * 1.37) % 1.0 * 1.6
    board = np.floor((z + offset) / 1.6)
    tone = 0.9 + 0.12 * np.sin(plank * 12.9898 + board * 78.233) * np.cos(plank * 4.1)
    grain = 0.04 * np.sin(x * 90 + np.sin(z * 7 + plank) * 3.0) + 0.025 * np.sin(z * 160 + plank * 3)
    seam = ((np.abs(((x + 10) / 0.19) % 1.0 - 0.5) > 0.485) | (np.abs(((z + offset) / 1.6) % 1.0) < 0.006)) * 0.2
    wood = np.array([0.71, 0.53, 0.36])
    shade = (tone + grain - seam)[..., None] * wood
    image[floor] = shade[floor]

    # Walls and ceiling: warm white, brighter towards the window, darker into the corners (ambient occlusion).
    wall = np.array([0.93, 0.92, 0.89])
    corner = np.minimum.reduce(
        [
            np.abs(x + ROOM_W / 2) + 9 * (surface == 2),
            np.abs(x - ROOM_W / 2) + 9 * (surface == 3),
            np.abs(y) + 9 * (surface == 0),
            np.abs(y - ROOM_H) + 9 * (surface == 1),
            np.abs(z - DEPTH) + 9 * (surface == 4),
        ]
    )
    occlusion = 1 - 0.28 * np.exp(-corner / 0.35)
    window_glow = np.exp(-(((x - (WINDOW[0] + WINDOW[2]) / 2) / 3.2) ** 2) - ((z - DEPTH) / 4.5) ** 2)
    light = (0.84 + 0.22 * window_glow) * occlusion
    for index, tint in ((1, 1.0), (2, 1.04), (3, 1.0), (4, 1.0)):
        mask = surface == index
        image[mask] = (light[..., None] * wall * tint)[mask]
    image[floor] *= (0.78 + 0.3 * window_glow[floor] * occlusion[floor])[..., None]

    # Stucco cornice and skirting boards: thin bright bands where walls meet ceiling and floor.
    on_wall = surface >= 2
    image[on_wall & (y > ROOM_H - 0.12)] *= 1.05
    image[on_wall & (y < 0.11)] = image[on_wall & (y < 0.11)] * 0.2 + np.array([0.96, 0.95, 0.93]) * 0.8

    # Sunlight through the window onto the floor: follow each floor point back towards the sun.
    back = DEPTH
    travel = (back - z) / -SUN[2]
    hit_x, hit_y = x - SUN[0] * travel, y - SUN[1] * travel
    mullion = (np.abs(hit_x - (WINDOW[0] + WINDOW[2]) / 2) < 0.045) | (np.abs(hit_y - 2.05) < 0.04)
    lit = (
        floor
        & (hit_x > WINDOW[0] + 0.06)
        & (hit_x < WINDOW[2] - 0.06)
        & (hit_y > WINDOW[1] + 0.06)
        & (hit_y < WINDOW[3] - 0.06)
        & ~mullion
    )
    sun = np.zeros(px.shape)
    sun[lit] = 1.0
    sun_img = Image.fromarray((sun * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(5))
    sun = np.asarray(sun_img, dtype=np.float64) / 255
    image += sun[..., None] * np.array([0.42, 0.33, 0.2])

    # The view: sky, the facade across the street with its windows, a plane tree in front of it.
    view = (surface == 4) & (x > WINDOW[0]) & (x < WINDOW[2]) & (y > WINDOW[1]) & (y < WINDOW[3])
    sky = np.array([0.62, 0.78, 0.95]) * (1.05 - 0.12 * (y - WINDOW[1]))[..., None]
    facade = np.array([0.86, 0.8, 0.68])
    rows = ((y - 0.2) % 0.62) < 0.36
    cols = ((x + 7) % 0.55) < 0.26
    building = np.where((rows & cols)[..., None], np.array([0.36, 0.42, 0.5]), facade)
    outside = np.where((y < 2.3 + 0.15 * np.sin(x * 3))[..., None], building, sky)
    image[view] = (outside * 1.12)[view]
    return np.clip(image, 0, 1)


def poly(draw: ImageDraw.ImageDraw, points: list[tuple[float, float, float]], fill: tuple[int, int, int]) -> None:
    draw.polygon([project(*p) for p in points], fill=fill)


def box(
    draw: ImageDraw.ImageDraw,
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    z0: float,
    z1: float,
    front: tuple[int, int, int],
    top: tuple[int, int, int],
    side: tuple[int, int, int],
) -> None:
    poly(draw, [(x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1)], top)
    if x0 > 0:
        poly(draw, [(x0, y0, z0), (x0, y1, z0), (x0, y1, z1), (x0, y0, z1)], side)
    if x1 < 0:
        poly(draw, [(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1)], side)
    poly(draw, [(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)], front)


def furniture(base: Image.Image) -> Image.Image:
    # Window frame: white casement with a transom, drawn over the view.
    frame = ImageDraw.Draw(base)
    x0, y0, x1, y1 = WINDOW
    for a, b, c, d in (
        (x0 - 0.08, y0 - 0.08, x1 + 0.08, y0),
        (x0 - 0.08, y1, x1 + 0.08, y1 + 0.1),
        (x0 - 0.08, y0, x0, y1),
        (x1, y0, x1 + 0.08, y1),
        ((x0 + x1) / 2 - 0.035, y0, (x0 + x1) / 2 + 0.035, 2.0),
        (x0, 2.0, x1, 2.09),
    ):
        poly(frame, [(a, b, DEPTH), (c, b, DEPTH), (c, d, DEPTH), (a, d, DEPTH)], (244, 243, 239))
    poly(
        frame,
        [
            (x0 - 0.12, y0 - 0.08, DEPTH),
            (x1 + 0.12, y0 - 0.08, DEPTH),
            (x1 + 0.12, y0 - 0.08, DEPTH - 0.25),
            (x0 - 0.12, y0 - 0.08, DEPTH - 0.25),
        ],
        (236, 234, 229),
    )

    # A plane tree across the street: leaves as small blobs, only where the window shows the outside.
    leaves = Image.new("RGB", base.size)
    mask = Image.new("L", base.size, 0)
    ld, md = ImageDraw.Draw(leaves), ImageDraw.Draw(mask)
    for _ in range(900):
        angle, reach = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1))
        lx, ly = -0.5 + np.cos(angle) * reach * 1.25, 2.05 + np.sin(angle) * reach * 0.75
        px, py = project(lx, ly, DEPTH)
        size = rng.uniform(4, 11)
        light = rng.uniform(0.65, 1.15) * (1.1 if ly > 2.1 else 0.9)
        ld.ellipse(
            (px - size, py - size, px + size, py + size), fill=(int(70 * light), int(112 * light), int(48 * light))
        )
        md.ellipse((px - size, py - size, px + size, py + size), fill=255)
    inside = Image.new("L", base.size, 0)
    ImageDraw.Draw(inside).polygon(
        [project(x0, y0, DEPTH), project(x1, y0, DEPTH), project(x1, y1, DEPTH), project(x0, y1, DEPTH)], fill=255
    )
    mask = Image.fromarray(np.minimum(np.asarray(mask), np.asarray(inside)))
    base = Image.composite(leaves.filter(ImageFilter.GaussianBlur(1.2)), base, mask.filter(ImageFilter.GaussianBlur(1)))
    frame = ImageDraw.Draw(base)
    for a, b, c, d in (
        (x0 - 0.08, y0 - 0.08, x1 + 0.08, y0),
        (x0 - 0.08, y1, x1 + 0.08, y1 + 0.1),
        (x0 - 0.08, y0, x0, y1),
        (x1, y0, x1 + 0.08, y1),
        ((x0 + x1) / 2 - 0.035, y0, (x0 + x1) / 2 + 0.035, 2.0),
        (x0, 2.0, x1, 2.09),
    ):
        poly(frame, [(a, b, DEPTH), (c, b, DEPTH), (c, d, DEPTH), (a, d, DEPTH)], (244, 243, 239))

    # Soft contact shadows first, on their own layer, blurred.
    shadow = Image.new("L", base.size, 0)
    sd = ImageDraw.Draw(shadow)
    for points in (
        [(0.55, 0.0, 4.25), (2.7, 0.0, 4.25), (2.7, 0.0, 5.6), (0.55, 0.0, 5.6)],
        [(-0.2, 0.0, 3.2), (1.1, 0.0, 3.2), (1.1, 0.0, 3.85), (-0.2, 0.0, 3.85)],
        [(-2.7, 0.0, 4.7), (-2.15, 0.0, 4.7), (-2.15, 0.0, 5.25), (-2.7, 0.0, 5.25)],
    ):
        sd.polygon([project(*p) for p in points], fill=120)
    shadow = shadow.filter(ImageFilter.GaussianBlur(16))
    base = Image.composite(Image.new("RGB", base.size, (58, 44, 32)), base, shadow.point(lambda v: int(v * 0.55)))
    draw = ImageDraw.Draw(base)

    # Rug under the coffee table.
    poly(draw, [(-0.9, 0.005, 2.75), (1.9, 0.005, 2.75), (1.9, 0.005, 4.35), (-0.9, 0.005, 4.35)], (206, 199, 186))
    poly(draw, [(-0.8, 0.006, 2.85), (1.8, 0.006, 2.85), (1.8, 0.006, 4.25), (-0.8, 0.006, 4.25)], (196, 188, 174))
    # Sofa against the back wall: seat, back, arms, cushions.
    fabric, fabric_top, fabric_side = (112, 122, 128), (134, 144, 150), (96, 105, 111)
    box(draw, 0.55, 2.7, 0.0, 0.46, 4.6, 5.55, fabric, fabric_top, fabric_side)
    box(draw, 0.55, 2.7, 0.46, 0.92, 5.25, 5.55, fabric, fabric_top, fabric_side)
    box(draw, 0.55, 0.78, 0.46, 0.66, 4.6, 5.25, fabric, fabric_top, fabric_side)
    box(draw, 2.47, 2.7, 0.46, 0.66, 4.6, 5.25, fabric, fabric_top, fabric_side)
    for cx, color in ((1.15, (222, 205, 170)), (1.75, (188, 120, 84)), (2.25, (230, 226, 218))):
        darker = (int(color[0] * 0.86), int(color[1] * 0.86), int(color[2] * 0.86))
        box(draw, cx - 0.24, cx + 0.24, 0.5, 0.9, 5.12, 5.24, color, color, darker)
    # Coffee table: oak top on dark legs, a vase on it.
    for lx, lz in ((-0.1, 3.3), (1.0, 3.3), (-0.1, 3.75), (1.0, 3.75)):
        box(draw, lx, lx + 0.04, 0.0, 0.4, lz, lz + 0.04, (52, 44, 38), (52, 44, 38), (40, 34, 30))
    box(draw, -0.15, 1.08, 0.4, 0.44, 3.25, 3.82, (150, 112, 78), (188, 150, 110), (130, 96, 66))
    box(draw, 0.3, 0.42, 0.44, 0.62, 3.45, 3.55, (226, 228, 224), (240, 240, 236), (200, 202, 198))
    # Plant in a clay pot by the window.
    box(draw, -2.62, -2.25, 0.0, 0.45, 4.8, 5.15, (170, 96, 66), (150, 84, 58), (150, 84, 58))
    for _ in range(160):
        angle, reach = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.55)
        lx, ly = -2.43 + np.cos(angle) * reach * 0.8, 0.75 + abs(np.sin(angle)) * reach * 1.6 + rng.uniform(0, 0.5)
        px, py = project(lx, ly, 4.95 + rng.uniform(-0.2, 0.2))
        green = (int(rng.uniform(40, 80)), int(rng.uniform(95, 140)), int(rng.uniform(40, 70)))
        size = rng.uniform(7, 16)
        draw.ellipse((px - size, py - size * 0.55, px + size, py + size * 0.55), fill=green)
    # Picture above the sofa and a pendant lamp.
    poly(draw, [(0.95, 1.35, 5.58), (2.3, 1.35, 5.58), (2.3, 2.2, 5.58), (0.95, 2.2, 5.58)], (40, 40, 42))
    poly(draw, [(1.0, 1.4, 5.575), (2.25, 1.4, 5.575), (2.25, 2.15, 5.575), (1.0, 2.15, 5.575)], (232, 228, 218))
    poly(draw, [(1.2, 1.55, 5.57), (2.05, 1.55, 5.57), (2.05, 1.95, 5.57), (1.2, 1.95, 5.57)], (120, 150, 170))
    top, low = project(0.5, ROOM_H, 3.6), project(0.5, 2.25, 3.6)
    draw.line((top, low), fill=(50, 50, 50), width=2)
    lx, ly = low
    draw.pieslice((lx - 48, ly - 10, lx + 48, ly + 62), 180, 360, fill=(34, 36, 38))
    return base


def camera(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float64) / 255
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    vignette = 1 - 0.2 * (((xx - CX) / WIDTH) ** 2 + ((yy - HEIGHT / 2) / HEIGHT) ** 2) * 2.2
    pixels = pixels * vignette[..., None]
    pixels = pixels**0.92 * np.array([1.03, 1.0, 0.95])  # lift the mids, warm the light
    pixels += rng.normal(0, 0.012, pixels.shape)  # sensor grain
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))


def favicon() -> None:
    """static/favicon.ico, the same mark as favicon.svg, for browsers that ask for /favicon.ico."""
    size = 256
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=56, fill=(16, 42, 67, 255))
    draw.line([(56, 132), (128, 68), (200, 132)], fill=(124, 196, 250, 255), width=24, joint="curve")
    draw.line([(84, 124), (84, 188), (172, 188), (172, 124)], fill=(255, 255, 255, 255), width=24, joint="curve")
    icon.save(OUT.parents[1] / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


def main() -> None:
    image = Image.fromarray((room() * 255).astype(np.uint8))
    image = camera(furniture(image))
    image.save(OUT, quality=86, optimize=True, progressive=True)
    print(f"wrote {OUT.name} ({OUT.stat().st_size // 1024} KiB)")
    favicon()


if __name__ == "__main__":
    main()
