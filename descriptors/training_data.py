"""Training pairs drawn on the fly: the correspondence generator's pairs, composed and augmented.

Sample `index` is a pure function of the seed and the index (its pair plan, matches, composition
and augmentation all come from random streams keyed by them), so a run draws the same pairs
whichever loader worker makes them, and a resumed run continues with the very pairs an
uninterrupted one would have seen.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from descriptors.augment import (
    Augmentation,
    draw_augmentation,
    map_pixels,
    replace_background,
    warp_image,
)
from descriptors.config import CorrespondConfig, TrainConfig
from descriptors.correspondence import CROSS_OBJECT, Matches, NonMatches, View, random_pairs
from descriptors.cross_instance import (
    Instance,
    class_partners,
    copy_in_view,
    instance_matches,
    instances,
    views_showing,
)
from descriptors.loss import Samples
from descriptors.pairs import (
    PairPlan,
    PairSample,
    catalog,
    load_view,
    make_pair,
    pair_nonmatches,
    plan_pairs,
)
from formats import DonkitError
from formats.scenes import load_scene
from learn.augment import jitter_colour
from textures import make_background

# Random streams, each keyed by (seed, stream, sample index).
_AUGMENT_STREAM, _SYNTHETIC_STREAM, _RETRY_STREAM, _INSTANCE_STREAM = 10, 11, 12, 13
_RETRIES = 10  # other first views tried when a pair has no overlap
_UNIQUE = 1 << 40  # offsets the indices of pairs made for retries and compositions
_VIEW_CACHE = 256  # views (about 1 MB each at 320 x 240) kept per process


@dataclass
class TrainingPair:
    """One pair's images and their correspondences, after composition and augmentation."""

    image_a: np.ndarray  # (H, W, 3) uint8
    image_b: np.ndarray
    mask_a: np.ndarray  # (H, W) bool, the objects in image A
    mask_b: np.ndarray
    match_uv_a: np.ndarray  # (N, 2) int64 (u, v)
    match_uv_b: np.ndarray
    nonmatch_uv_a: np.ndarray  # (M, 2) int64
    nonmatch_uv_b: np.ndarray
    nonmatch_kind: np.ndarray  # (M,) int64
    # same_object, different_object, multi_object, synthetic_multi_object or cross_instance
    kind: str
    # (H, W) bool pixels of B that match nothing in A: in a pair across instances X and Y, B's
    # view of X itself (another copy of the same object in Y's scene); None: none.
    excluded_b: np.ndarray | None = None


