"""Restore Model Garden MoViNet weights into a model, vizattn modules included.

:func:`load_checkpoint` accepts what MoViNet weights come as:

* a checkpoint directory as released (``checkpoint``, ``ckpt-1.index``,
  ``ckpt-1.data-00000-of-00001``) or a prefix (``.../ckpt-1``);
* the released ``.tar.gz`` archives (extracted safely into a temporary
  directory that is removed afterwards);
* a Keras weight file (``.h5`` / ``.weights.h5``) or a ``model.save_weights``
  prefix;
* a MoViNet stream ``.tflite`` file (TF Hub / Kaggle, int8 or float), converted
  by :func:`vizattn.tflite.load_tflite_weights`;
* an ``http(s)://`` URL, downloaded once into ``$VIZATTN_CACHE`` (default
  ``~/.cache/vizattn``), or ``"official"`` for the released Kinetics-600
  weights of ``model_id`` / ``stream``.

Why not ``tf.train.Checkpoint(model=model).restore(...)``? A Keras Functional
model names its children twice: ``layer-N`` counts *every* layer, Input layers
included, and ``layer_with_weights-N`` counts only layers with weights. A stream
model built with ``use_external_states=True`` has one extra ``Input`` per stream
state, so its ``layer-N`` numbers differ from those of the model that wrote the
released checkpoint. Here both object graphs (the checkpoint's and the live
model's) are walked, every path from the root to a variable is collected,
``layer-N`` edges are ignored, and a model variable takes the value of the
checkpoint variable it shares a path with (``layer_with_weights-N``,
``_backbone/...``, ``_mobile_bottleneck/_rezero/scale``...). Shapes are checked
for every pair before anything is assigned, so a failed restore leaves the
model untouched.

Variables reachable only through an attribute whose name starts with
``_vizattn`` are vizattn's inserted modules: a released checkpoint does not
have them and they keep their initialization ("kept init" in the summary).
Anything else that does not line up is an architecture mismatch and raises
:class:`~vizattn.errors.VizAttnError` (or, with ``strict=False``, is reported
and skipped).

>>> model = vizattn.build_movinet("a0", tada="v1")                   # doctest: +SKIP
>>> summary = load_checkpoint(model, "movinet_a0_stream.tar.gz")   # doctest: +SKIP
>>> print(summary)                                                  # doctest: +SKIP
restored 389 variables from movinet_a0_stream.tar.gz (movinet_a0_stream/ckpt-1)
  kept init (vizattn modules): 75 variables in 15 modules: viz_movinet/block0_layer0/_viz...
  missing from checkpoint: none
  unused in checkpoint: none
"""

from __future__ import annotations

import collections
import dataclasses
import http.client
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable
from pathlib import Path

from vizattn._tf import import_tf
from vizattn.errors import VizAttnError

tf = import_tf()

__all__ = [
    "MODEL_IDS",
    "OFFICIAL_URL",
    "RestoreSummary",
    "cache_dir",
    "download",
    "load_checkpoint",
    "official_url",
]

MODEL_IDS = ("a0", "a1", "a2", "a3", "a4", "a5")
OFFICIAL_URL = (
    "https://storage.googleapis.com/tf_model_garden/vision/movinet/"
    "movinet_{model_id}_{variant}.tar.gz"
)
#: Seconds without progress before a download gives up (per socket operation).
DOWNLOAD_TIMEOUT = 20.0

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_H5_SUFFIXES = (".h5", ".hdf5")
_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# `layer-N` counts InputLayers too, so it shifts between models built with and
# without external states; `layer_with_weights-N` and attribute names do not.
_SHIFTING_CHILD = re.compile(r"layer-\d+")
# Training state, not weights.
_SKIPPED_CHILDREN = frozenset({"optimizer", "save_counter"})
# How often one object may be reached while enumerating paths (MoViNet: <= 8).
_MAX_ARRIVALS = 64
_VIZATTN_PREFIX = "_vizattn"
_SHOWN_GROUPS = 6


