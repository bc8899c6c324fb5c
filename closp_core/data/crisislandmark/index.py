"""Where each CrisisLandMark sample lives: its shard file, its path there, its storage position.

``plan_shards`` reads the links of ``crisislandmark.h5`` once (names and external-link targets,
without following them) and opens each shard once to learn where its sample groups are stored,
so the reader can open each shard once and read its samples in file order.

Decisions:

- **Links are resolved by us, never followed by HDF5.** An external link's file name must be a
  relative path that stays inside the corpus folder (checked on the name, before any symlink:
  a Hugging Face snapshot's files are symlinks into its ``blobs/``); any other target is refused
  for every key that uses it. Soft links inside the root file are followed within that file.
- **Two root layouts**: one link per sample key (the published one), or links to shard-level
  groups whose members are the samples (members are listed only for keys not found directly).
- **Storage order** = the object address of each sample group, which HDF5 writers place next to
  the sample's data; keys whose address is unknown go last, by name.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path, PurePosixPath

import h5py
from h5py import h5l

from closp_core.errors import DataError

ROOT_FILE = "crisislandmark.h5"
Location = tuple[str, str]  # (file name relative to the corpus folder, object path in it)


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    """The wanted keys of one shard, in storage order.

    ``shard`` is a file name relative to the corpus folder (``None``: the keys are in no HDF5
    file); ``paths[i]`` is the object path of ``keys[i]`` in it; ``problem`` says why the shard
    cannot be read (refused, missing, unreadable), in one sentence naming it.
    """

    shard: str | None
    keys: tuple[str, ...]
    paths: tuple[str, ...]
    problem: str | None = None


def shard_path(root: Path, name: str) -> tuple[Path | None, str | None]:
    """``root / name`` when ``name`` is a relative path inside ``root``; else (None, reason)."""
    pure = PurePosixPath(name.replace("\\", "/"))
    normal = posixpath.normpath(str(pure))
    if pure.is_absolute() or Path(name).is_absolute() or normal == ".." or normal.startswith("../"):
        return None, (
            f"refused: {root / ROOT_FILE} links to {name!r}, outside the corpus folder {root}; "
            "shard files must sit inside that folder"
        )
    return root / normal, None


def plan_shards(root: Path, wanted: Collection[str], all_keys: Collection[str]) -> list[ShardPlan]:
    """One ``ShardPlan`` per shard holding ``wanted`` keys (sorted by shard name), plus one with
    ``shard=None`` for wanted keys found in no file. ``all_keys``: every key of the metadata
    (names that are not keys may be shard-level groups)."""
    root_file = root / ROOT_FILE
    try:
        handle = h5py.File(root_file, "r")
    except OSError as err:
        raise DataError(f"{root_file}: not a readable HDF5 file ({err})") from None
    with handle:
        links = _links(handle.id, ".")
        found = {key: loc for key in wanted if (loc := _location(handle, key, links)) is not None}
        # names that are no sample key may be shard-level groups of samples
        containers = [] if len(found) == len(wanted) else [
            loc for name in links if name not in all_keys
            if (loc := _location(handle, name, links)) is not None
        ]  # fmt: skip
    for container in containers:
        if len(found) < len(wanted):
            _add_members(root, container, wanted, found)
    by_file: dict[str, list[str]] = defaultdict(list)
    for key, (name, _) in found.items():
        by_file[name].append(key)
    plans = [_plan(root, name, keys, found) for name, keys in sorted(by_file.items())]
    lost = sorted(set(wanted) - set(found))
    if lost:
        plans.append(ShardPlan(None, tuple(lost), ("",) * len(lost)))
    return plans


def _links(group: h5py.h5g.GroupID, path: str) -> dict[str, tuple[int, int]]:
    """name -> (link type, address for hard links) of the members of ``path``, one pass."""
    out: dict[str, tuple[int, int]] = {}

    def visit(name: bytes, info: h5l.LinkInfo) -> None:
        out[name.decode("utf-8", "replace")] = (info.type, info.u)

    group.links.iterate(visit, info=True, obj_name=path.encode())
    return out


def _location(handle: h5py.File, name: str, links: dict[str, tuple[int, int]]) -> Location | None:
    """Where root member ``name`` points: an external link's target, or the root file itself."""
    kind = links.get(name, (None, 0))[0]
    if kind == h5l.TYPE_HARD:
        return ROOT_FILE, "/" + name
    if kind not in (h5l.TYPE_EXTERNAL, h5l.TYPE_SOFT):
        return None
    value = handle.id.links.get_val(name.encode())
    if kind == h5l.TYPE_SOFT:
        return ROOT_FILE, posixpath.normpath(posixpath.join("/", value.decode()))
    file_name, object_path = value
    return file_name.decode(), object_path.decode()


def _add_members(
    root: Path, container: Location, wanted: Collection[str], found: dict[str, Location]
) -> None:
    """Add the wanted keys that are members of a shard-level group."""
    path, _ = shard_path(root, container[0])
    if path is None or not path.is_file():
        return
    try:
        with h5py.File(path, "r") as shard:
            members = _links(shard.id, container[1])
    except (OSError, KeyError):
        return  # not a group of samples; plan_shards reports the keys it did not find
    for member, (kind, _) in members.items():
        if member in wanted and member not in found and kind == h5l.TYPE_HARD:
            found[member] = (container[0], posixpath.join(container[1], member))


def _plan(root: Path, name: str, keys: list[str], found: dict[str, Location]) -> ShardPlan:
    """The keys of one shard file, in storage order, or the reason it cannot be read."""
    paths = {key: found[key][1] for key in keys}
    path, problem = shard_path(root, name)
    order: dict[str, int] = {}
    if path is not None and not path.is_file():
        problem = (
            f"{root / ROOT_FILE} links to shard {name!r} ({len(keys)} keys), which is missing "
            f"from {root}; put the shard files next to crisislandmark.h5"
        )
    elif path is not None:
        try:
            order = _addresses(path, paths)
        except OSError as err:
            problem = f"{path}: not a readable HDF5 file ({err}); download or copy it again"
    keys.sort(key=lambda k: (k not in order, order.get(k, 0), k))
    return ShardPlan(name, tuple(keys), tuple(paths[k] for k in keys), problem)


def _addresses(path: Path, paths: dict[str, str]) -> dict[str, int]:
    """key -> object address of its sample group, listing each parent group once."""
    parents: dict[str, dict[str, tuple[int, int]]] = {}
    order: dict[str, int] = {}
    with h5py.File(path, "r") as shard:
        for key, object_path in paths.items():
            parent, member = posixpath.split(object_path)
            if parent not in parents:
                try:
                    parents[parent] = _links(shard.id, parent or "/")
                except KeyError:
                    parents[parent] = {}
            kind, address = parents[parent].get(member, (None, 0))
            if kind == h5l.TYPE_HARD:
                order[key] = address
    return order
