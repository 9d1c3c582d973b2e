"""A procedural motion data set made by posediff itself — **synthetic, not motion capture**.

It exists so that training, evaluation and the command line can be exercised end to end without any
licensed data. Nothing here is measured from people; numbers are plausible, not accurate.

* Skeleton: ``h36m-17`` with adult bone lengths (:data:`BONE_LENGTHS`, metres), scaled per subject
  (0.9–1.1) with a few percent of per-bone jitter.
* Motions (:data:`MOTIONS`): ``walking`` (on a circle, alternating legs and arm swing), ``reaching``
  (one or both arms raised to a random height, sometimes low with a forward bend), ``sitting``
  (sit-down / stand-up cycles, feet planted), ``turning`` (in place, with small steps, torso and head
  leading the turn). Joint angles are smooth periodic functions of time with per-sequence random
  amplitude, frequency and phase; the feet are kept on the ground (world ``z = 0`` plane, ``z`` up).
* Cameras: random azimuth, 3–6 m from the subject, 0.8–2 m high, looking at the subject; 1000×1000
  images with ``f`` ≈ 1100–1200 px, a principal point near the centre and small lens distortion. The
  distance is pushed back until every joint projects inside the image.
* Everything is deterministic from ``seed`` (``numpy.random.Generator``); each (subject, motion, camera)
  draws from its own seeded stream, so asking for fewer motions or cameras does not change the others.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..errors import InputError
from ..geometry.cameras import normalize_intrinsics, project_to_2d
from .sample import Dataset, Sequence

__all__ = ["MOTIONS", "BONE_LENGTHS", "SYNTH_IMAGE_SIZE", "random_body", "synthesize_motion", "random_camera",
           "make_synthetic"]

MOTIONS: tuple[str, ...] = ("walking", "reaching", "sitting", "turning")
"""The motion names (also the ``action`` label of the sequences)."""

BONE_LENGTHS: dict[str, float] = {
    "hip": 0.13,        # pelvis → hip (half hip width)
    "thigh": 0.45,
    "shin": 0.44,
    "spine": 0.23,      # pelvis → spine
    "chest": 0.25,      # spine → thorax
    "neck": 0.12,       # thorax → neck/nose
    "head": 0.115,      # neck/nose → head
    "shoulder": 0.15,   # thorax → shoulder (half shoulder width)
    "upper_arm": 0.28,
    "forearm": 0.25,
}
"""Adult bone lengths in metres (H36M-like proportions)."""

SYNTH_IMAGE_SIZE = (1000, 1000)
_ANKLE_HEIGHT = 0.08  # ankle joint above the ground, metres


def random_body(rng: np.random.Generator) -> dict[str, float]:
    """Bone lengths of a random subject: global scale U(0.9, 1.1) times ±3 % per bone (left = right)."""
    scale = rng.uniform(0.9, 1.1)
    return {k: float(v * scale * rng.uniform(0.97, 1.03)) for k, v in BONE_LENGTHS.items()}


# --------------------------------------------------------------------------- rotations (batched over T)
def _rx(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _apply(r: np.ndarray, v) -> np.ndarray:
    return np.einsum("tij,j->ti", r, np.asarray(v, dtype=np.float64))


def _bump(x: np.ndarray) -> np.ndarray:
    """Smooth periodic activation in [0, 1]: 0.5 (1 − cos x)."""
    return 0.5 * (1.0 - np.cos(x))


# --------------------------------------------------------------------------- kinematics
def _forward_kinematics(body: dict[str, float], ang: dict[str, np.ndarray], heading: np.ndarray) -> np.ndarray:
    """Joint positions (T, 17, 3) with the pelvis at the origin; local axes x right, y forward, z up."""
    T = heading.shape[0]
    out = np.zeros((T, 17, 3))
    rp = _rz(heading)
    # legs: right (index 1-3, outward = +x), left (4-6, outward = -x)
    for side, (h, k, a), sgn in (("r", (1, 2, 3), 1.0), ("l", (4, 5, 6), -1.0)):
        out[:, h] = _apply(rp, [sgn * body["hip"], 0.0, 0.0])
        r_thigh = rp @ _ry(-sgn * ang[f"hip_abd_{side}"]) @ _rx(ang[f"hip_flex_{side}"])
        out[:, k] = out[:, h] + _apply(r_thigh, [0.0, 0.0, -body["thigh"]])
        r_shin = r_thigh @ _rx(-ang[f"knee_{side}"])
        out[:, a] = out[:, k] + _apply(r_shin, [0.0, 0.0, -body["shin"]])
    # torso
    r_low = rp @ _rz(0.5 * ang["twist"]) @ _rx(-0.5 * ang["bend"]) @ _ry(0.5 * ang["side"])
    r_up = rp @ _rz(ang["twist"]) @ _rx(-ang["bend"]) @ _ry(ang["side"])
    out[:, 7] = _apply(r_low, [0.0, 0.0, body["spine"]])
    out[:, 8] = out[:, 7] + _apply(r_up, [0.0, 0.0, body["chest"]])
    r_head = r_up @ _rz(ang["head_yaw"]) @ _rx(-ang["head_pitch"])
    out[:, 9] = out[:, 8] + _apply(r_head, [0.0, 0.45 * body["neck"], 0.9 * body["neck"]])
    out[:, 10] = out[:, 9] + _apply(r_head, [0.0, -0.25 * body["head"], 0.97 * body["head"]])
    # arms: left (11-13, outward = -x), right (14-16, outward = +x)
    for side, (s, e, w), sgn in (("l", (11, 12, 13), -1.0), ("r", (14, 15, 16), 1.0)):
        out[:, s] = out[:, 8] + _apply(r_up, [sgn * body["shoulder"], 0.0, -0.02])
        r_ua = r_up @ _ry(-sgn * ang[f"sh_abd_{side}"]) @ _rx(ang[f"sh_flex_{side}"])
        out[:, e] = out[:, s] + _apply(r_ua, [0.0, 0.0, -body["upper_arm"]])
        r_fa = r_ua @ _rx(ang[f"elbow_{side}"])
        out[:, w] = out[:, e] + _apply(r_fa, [0.0, 0.0, -body["forearm"]])
    return out


def _rest_angles(T: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    z = np.zeros(T)
    a = {k: z.copy() for k in (
        "hip_flex_r", "hip_flex_l", "hip_abd_r", "hip_abd_l", "knee_r", "knee_l", "twist", "bend", "side",
        "head_yaw", "head_pitch", "sh_flex_r", "sh_flex_l", "elbow_r", "elbow_l")}
    a["hip_abd_r"] += rng.uniform(0.02, 0.08)
    a["hip_abd_l"] += rng.uniform(0.02, 0.08)
    a["sh_abd_r"] = z + rng.uniform(0.08, 0.2)
    a["sh_abd_l"] = z + rng.uniform(0.08, 0.2)
    a["elbow_r"] += rng.uniform(0.1, 0.3)
    a["elbow_l"] += rng.uniform(0.1, 0.3)
    a["knee_r"] += 0.03
    a["knee_l"] += 0.03
    a["head_pitch"] += rng.uniform(-0.1, 0.15)
    return a


def _motion_angles(motion: str, t: np.ndarray, rng: np.random.Generator):
    """Joint angles, heading, horizontal pelvis path and whether the feet are planted."""
    T = t.shape[0]
    a = _rest_angles(T, rng)
    phase = rng.uniform(0, 2 * np.pi)
    heading0 = rng.uniform(-np.pi, np.pi)
    path = np.zeros((T, 2))
    planted = True
    if motion == "walking":
        f = rng.uniform(0.8, 1.0)                 # strides per second
        stride = rng.uniform(1.1, 1.5)            # metres per stride
        radius = rng.uniform(1.0, 1.6)
        direction = rng.choice([-1.0, 1.0])
        g = 2 * np.pi * f * t + phase
        theta = heading0 + direction * (f * stride / radius) * t
        path = radius * np.stack([np.cos(theta), np.sin(theta)], -1)
        heading = theta + (0.0 if direction > 0 else np.pi)
        amp_h, amp_k, arm = rng.uniform(0.3, 0.45), rng.uniform(0.6, 1.0), rng.uniform(0.4, 0.9)
        a["hip_flex_r"] = 0.05 + amp_h * np.sin(g)
        a["hip_flex_l"] = 0.05 + amp_h * np.sin(g + np.pi)
        a["knee_r"] = 0.06 + amp_k * _bump(g + 0.9) ** 2
        a["knee_l"] = 0.06 + amp_k * _bump(g + np.pi + 0.9) ** 2
        a["sh_flex_r"] = -arm * amp_h * np.sin(g)
        a["sh_flex_l"] = -arm * amp_h * np.sin(g + np.pi)
        a["elbow_r"] = a["elbow_r"] + 0.25 * _bump(g + np.pi)
        a["elbow_l"] = a["elbow_l"] + 0.25 * _bump(g)
        a["twist"] = 0.08 * np.sin(g)
        a["bend"] = a["bend"] + rng.uniform(0.0, 0.1)
        a["side"] = 0.03 * np.sin(g)
        planted = False
    elif motion == "reaching":
        f = rng.uniform(0.25, 0.5)
        act = _bump(2 * np.pi * f * t + phase)
        side = rng.choice(["r", "l", "both"])
        low = rng.uniform() < 0.3
        target = rng.uniform(0.8, 1.3) if low else rng.uniform(1.2, 2.6)
        for s in ("r", "l"):
            if side in (s, "both"):
                a[f"sh_flex_{s}"] = 0.05 + act * target
                a[f"sh_abd_{s}"] = a[f"sh_abd_{s}"] + act * rng.uniform(0.0, 0.6)
                a[f"elbow_{s}"] = a[f"elbow_{s}"] * (1 - act) + 0.5 * np.sin(np.pi * act) * rng.uniform(0.3, 1.0)
            else:
                a[f"sh_flex_{s}"] = 0.05 + 0.1 * np.sin(2 * np.pi * f * t + phase * 0.5)
        if low:
            a["bend"] = act * rng.uniform(0.4, 0.8)
            a["knee_r"] = a["knee_r"] + act * rng.uniform(0.1, 0.5)
            a["knee_l"] = a["knee_l"] + act * rng.uniform(0.1, 0.5)
            a["hip_flex_r"] = 0.5 * a["knee_r"]
            a["hip_flex_l"] = 0.5 * a["knee_l"]
        else:
            a["bend"] = -0.05 * act
        a["side"] = {"r": -0.08, "l": 0.08, "both": 0.0}[str(side)] * act
        a["head_pitch"] = a["head_pitch"] + (0.4 if low else -0.3) * act
        heading = np.full(T, heading0)
    elif motion == "sitting":
        f = rng.uniform(0.1, 0.2)
        s = _bump(2 * np.pi * f * t + phase)
        depth_h, depth_k = rng.uniform(1.3, 1.6), rng.uniform(1.3, 1.6)
        a["hip_flex_r"] = a["hip_flex_l"] = depth_h * s
        a["knee_r"] = a["knee_r"] + depth_k * s
        a["knee_l"] = a["knee_l"] + depth_k * s
        a["bend"] = rng.uniform(0.4, 0.7) * np.sin(np.pi * s) + 0.1 * s
        a["sh_flex_r"] = a["sh_flex_l"] = 0.5 * s + 0.05
        a["elbow_r"] = a["elbow_r"] + 0.6 * s
        a["elbow_l"] = a["elbow_l"] + 0.6 * s
        heading = np.full(T, heading0) + 0.05 * np.sin(2 * np.pi * f * t)
    elif motion == "turning":
        if rng.uniform() < 0.5:
            rate = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.5)     # rad/s, continuous
            heading = heading0 + rate * t
            speed = np.full(T, rate)
        else:
            f, amp = rng.uniform(0.15, 0.35), rng.uniform(0.8, 2.0)
            heading = heading0 + amp * np.sin(2 * np.pi * f * t + phase)
            speed = amp * 2 * np.pi * f * np.cos(2 * np.pi * f * t + phase)
        lead = np.tanh(speed)
        step = 2 * np.pi * rng.uniform(1.4, 2.0) * t
        amp = 0.15 * np.abs(lead)
        a["hip_flex_r"] = amp * np.sin(step)
        a["hip_flex_l"] = amp * np.sin(step + np.pi)
        a["knee_r"] = a["knee_r"] + 2 * amp * _bump(step + 0.9)
        a["knee_l"] = a["knee_l"] + 2 * amp * _bump(step + np.pi + 0.9)
        a["twist"] = 0.2 * lead
        a["head_yaw"] = 0.4 * lead
        a["sh_flex_r"] = 0.1 * np.sin(step + np.pi)
        a["sh_flex_l"] = 0.1 * np.sin(step)
        planted = False
    else:
        raise InputError(f"motion must be one of {list(MOTIONS)}; got {motion!r}")
    return a, heading, path, planted


def synthesize_motion(motion: str, frames: int, rng: np.random.Generator, fps: float = 50.0,
                      body: dict[str, float] | None = None) -> np.ndarray:
    """One synthetic motion as world coordinates.

    Args:
        motion: One of :data:`MOTIONS`.
        frames: Number of frames T (≥ 1).
        rng: Source of the per-sequence random parameters.
        fps: Frame rate in Hz.
        body: Bone lengths (default :func:`random_body` drawn from ``rng``).

    Returns:
        ``(T, 17, 3)`` float64 ``h36m-17`` joints in world metres, ``z`` up, feet on ``z = 0``.
    """
    if frames < 1:
        raise InputError(f"frames must be >= 1; got {frames}")
    if fps <= 0:
        raise InputError(f"fps must be > 0; got {fps}")
    body = body if body is not None else random_body(rng)
    t = np.arange(frames) / float(fps)
    ang, heading, path, planted = _motion_angles(motion, t, rng)
    pose = _forward_kinematics(body, ang, heading)
    if planted:
        # keep the feet where they were: the pelvis moves opposite to the feet's mean horizontal offset
        feet = 0.5 * (pose[:, 3, :2] + pose[:, 6, :2])
        path = path - feet + feet[:1]
    pose[..., :2] += path[:, None, :]
    offset = rng.uniform(-0.5, 0.5, size=2)
    pose[..., :2] += offset
    pose[..., 2] += _ANKLE_HEIGHT - np.minimum(pose[:, 3, 2], pose[:, 6, 2])[:, None]
    return pose


def random_camera(rng: np.random.Generator, points: np.ndarray, distance: tuple[float, float] = (3.0, 6.0),
                  image_size: tuple[int, int] = SYNTH_IMAGE_SIZE):
    """A random camera looking at ``points`` that keeps every point inside the image.

    Args:
        rng: Random source.
        points: ``(T, J, 3)`` world metres (``z`` up).
        distance: Range of the horizontal distance to the subject's centre, metres.
        image_size: ``(w, h)`` pixels.

    Returns:
        ``(R, C, intrinsics_px)``: ``R (3, 3)`` world→camera rotation (rows = camera x right, y down,
        z forward), ``C (3,)`` camera centre in world metres, and ``(9,)`` pixel intrinsics
        ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``.
    """
    w, h = image_size
    centre = points.reshape(-1, 3).mean(0)
    az = rng.uniform(0, 2 * np.pi)
    dist = rng.uniform(*distance)
    height = rng.uniform(0.8, 2.0)
    roll = rng.uniform(-0.05, 0.05)
    fx = rng.uniform(1100.0, 1200.0) * w / 1000.0
    intr = np.array([
        fx, fx * rng.uniform(0.998, 1.002), w / 2 + rng.uniform(-10, 10), h / 2 + rng.uniform(-10, 10),
        rng.uniform(-0.08, 0.02), rng.uniform(-0.02, 0.05), rng.uniform(-0.005, 0.005),
        rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3),
    ])
    for _ in range(40):
        C = np.array([centre[0] + dist * np.cos(az), centre[1] + dist * np.sin(az), height])
        fwd = centre - C
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        R0 = np.stack([right, down, fwd])
        cr, sr = np.cos(roll), np.sin(roll)
        R = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]]) @ R0
        cam = (points - C) @ R.T
        uv = cam[..., :2] / cam[..., 2:3] * intr[:2] + intr[2:4]
        inside = (cam[..., 2].min() > 0.5 and uv[..., 0].min() > 0.03 * w and uv[..., 0].max() < 0.97 * w
                  and uv[..., 1].min() > 0.03 * h and uv[..., 1].max() < 0.97 * h)
        if inside:
            break
        dist += 0.5
    return R, C, intr


def make_synthetic(subjects: int = 2, motions: Iterable[str] = MOTIONS, cameras: int = 2, frames: int = 243,
                   fps: float = 50.0, seed: int = 0, noise_px: float = 0.0) -> Dataset:
    """Build the synthetic data set: every subject performs every motion, seen by ``cameras`` cameras.

    Args:
        subjects: Number of subjects (``"synth-0"``, ``"synth-1"``, ...), each with its own body.
        motions: Motion names (subset of :data:`MOTIONS`); each becomes the sequences' ``action``.
        cameras: Random cameras per (subject, motion).
        frames: Frames per sequence T.
        fps: Frame rate in Hz.
        seed: Seed; the same arguments and seed always give the same data.
        noise_px: Standard deviation of Gaussian noise added to the 2D, in pixels (0 = exact projection).

    Returns:
        A :class:`Dataset` of ``subjects × len(motions) × cameras`` sequences (skeleton ``h36m-17``,
        ``x2d`` normalised with 1000×1000, ``x3d`` root-relative metres, ``root``, normalised ``camera``).
    """
    motions = list(motions)
    for m in motions:
        if m not in MOTIONS:
            raise InputError(f"motions must be a subset of {list(MOTIONS)}; got {m!r}")
    for name, v in (("subjects", subjects), ("cameras", cameras), ("frames", frames)):
        if int(v) < 1:
            raise InputError(f"{name} must be >= 1; got {v}")
    if noise_px < 0:
        raise InputError(f"noise_px must be >= 0; got {noise_px}")
    w, h = SYNTH_IMAGE_SIZE
    seqs: list[Sequence] = []
    for k in range(int(subjects)):
        body = random_body(np.random.default_rng([seed, k, 0]))
        for m in motions:
            mi = MOTIONS.index(m)
            world = synthesize_motion(m, int(frames), np.random.default_rng([seed, k, 1, mi]), fps, body)
            for c in range(int(cameras)):
                rng = np.random.default_rng([seed, k, 2, mi, c])
                R, C, intr_px = random_camera(rng, world)
                cam3d = (world - C) @ R.T
                camera = np.asarray(normalize_intrinsics(intr_px[:2], intr_px[2:4], intr_px[4:7], intr_px[7:9],
                                                         w=w, h=h), dtype=np.float64)
                x2d = np.asarray(project_to_2d(cam3d, camera))
                if noise_px > 0:
                    x2d = x2d + rng.normal(0.0, noise_px * 2.0 / w, size=x2d.shape)
                root = cam3d[:, :1]
                x3d = cam3d - root
                x3d[:, 0] = 0.0
                seqs.append(Sequence(
                    subject=f"synth-{k}", action=m, x2d=x2d, x3d=x3d, root=root, camera=camera,
                    image_size=(w, h), camera_name=f"synth-cam-{c}", skeleton="h36m-17", fps=fps,
                    source="synthetic",
                ))
    return Dataset(seqs, name="synthetic")