class _LeastRecentlyUsed(OrderedDict):
    """A dict that forgets its least recently used entries beyond `size`."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __getitem__(self, key):
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


class TrainingPairs(torch.utils.data.Dataset):
    """`count` training pairs from the fused scenes at `paths` (a map-style dataset)."""

    def __init__(
        self,
        paths: list[Path],
        correspond: CorrespondConfig,
        train: TrainConfig,
        count: int,
        augment: bool = True,
    ):
        # The distributional loss has every pixel of B for its negatives: masked and background
        # non-matches would only cost the loader time.
        drawn = 0 if train.loss.kind == "distributional" else correspond.nonmatches_per_match
        self.correspond = dataclasses.replace(
            correspond, seed=train.seed, nonmatches_per_match=drawn,
            saved_nonmatches_per_match=min(drawn, correspond.saved_nonmatches_per_match),
        )  # fmt: skip
        self.train = train
        self.augment = augment
        self.entries = catalog(paths)
        self.scenes = [load_scene(path) for path in paths]
        sizes = {(s.camera.height, s.camera.width) for s in self.scenes}
        if len(sizes) != 1:
            raise DonkitError(
                f"the training scenes have images of several sizes {sorted(sizes)}; train on "
                "scenes of one size"
            )
        (self.height, self.width) = sizes.pop()
        for scene in self.scenes:
            load_view(scene, 0, correspond.edge_threshold_m)  # says so when it is not fused
        self.plans = plan_pairs(self.entries, self.correspond, count, train.class_consistent)
        singles = [i for i, e in enumerate(self.entries) if e.single_object and e.frames >= 2]
        self._paste_partners = {i: self._partners(i, singles) for i in singles}
        crossing = train.cross_instance_share > 0
        found = instances(paths) if crossing else []
        self._instance_partners = _instance_partners(found, paths) if crossing else []
        self._segment_ids = {(item.scene, item.name): item.segmentation_id for item in found}
        self._showing: dict[tuple[int, str], list[int]] = {}
        self._views: dict[tuple[int, int], View] = _LeastRecentlyUsed(_VIEW_CACHE)
        self._images: dict[tuple[int, int], np.ndarray] = _LeastRecentlyUsed(_VIEW_CACHE)
        self._textures: dict[int, np.ndarray] = _LeastRecentlyUsed(train.background_textures)

    def __len__(self) -> int:
        return len(self.plans)

    def __getitem__(self, index: int) -> TrainingPair:
        plan = self.plans[index]
        pair = self._cross_instance(index) if self._crosses(index) else None
        if pair is None:
            sample = self._pair(plan)
            if plan.kind == "same_object" and self._composes(index, plan):
                pair = self._synthetic(sample, index)
            else:
                pair = self._plain(sample)
        if self.augment:
            rng = self._rng(_AUGMENT_STREAM, index)
            anchors = _crop_anchors(pair, rng) if any(self.train.crop_px) else (None, None)
            changes = [draw_augmentation(rng, self.train, *self.shape, uv) for uv in anchors]
            pair = self._augmented(pair, changes)
        return pair

    def _rng(self, stream: int, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.train.seed, stream, index]))

    def _pair(self, plan: PairPlan) -> PairSample:
        """The plan's pair; when its view A overlaps no other, the pair of another view A."""
        index = plan.index
        rng = self._rng(_RETRY_STREAM, index)
        for attempt in range(_RETRIES + 1):
            sample = make_pair(
                plan, self.scenes, self._views, self.correspond,
                self.correspond.nonmatches_per_match,
            )  # fmt: skip
            if not sample.skipped:
                return sample
            frame_a = int(rng.integers(self.entries[plan.scene_a].frames))
            plan = dataclasses.replace(plan, index=index + (attempt + 1) * _UNIQUE, frame_a=frame_a)
        return sample  # still without overlap: a pair with no samples, which adds no loss

    def _image(self, scene: int, frame: int) -> np.ndarray:
        if (scene, frame) not in self._images:
            self._images[(scene, frame)] = self.scenes[scene].rgb(frame)
        return self._images[(scene, frame)]

    def _view(self, scene: int, frame: int) -> View:
        if (scene, frame) not in self._views:
            self._views[(scene, frame)] = load_view(
                self.scenes[scene],
                frame,
                self.correspond.edge_threshold_m,
                self.correspond.sensor_tolerance,
            )
        return self._views[(scene, frame)]

    def _mask(self, scene: int, frame: int) -> np.ndarray:
        return self._view(scene, frame).mask

    def _plain(self, sample: PairSample) -> TrainingPair:
        scene_a, frame_a, scene_b, frame_b = _frames(sample)
        return TrainingPair(
            self._image(scene_a, frame_a).copy(),
            self._image(scene_b, frame_b).copy(),
            self._mask(scene_a, frame_a),
            self._mask(scene_b, frame_b),
            sample.matches.uv_a.astype(np.int64),
            sample.matches.uv_b.astype(np.int64),
            sample.nonmatches.uv_a.astype(np.int64),
            sample.nonmatches.uv_b.astype(np.int64),
            sample.nonmatches.kind.astype(np.int64),
            sample.plan.kind,
        )

    # Pairs across instances of a class.

    def _crosses(self, index: int) -> bool:
        rng = self._rng(_INSTANCE_STREAM, index)
        return bool(self._instance_partners) and rng.random() < self.train.cross_instance_share

    def _views_of(self, instance: Instance) -> list[int]:
        key = (instance.scene, instance.name)
        if key not in self._showing:
            self._showing[key] = views_showing(self.scenes[instance.scene], instance)
        return self._showing[key]

    def _cross_instance(self, index: int) -> TrainingPair | None:
        """A view of an instance X and a view of another instance Y of its class, with the
        true matches through their canonical shape and non-matches drawn as for any pair; None
        when no draw finds a view pair that shares a visible point."""
        rng = self._rng(_INSTANCE_STREAM, index)
        rng.random()  # the draw _crosses made
        config = self.correspond
        for _ in range(_RETRIES):
            x, y = self._instance_partners[int(rng.integers(len(self._instance_partners)))]
            views_x, views_y = self._views_of(x), self._views_of(y)
            if not views_x or not views_y:
                continue
            frame_a = views_x[int(rng.integers(len(views_x)))]
            frame_b = views_y[int(rng.integers(len(views_y)))]
            scene_a, scene_b = self.scenes[x.scene], self.scenes[y.scene]
            uv_a, uv_b, on_y = instance_matches(
                scene_a, frame_a, x, scene_b, frame_b, y, config.matches, rng
            )
            if len(uv_a):
                break
        else:
            return None
        view_a, view_b = self._view(x.scene, frame_a), self._view(y.scene, frame_b)
        matches = Matches(uv_a, uv_b, on_y.astype(np.float32), len(uv_a))
        nonmatches = pair_nonmatches(
            matches, view_a, view_b, config, config.nonmatches_per_match, rng
        )
        # Y's scene may hold a copy of X, whose same point is rightly nearer than Y's (as
        # evaluation, which searches without it).
        excluded_b = copy_in_view(scene_b, frame_b, self._segment_ids.get((y.scene, x.name)))
        return TrainingPair(
            self._image(x.scene, frame_a).copy(), self._image(y.scene, frame_b).copy(),
            view_a.mask, view_b.mask, uv_a, uv_b, nonmatches.uv_a.astype(np.int64),
            nonmatches.uv_b.astype(np.int64), nonmatches.kind.astype(np.int64), "cross_instance",
            excluded_b,
        )  # fmt: skip

    # Synthetic multi-object pairs.

    def _partners(self, scene: int, singles: list[int]) -> list[int]:
        """Single-object scenes whose object may be pasted into views of `scene`."""
        entry = self.entries[scene]
        if entry.objects is None:
            return [i for i in singles if i != scene]
        if self.train.class_consistent:
            classes = set(entry.classes or ())
            return [i for i in singles if not classes & set(self.entries[i].classes or ("",))]
        return [i for i in singles if self.entries[i].objects != entry.objects]

    def _composes(self, index: int, plan: PairPlan) -> bool:
        rng = self._rng(_SYNTHETIC_STREAM, index)
        return bool(self._paste_partners.get(plan.scene_a)) and (
            rng.random() < self.train.synthetic_multi_object_share
        )

    def _synthetic(self, base: PairSample, index: int) -> TrainingPair:
        """`base`'s pair with a second object, from a pair of another single-object scene,
        pasted into both images at random shifts.

        The pasted object hides what lies under it: base samples whose pixel in A (or, for
        matches, in B) it covers are dropped. Its own samples move with it, and cross-object
        non-matches join the two objects."""
        rng = self._rng(_SYNTHETIC_STREAM, index)
        rng.random()  # the draw _composes made
        scene = int(rng.choice(self._paste_partners[base.plan.scene_a]))
        frame = int(rng.integers(self.entries[scene].frames))
        pasted = self._pair(PairPlan(index + _UNIQUE // 2, "same_object", scene, scene, frame))
        limit = np.array([self.width, self.height]) // 4
        shifts = [rng.integers(-limit, limit + 1) for _ in range(2)]
        scene_a, frame_a, _, frame_b = _frames(base)
        _, other_a, _, other_b = _frames(pasted)
        images, covers, objects = [], [], []
        for own, other, shift in ((frame_a, other_a, shifts[0]), (frame_b, other_b, shifts[1])):
            cover = _shifted(self._mask(scene, other), shift)
            image = self._image(scene_a, own).copy()
            image[cover] = _shifted(self._image(scene, other), shift)[cover]
            images.append(image)
            covers.append(cover)
            objects.append(self._mask(scene_a, own) & ~cover)
        keep = ~_at(covers[0], base.matches.uv_a) & ~_at(covers[1], base.matches.uv_b)
        keep_other = ~_at(covers[0], base.nonmatches.uv_a)
        moved = _moved(pasted.matches.uv_a, pasted.matches.uv_b, shifts, self.shape)
        moved_other = _moved(pasted.nonmatches.uv_a, pasted.nonmatches.uv_b, shifts, self.shape)
        count = self.correspond.cross_object_nonmatches // 2
        cross = NonMatches.concatenate(
            [
                random_pairs(objects[0], covers[1], count, True, CROSS_OBJECT, rng),
                random_pairs(covers[0], objects[1], count, True, CROSS_OBJECT, rng),
            ]
        )
        return TrainingPair(
            images[0], images[1], objects[0] | covers[0], objects[1] | covers[1],
            np.concatenate([base.matches.uv_a[keep], moved[0]]).astype(np.int64),
            np.concatenate([base.matches.uv_b[keep], moved[1]]).astype(np.int64),
            np.concatenate([base.nonmatches.uv_a[keep_other], moved_other[0], cross.uv_a]),
            np.concatenate([base.nonmatches.uv_b[keep_other], moved_other[1], cross.uv_b]),
            np.concatenate(
                [base.nonmatches.kind[keep_other], pasted.nonmatches.kind[moved_other[2]],
                 cross.kind]
            ).astype(np.int64),
            "synthetic_multi_object",
        )  # fmt: skip

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    # Augmentation.

    def _texture(self, number: int) -> np.ndarray:
        if number not in self._textures:
            seed = int(np.random.SeedSequence([self.train.seed, number]).generate_state(1)[0])
            self._textures[number] = make_background(seed, self.height, self.width)
        return self._textures[number]

    def _augmented(self, pair: TrainingPair, changes: list[Augmentation]) -> TrainingPair:
        """`pair` with each image changed, and its samples moved along (or dropped when
        cropped away)."""

        def warp_mask(mask: np.ndarray, change: Augmentation) -> np.ndarray:
            return warp_image(mask.astype(np.uint8), change.pixel_map, True, change.size) > 0

        images, masks = [], []
        for image, mask, change in zip(
            (pair.image_a, pair.image_b), (pair.mask_a, pair.mask_b), changes, strict=True
        ):
            image = warp_image(image, change.pixel_map, size=change.size)
            mask = warp_mask(mask, change)
            if change.background is not None:
                texture = self._texture(change.background)
                texture = texture[::-1, ::-1] if change.background_flip else texture
                image = replace_background(image, mask, texture[: image.shape[0], : image.shape[1]])
            image = jitter_colour(image, change.brightness, change.contrast, change.saturation)
            images.append(image)
            masks.append(mask)
        shape_a, shape_b = (images[0].shape[:2], images[1].shape[:2])
        match_a, inside_a = map_pixels(changes[0].pixel_map, pair.match_uv_a, *shape_a)
        match_b, inside_b = map_pixels(changes[1].pixel_map, pair.match_uv_b, *shape_b)
        keep = inside_a & inside_b
        other_a, inside_a = map_pixels(changes[0].pixel_map, pair.nonmatch_uv_a, *shape_a)
        other_b, inside_b = map_pixels(changes[1].pixel_map, pair.nonmatch_uv_b, *shape_b)
        other = inside_a & inside_b
        return TrainingPair(
            images[0], images[1], masks[0], masks[1], match_a[keep], match_b[keep],
            other_a[other], other_b[other], pair.nonmatch_kind[other], pair.kind,
            None if pair.excluded_b is None else warp_mask(pair.excluded_b, changes[1]),
        )  # fmt: skip


def collate(pairs: list[TrainingPair]) -> tuple[torch.Tensor, torch.Tensor, Samples]:
    """Stack pairs into a batch: images A and B (B, H, W, 3) uint8, and their samples packed,
    each row knowing its pair."""

    def packed(name: str) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([getattr(p, name) for p in pairs]))

    def owners(name: str) -> torch.Tensor:
        counts = [len(getattr(p, name)) for p in pairs]
        return torch.repeat_interleave(torch.arange(len(pairs)), torch.tensor(counts))

    samples = Samples(
        owners("match_uv_a"), packed("match_uv_a"), packed("match_uv_b"),
        owners("nonmatch_uv_a"), packed("nonmatch_uv_a"), packed("nonmatch_uv_b"),
        packed("nonmatch_kind"),
        torch.tensor([p.kind == "cross_instance" for p in pairs]),
        torch.from_numpy(np.stack([
            np.zeros(p.image_b.shape[:2], bool) if p.excluded_b is None else p.excluded_b
            for p in pairs
        ])),
    )  # fmt: skip
    images_a = torch.from_numpy(np.stack([p.image_a for p in pairs]))
    images_b = torch.from_numpy(np.stack([p.image_b for p in pairs]))
    return images_a, images_b, samples


def _instance_partners(found: list[Instance], paths: list[Path]) -> list[tuple[Instance, Instance]]:
    """Every ordered pair of two of the instances `found` (in the scenes at `paths`) of one
    class in different scenes."""
    partners = [(x, y) for x, y in class_partners(found) if x.scene != y.scene]
    if not partners:
        where = paths[0].parent if paths else "the training data"
        raise DonkitError(
            f"train.cross_instance_share needs two instances of one class in different scenes "
            f"with simulator ground truth (ground_truth/, as `donkit collect` writes); the "
            f"scenes under {where} have none: set it to 0"
        )
    return partners


def _crop_anchors(pair: TrainingPair, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The pixels of A and B that crops are placed around: a random match, so that the two
    crops show the same part of the object; without matches, a random object pixel of each
    image (or its centre)."""
    if len(pair.match_uv_a):
        chosen = int(rng.integers(len(pair.match_uv_a)))
        return pair.match_uv_a[chosen], pair.match_uv_b[chosen]
    anchors = []
    for mask in (pair.mask_a, pair.mask_b):
        rows, columns = np.nonzero(mask)
        if len(rows):
            chosen = int(rng.integers(len(rows)))
            anchors.append(np.array([columns[chosen], rows[chosen]]))
        else:
            anchors.append(np.array([(mask.shape[1] - 1) / 2, (mask.shape[0] - 1) / 2]))
    return tuple(anchors)


def _frames(sample: PairSample) -> tuple[int, int, int, int]:
    """Scene and frame positions of a pair's views A and B."""
    return sample.plan.scene_a, sample.plan.frame_a, sample.plan.scene_b, sample.frame_b


def _shifted(array: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`array` (H, W, ...) moved by `shift` (du, dv) pixels; uncovered pixels are 0."""
    du, dv = int(shift[0]), int(shift[1])
    height, width = array.shape[:2]
    out = np.zeros_like(array)
    out[max(dv, 0) : height + min(dv, 0), max(du, 0) : width + min(du, 0)] = array[
        max(-dv, 0) : height + min(-dv, 0), max(-du, 0) : width + min(-du, 0)
    ]
    return out


def _at(mask: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(N,) bool: `mask` at pixels `uv` (N, 2)."""
    return mask[uv[:, 1], uv[:, 0]]


def _select(nonmatches: NonMatches, keep: np.ndarray) -> NonMatches:
    return NonMatches(nonmatches.uv_a[keep], nonmatches.uv_b[keep], nonmatches.kind[keep])


def _moved(uv_a: np.ndarray, uv_b: np.ndarray, shifts, shape: tuple[int, int]):
    """Pixels of A and B moved by their images' shifts, those still inside, and which."""
    height, width = shape
    moved_a, moved_b = uv_a + shifts[0], uv_b + shifts[1]
    keep = np.ones(len(uv_a), bool)
    for moved in (moved_a, moved_b):
        keep &= (moved[:, 0] >= 0) & (moved[:, 0] < width) & (moved[:, 1] >= 0)
        keep &= moved[:, 1] < height
    return moved_a[keep], moved_b[keep], keep