# -- summary -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RestoreSummary:
    """What :func:`load_checkpoint` did.

    Attributes:
      source: what was passed (URL, archive, directory, prefix or file).
      prefix: the checkpoint prefix or weight file actually read (for an archive,
        relative to the archive; the extracted copy is gone).
      restored: number of model variables that took a value from the checkpoint.
      kept_init: vizattn module variables (paths through ``_vizattn*``) that the
        checkpoint does not have; they keep their initialization.
      missing: other model variables not in the checkpoint (empty unless
        ``strict=False``).
      unused: checkpoint variables that no model variable took (optimizer and
        save counter excluded; empty unless ``strict=False``).
      mismatched: ``"path: checkpoint shape vs model shape"`` for pairs that were
        skipped (empty unless ``strict=False``).
      format: ``"checkpoint"`` (object-graph path matching), ``"h5"`` or
        ``"tflite"`` (converted from a TFLite file).
    """

    source: str
    prefix: str
    restored: int
    kept_init: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    format: str = "checkpoint"

    @property
    def complete(self) -> bool:
        """True when every non-vizattn variable was restored and nothing was left over."""
        return not (self.missing or self.unused or self.mismatched)

    def __str__(self) -> str:
        where = self.source if self.prefix == self.source else f"{self.source} ({self.prefix})"
        lines = [f"restored {self.restored} variables from {where}"]
        lines.append(
            f"  kept init (vizattn modules): {_abbreviate(self.kept_init, group='module')}"
        )
        lines.append(f"  missing from checkpoint: {_abbreviate(self.missing)}")
        lines.append(f"  unused in checkpoint: {_abbreviate(self.unused)}")
        if self.mismatched:
            lines.append(f"  skipped, shape mismatch: {_abbreviate(self.mismatched, group=None)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"RestoreSummary(restored={self.restored}, kept_init={len(self.kept_init)}, "
            f"missing={len(self.missing)}, unused={len(self.unused)}, "
            f"mismatched={len(self.mismatched)}, format={self.format!r}, "
            f"source={self.source!r})"
        )


def _abbreviate(names: Iterable[str], *, group: str | None = "parent") -> str:
    """A short list: ``"3 variables: a/b/{kernel,bias}, c/d"``, a few groups at most.

    ``group="parent"`` groups by folder; ``group="module"`` by the ``_vizattn*``
    module a variable belongs to (a module with many variables is shown as
    ``path/_vizattn_tada (5 variables)``); ``None`` lists names as they are.
    """
    names = list(names)
    if not names:
        return "none"
    noun = "variable" if len(names) == 1 else "variables"
    head = f"{len(names)} {noun}"
    if group is None:
        items = names
    else:
        groups: dict[str, list[str]] = collections.defaultdict(list)
        for name in names:
            parent, leaf = _split(name, group)
            groups[parent].append(leaf)
        items = []
        for parent, leaves in groups.items():
            if len(leaves) > 3:
                items.append(f"{parent} ({len(leaves)} variables)")
            elif len(leaves) > 1:
                items.append(f"{parent}/{{{','.join(leaves)}}}")
            else:
                items.append(f"{parent}/{leaves[0]}" if parent else leaves[0])
        if group == "module" and len(groups) > 1:
            head += f" in {len(groups)} modules"
    shown = ", ".join(items[:_SHOWN_GROUPS])
    more = f", ... (+{len(items) - _SHOWN_GROUPS} more)" if len(items) > _SHOWN_GROUPS else ""
    return f"{head}: {shown}{more}"


def _split(name: str, group: str) -> tuple[str, str]:
    if group == "module":
        parts = name.split("/")
        for i, part in enumerate(parts[:-1]):
            if part.startswith(_VIZATTN_PREFIX):
                return "/".join(parts[: i + 1]), "/".join(parts[i + 1 :])
    parent, _, leaf = name.rpartition("/")
    return parent, leaf


# -- public entry point --------------------------------------------------------


def load_checkpoint(
    model,
    checkpoint,
    *,
    model_id: str | None = None,
    stream: bool | str | None = None,
    strict: bool = True,
) -> RestoreSummary:
    """Restores MoViNet weights into ``model`` and says what happened.

    Args:
      model: a built ``MovinetClassifier`` (its backbone may be a vizattn
        subclass of ``Movinet``); any built tf_keras model works.
      checkpoint: a checkpoint directory, a ``ckpt-N`` prefix, a ``.tar.gz`` /
        ``.tgz`` archive of a checkpoint directory, a Keras ``.h5`` weight file, a
        ``model.save_weights`` prefix, an ``http(s)://`` URL, or ``"official"``.
      model_id: for ``"official"``: ``"a0"`` to ``"a5"`` (default: the model's).
      stream: for ``"official"``: True / ``"stream"`` for the stream (causal)
        weights, False / ``"base"`` for the base ones (default: the model's).
      strict: if True (default), any shape mismatch, missing non-vizattn variable
        or unused checkpoint variable raises and nothing is assigned. If False,
        whatever matches by path and shape is restored and the rest is listed in
        the summary (e.g. to fine-tune with a new classifier head).

    Returns:
      A :class:`RestoreSummary`.

    Raises:
      VizAttnError: missing file, unsafe or unreadable archive, failed download,
        or a checkpoint that does not fit the model.
    """
    if not hasattr(model, "_trackable_children") or not hasattr(model, "variables"):
        raise VizAttnError(
            f"load_checkpoint needs a tf_keras model, got {type(model).__name__}; "
            "pass the model returned by vizattn.build_movinet."
        )
    if isinstance(checkpoint, os.PathLike):
        checkpoint = os.fspath(checkpoint)
    if not isinstance(checkpoint, str) or not checkpoint.strip():
        raise VizAttnError(
            f"checkpoint must be a path, a URL or 'official', got {checkpoint!r}; "
            "pass e.g. checkpoint='movinet_a0_stream.tar.gz'."
        )
    source = checkpoint
    if checkpoint == "official":
        checkpoint = source = official_url(*_official_variant(model, model_id, stream))
    if re.match(r"(?i)https?://", checkpoint):
        path = download(checkpoint)
    else:
        path = Path(checkpoint).expanduser()
    return _restore_from_path(model, path, source=source, strict=strict)


def official_url(model_id: str, stream: bool) -> str:
    """The URL of the released Kinetics-600 weights of ``model_id`` (base or stream)."""
    mid = str(model_id).lower()
    if mid not in MODEL_IDS:
        raise VizAttnError(
            f"no official MoViNet weights for model_id {model_id!r}; "
            f"use one of {', '.join(MODEL_IDS)}."
        )
    return OFFICIAL_URL.format(model_id=mid, variant="stream" if stream else "base")


def _official_variant(model, model_id, stream) -> tuple[str, bool]:
    backbone = getattr(model, "backbone", None) or getattr(model, "_backbone", None)
    if model_id is None:
        model_id = getattr(backbone, "_model_id", None)
    if stream is None:
        stream = getattr(backbone, "_causal", None)
    if model_id is None or stream is None:
        raise VizAttnError(
            "checkpoint='official' needs model_id and stream, and the model does not say; "
            "pass e.g. model_id='a0', stream=True."
        )
    if isinstance(stream, str):
        if stream not in ("stream", "base"):
            raise VizAttnError(
                f"unknown variant stream={stream!r}; pass True, False, 'stream' or 'base'."
            )
        stream = stream == "stream"
    return str(model_id), bool(stream)


# -- download ------------------------------------------------------------------


def cache_dir() -> Path:
    """Where downloads are kept: ``$VIZATTN_CACHE`` or ``~/.cache/vizattn``."""
    env = os.environ.get("VIZATTN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vizattn"


def download(url: str, *, timeout: float = DOWNLOAD_TIMEOUT) -> Path:
    """Downloads ``url`` into :func:`cache_dir` once; returns the cached file.

    The file is written to a temporary name and renamed, so an interrupted
    download never leaves a truncated file under the final name. A file already
    in the cache under the URL's base name is reused without touching the network.
    """
    name = posixpath.basename(urllib.parse.urlparse(url).path)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "checkpoint.tar.gz"
    dest = cache_dir() / name
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    tmp = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{name}.", suffix=".part")
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            expected = resp.headers.get("Content-Length") if resp.headers else None
            shutil.copyfileobj(resp, out, 1 << 20)
            written = out.tell()
        if expected is not None and expected.isdigit() and int(expected) != written:
            raise OSError(f"got {written} of {expected} bytes")
        os.replace(tmp, dest)
        tmp = None
    except (OSError, ValueError, http.client.HTTPException) as e:
        if isinstance(e, urllib.error.HTTPError):
            reason = f"HTTP {e.code} {e.reason}"
        elif isinstance(e, urllib.error.URLError):
            reason = str(e.reason)
        else:
            reason = str(e) or type(e).__name__
        reason = " ".join(reason.split())
        raise VizAttnError(
            f"could not download {url}: {reason}; download it on a machine with network "
            f"access and pass the local file: checkpoint={name!r}."
        ) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return dest


# -- locating the checkpoint ---------------------------------------------------


def _restore_from_path(model, path: Path, *, source: str, strict: bool) -> RestoreSummary:
    text = str(path)
    lower = text.lower()
    if path.is_file() and lower.endswith(".tflite"):
        from vizattn.tflite import load_tflite_weights

        return load_tflite_weights(model, path, source=source, strict=strict)
    if path.is_file() and lower.endswith(_H5_SUFFIXES):
        return _restore_h5(model, path, source=source)
    if path.is_file() and (lower.endswith(_ARCHIVE_SUFFIXES) or _is_tar(path)):
        with tempfile.TemporaryDirectory(prefix="vizattn-ckpt-") as tmp:
            root = Path(tmp)
            _safe_extract(path, root)
            prefix = _find_prefix(root, origin=text)
            inner = os.path.relpath(prefix, root).replace(os.sep, "/")
            return _restore_by_paths(
                model, prefix, source=source, shown_prefix=inner, strict=strict
            )
    if path.is_dir():
        prefix = _find_prefix(path, origin=text)
        return _restore_by_paths(model, prefix, source=source, shown_prefix=prefix, strict=strict)
    # A prefix, or one of its files.
    prefix = re.sub(r"\.(index|data-\d+-of-\d+)$", "", text)
    if Path(prefix + ".index").is_file():
        return _restore_by_paths(model, prefix, source=source, shown_prefix=prefix, strict=strict)
    if path.exists():
        raise VizAttnError(
            f"cannot read {text!r} as weights; pass a checkpoint directory, a ckpt-N prefix, "
            "a .tar.gz archive or a Keras .h5 weight file."
        )
    raise VizAttnError(
        f"checkpoint {text!r} does not exist; pass a checkpoint directory, a ckpt-N prefix, "
        "a .tar.gz archive, a .h5 weight file, a URL or 'official'."
    )


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _find_prefix(directory: Path, *, origin: str) -> str:
    """The checkpoint prefix in ``directory``, else in its one subfolder that has one."""
    found = _prefix_in_dir(directory, origin)
    if found:
        return found
    candidates = []
    base_depth = len(directory.parts)
    for dirpath, dirnames, filenames in os.walk(directory):
        if len(Path(dirpath).parts) - base_depth >= 3:
            dirnames[:] = []
        dirnames.sort()
        if any(f.endswith(".index") for f in filenames):
            candidates.append(Path(dirpath))
    if len(candidates) == 1:
        found = _prefix_in_dir(candidates[0], origin)
        if found:
            return found
    if not candidates:
        raise VizAttnError(
            f"no checkpoint (*.index file) in {origin}; pass a Model Garden checkpoint "
            "directory or archive, e.g. movinet_a0_stream.tar.gz."
        )
    names = ", ".join(os.path.relpath(c, directory) for c in candidates[:4])
    raise VizAttnError(
        f"several checkpoints in {origin} ({names}); pass the directory or prefix of one of them."
    )


def _prefix_in_dir(directory: Path, origin: str) -> str | None:
    if (directory / "checkpoint").is_file():
        try:
            state = tf.train.get_checkpoint_state(str(directory))
        except Exception:  # a broken index file just means "look at *.index"
            state = None
        recorded = state.model_checkpoint_path if state is not None else ""
        if recorded:
            # Only the base name counts: the file may hold an absolute path from the
            # machine that wrote it or, in a hostile archive, point anywhere at all.
            candidate = directory / os.path.basename(recorded)
            if Path(f"{candidate}.index").is_file():
                return str(candidate)
    indexes = sorted(directory.glob("*.index"))
    if len(indexes) == 1:
        return str(indexes[0])[: -len(".index")]
    if len(indexes) > 1:
        names = ", ".join(i.name[: -len(".index")] for i in indexes[:4])
        raise VizAttnError(
            f"several checkpoints in {origin} ({names}) and no 'checkpoint' file naming the "
            f"latest; pass a prefix, e.g. checkpoint='{indexes[-1].with_suffix('')}'."
        )
    return None


# -- safe extraction -----------------------------------------------------------


def _safe_extract(archive: Path, dest: Path) -> None:
    """Extracts ``archive`` into ``dest``, refusing anything that could land outside."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                why = _unsafe_reason(member)
                if why:
                    raise VizAttnError(
                        f"unsafe archive {archive}: member {member.name!r} {why}; refusing to "
                        "extract it, use the official archive or unpack it yourself and pass "
                        "the directory."
                    )
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python without PEP 706; our checks still ran
                tar.extractall(dest, members=members)
    except VizAttnError:
        raise
    except tarfile.FilterError as e:  # a second opinion from PEP 706's "data" filter
        member = getattr(e, "tarinfo", None)
        name = member.name if member is not None else "?"
        raise VizAttnError(
            f"unsafe archive {archive}: member {name!r} rejected ({' '.join(str(e).split())}); "
            "use the official archive or unpack it yourself and pass the directory."
        ) from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise VizAttnError(
            f"could not read archive {archive}: {' '.join(str(e).split()) or type(e).__name__}; "
            "delete it and download it again, or pass the extracted checkpoint directory."
        ) from None


def _unsafe_reason(member: tarfile.TarInfo) -> str | None:
    name = member.name.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in name.split("/"):
        return "climbs out with '..'"
    if member.isdev() or not (
        member.isfile() or member.isdir() or member.issym() or member.islnk()
    ):
        return "is a device or special file"
    if member.issym() or member.islnk():
        link = member.linkname.replace("\\", "/")
        if link.startswith("/") or re.match(r"[A-Za-z]:", link):
            return f"links to an absolute path ({member.linkname!r})"
        # Symlinks resolve against the member's folder, hard links against the root.
        base = posixpath.dirname(name) if member.issym() else ""
        target = posixpath.normpath(posixpath.join(base, link))
        if target == ".." or target.startswith("../"):
            return f"links outside the archive ({member.linkname!r})"
    return None


# -- object-graph path matching ------------------------------------------------


@dataclasses.dataclass
class _ModelVar:
    var: object
    paths: set
    shown: str
    vizattn: bool


def _checkpoint_variables(reader, source: str) -> dict[str, set[str]]:
    """Checkpoint key -> every path to it from the model (``layer-N`` edges skipped)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    try:
        raw = reader.get_tensor(_GRAPH_KEY)
    except Exception:  # tf raises NotFoundError or ValueError depending on version
        raise VizAttnError(
            f"{source} is a name-based (TF1) checkpoint without an object graph; pass a TF2 "
            "checkpoint written by tf.train.Checkpoint or model.save_weights."
        ) from None
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(raw)
    root = graph.nodes[0]
    start = next((c.node_id for c in root.children if c.local_name == "model"), 0)

    key_paths: dict[str, set[str]] = collections.defaultdict(set)
    arrivals: collections.Counter = collections.Counter()

    def walk(node_id: int, path: tuple, on_path: frozenset) -> None:
        arrivals[node_id] += 1
        if arrivals[node_id] > _MAX_ARRIVALS:
            return
        node = graph.nodes[node_id]
        for attr in node.attributes:
            if attr.name == "VARIABLE_VALUE":
                key_paths[attr.checkpoint_key].add("/".join(path))
        for child in node.children:
            name = child.local_name
            if _skip_child(name) or child.node_id in on_path:
                continue
            walk(child.node_id, (*path, name), on_path | {child.node_id})

    walk(start, (), frozenset({start}))
    return key_paths


def _skip_child(name: str) -> bool:
    return name in _SKIPPED_CHILDREN or _SHIFTING_CHILD.fullmatch(name) is not None


def _children(obj) -> dict:
    try:
        return dict(tf.train.TrackableView.children(obj))
    except AttributeError:  # pragma: no cover - older TF without TrackableView
        return dict(obj._trackable_children(save_type="checkpoint"))


def _model_variables(model) -> list[_ModelVar]:
    """Every variable reachable from ``model``, with all its paths (``layer-N`` skipped)."""
    found: dict = {}
    arrivals: collections.Counter = collections.Counter()

    def walk(obj, path: tuple, shown: tuple, on_path: frozenset) -> None:
        for name, child in _children(obj).items():
            if _skip_child(name) or id(child) in on_path:
                continue
            # For people: a Functional model's `layer_with_weights-3` is shown by its layer name.
            label = getattr(child, "name", name) if name.startswith("layer_with_weights-") else name
            child_path, child_shown = (*path, name), (*shown, str(label))
            if isinstance(child, tf.Variable):
                entry = found.get(child.ref())
                if entry is None:
                    entry = found[child.ref()] = [child, set(), set()]
                entry[1].add("/".join(child_path))
                entry[2].add(child_shown)
                continue
            arrivals[id(child)] += 1
            if arrivals[id(child)] > _MAX_ARRIVALS:
                continue
            try:
                walk(child, child_path, child_shown, on_path | {id(child)})
            except Exception:  # tf.functions and such have nothing to restore
                continue

    walk(model, (), (), frozenset({id(model)}))
    out = []
    for var, paths, shown in found.values():
        vizattn = all(any(part.startswith(_VIZATTN_PREFIX) for part in p.split("/")) for p in paths)
        best = min(shown, key=lambda s: (len(s), sum(p.startswith("_") for p in s), s))
        out.append(_ModelVar(var, paths, "/".join(best), vizattn))
    return out


def _restore_by_paths(
    model, prefix: str, *, source: str, shown_prefix: str, strict: bool
) -> RestoreSummary:
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:  # tf raises several types for corrupt files
        first = " ".join(str(e).split())[:200]
        raise VizAttnError(
            f"could not read checkpoint {shown_prefix} from {source}: {first}; "
            "download it again or pass another copy."
        ) from None
    key_paths = _checkpoint_variables(reader, source)
    shapes = reader.get_variable_to_shape_map()
    path_to_key = {p: key for key, paths in key_paths.items() for p in paths}

    plan = []  # (model var, key)
    mismatched = []  # (shown, ckpt shape, model shape)
    missing, kept_init = [], []
    used: set[str] = set()
    for mv in _model_variables(model):
        keys = {path_to_key[p] for p in mv.paths if p in path_to_key}
        if not keys:
            (kept_init if mv.vizattn else missing).append(mv.shown)
            continue
        used.update(keys)
        if len(keys) > 1:  # its paths disagree: the two object graphs differ in shape
            mismatched.append((mv.shown, "several checkpoint variables", None))
            continue
        (key,) = keys
        ck_shape = tuple(shapes.get(key, ()))
        model_shape = tuple(mv.var.shape)
        if ck_shape != model_shape:
            mismatched.append((mv.shown, ck_shape, model_shape))
            continue
        plan.append((mv, key))
    unused = [_shown_key(k) for k in key_paths if k not in used]

    if not plan or (strict and (mismatched or missing or unused)):
        raise VizAttnError(_mismatch_message(source, plan, mismatched, missing, unused))

    for mv, key in plan:
        value = reader.get_tensor(key)
        target = mv.var.dtype.as_numpy_dtype
        if value.dtype != target:
            value = value.astype(target)
        mv.var.assign(value)
    return RestoreSummary(
        source=source,
        prefix=shown_prefix,
        restored=len(plan),
        kept_init=tuple(kept_init),
        missing=tuple(missing),
        unused=tuple(unused),
        mismatched=tuple(f"{s}: {_fmt(c)} vs {_fmt(m)}" for s, c, m in mismatched),
        format="checkpoint",
    )


def _shown_key(key: str) -> str:
    key = key[: -len(_VALUE_SUFFIX)] if key.endswith(_VALUE_SUFFIX) else key
    return key[len("model/") :] if key.startswith("model/") else key


def _fmt(shape) -> str:
    return shape if isinstance(shape, str) or shape is None else str(list(shape))


def _mismatch_message(source, plan, mismatched, missing, unused) -> str:
    head = f"checkpoint {source} does not fit this model"
    if not plan and not mismatched:
        return (
            f"{head}: none of its {len(unused)} variables matches any of the model's; "
            "it is not a checkpoint of this kind of model (pass a MoViNet checkpoint written "
            "by tf.train.Checkpoint(model=...) or model.save_weights)."
        )
    problems = []
    if mismatched:
        shown, ck, mdl = mismatched[0]
        if mdl is None:
            first = f"{shown} matches several checkpoint variables"
        else:
            first = f"{shown} has shape {_fmt(ck)} in the checkpoint but {_fmt(mdl)} in the model"
        more = f" (+{len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
        problems.append(first + more)
    if missing:
        problems.append(f"{len(missing)} model variables are not in it (first: {missing[0]})")
    if unused:
        problems.append(f"{len(unused)} of its variables are unused (first: {unused[0]})")
    classes_only = (
        not missing
        and not unused
        and mismatched
        and all(m is not None and "_classifier/" in s for s, _, m in mismatched)
    )
    if classes_only:
        ck_classes = mismatched[0][1][-1] if mismatched[0][1] else "?"
        hint = (
            f"the checkpoint has {ck_classes} classes: build the model with "
            f"num_classes={ck_classes}, or pass strict=False to keep the new head's init"
        )
    else:
        hint = (
            "the checkpoint looks like a different model_id or base/stream variant: build the "
            "model with the model_id/stream it was trained with (for checkpoint='official', "
            "pass model_id/stream to match), or pass strict=False to restore only what matches"
        )
    return f"{head}: {', '.join(problems)}; {hint}."


# -- Keras HDF5 ----------------------------------------------------------------


def _restore_h5(model, path: Path, *, source: str) -> RestoreSummary:
    try:
        model.load_weights(str(path))
    except Exception as e:  # Keras raises ValueError, OSError, KeyError...
        first = " ".join(str(e).split())[:240] or type(e).__name__
        raise VizAttnError(
            f"Keras weight file {path} does not fit this model ({first}); an .h5 file needs "
            "exactly the architecture that saved it (model_id, base/stream, num_classes, vizattn "
            "modules): build that model, or restore from a TF checkpoint, which matches by path."
        ) from None
    count = len({w.ref() for w in model.weights})
    return RestoreSummary(source=source, prefix=str(path), restored=count, format="h5")
