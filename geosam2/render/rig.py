"""The camera rig: intrinsics and extrinsics of the official 12-view layout.

Conventions
-----------
- World frame: the normalised mesh frame, Z up.
- Cameras: OpenGL camera-to-world matrices (camera looks down its -Z axis,
  +Y is image up, +X is image right).
- Pixels: (x, y) = (column, row), row 0 at the top of the image, pixel centres
  at integer + 0.5.
- A camera at azimuth a and elevation e sits at
  distance * (cos e cos a, cos e sin a, sin e) and looks at the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OFFICIAL_FOV_X = 2.0 * np.arctan(18.0 / 50.0)  # rad, a 50 mm lens on a 36 mm sensor
OFFICIAL_DISTANCE_FACTOR = 50.0 / 36.0  # distance = factor * |bbox size|
OFFICIAL_ELEVATIONS_DEG = (0.0, 25.0, 0.0, -25.0)


@dataclass(frozen=True)
class Rig:
    """A ring of square perspective cameras looking at the origin.

    Attributes
    ----------
    cam_to_world : (V, 4, 4) float64
        OpenGL camera-to-world matrices.
    azimuths_deg, elevations_deg : (V,) float64
        Camera directions in degrees.
    distance : float
        Camera distance from the origin, in normalised units.
    fov_x : float
        Horizontal field of view in radians.
    resolution : int
        Image width = height, in pixels.
    """

    cam_to_world: np.ndarray
    azimuths_deg: np.ndarray
    elevations_deg: np.ndarray
    distance: float
    fov_x: float
    resolution: int

    @property
    def num_views(self) -> int:
        return len(self.cam_to_world)

    def opposite(self, view: int) -> int:
        """The view whose azimuth is closest to `view`'s + 180 degrees (view + 6 on the
        official rig; the lower index on a tie)."""
        gap = (np.asarray(self.azimuths_deg, np.float64) - self.azimuths_deg[view]) % 360.0 - 180.0
        return int(np.argmin(np.abs(gap)))

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self.resolution / np.tan(0.5 * self.fov_x)

    @property
    def intrinsics(self) -> np.ndarray:
        """(3, 3) pinhole matrix K mapping camera (x, y, -z) to pixels (x right, y down)."""
        f, c = self.focal, 0.5 * self.resolution
        return np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])

    @property
    def origins(self) -> np.ndarray:
        """(V, 3) camera centres in world coordinates."""
        return self.cam_to_world[:, :3, 3]

    def ray_directions(self, view: int) -> np.ndarray:
        """(H, W, 3) float64 world directions of pixel-centre rays of `view`, with unit
        camera-space depth: origin + z * dir is the point at planar depth z."""
        r = self.resolution
        centres = (np.arange(r) + 0.5 - 0.5 * r) / self.focal
        x = np.broadcast_to(centres[None, :], (r, r))
        y = np.broadcast_to(-centres[:, None], (r, r))
        cam = np.stack([x, y, -np.ones((r, r))], axis=-1)
        return cam @ self.cam_to_world[view, :3, :3].T

    def project(self, view: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) world points into `view`.

        Returns
        -------
        xy : (N, 2) float64 pixel coordinates (x, y).
        depth : (N,) float64 planar depth (distance along the viewing axis).
        """
        world_to_cam = np.linalg.inv(self.cam_to_world[view])
        cam = points @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
        depth = -cam[:, 2]
        xy = np.stack([cam[:, 0], -cam[:, 1]], axis=1) / depth[:, None] * self.focal + 0.5 * self.resolution
        return xy, depth


def look_at(eye: np.ndarray, target: np.ndarray = np.zeros(3), up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """(4, 4) OpenGL camera-to-world matrix of a camera at `eye` looking at `target`."""
    back = eye - target
    back = back / np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-9:  # looking straight up or down
        right = np.cross(np.array([0.0, 1.0, 0.0]), back)
    right = right / np.linalg.norm(right)
    cam_up = np.cross(back, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, cam_up, back, eye
    return m


def official_rig(
    bbox_size: np.ndarray | float = np.ones(3),
    resolution: int = 1024,
    num_views: int = 12,
    start_azimuth_deg: float = 270.0,
    azimuth_step_deg: float = 30.0,
    elevations_deg: tuple[float, ...] = OFFICIAL_ELEVATIONS_DEG,
    fov_x: float = OFFICIAL_FOV_X,
) -> Rig:
    """The official GeoSAM2 rig for a normalised mesh with bounding-box extents `bbox_size`.

    View i has azimuth start + i * step and elevation elevations[i % len(elevations)];
    the distance is (50/36) * |bbox_size|.
    """
    distance = OFFICIAL_DISTANCE_FACTOR * float(np.linalg.norm(bbox_size))
    azimuths = (start_azimuth_deg + azimuth_step_deg * np.arange(num_views)) % 360.0
    elevations = np.array([elevations_deg[i % len(elevations_deg)] for i in range(num_views)], float)
    a, e = np.radians(azimuths), np.radians(elevations)
    eyes = distance * np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], axis=1)
    cams = np.stack([look_at(eye) for eye in eyes])
    return Rig(cams, azimuths, elevations, distance, float(fov_x), int(resolution))
