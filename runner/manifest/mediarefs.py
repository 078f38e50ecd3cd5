"""From an `img_url`/`audio_url` value to a checked MediaRef: URLs pass, local files are inspected.

An image may be an http(s) or oss:// URL (sent as-is), a data: URL (decoded and
checked now), a file:// URL or a path relative to the file the row came from. Local
files must exist, be a supported format by content, and fit the model's limits;
they enter the task key by content hash. Relative paths may not leave the manifest's
folder; absolute paths are taken as the user's explicit choice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from runner.core import MediaRef, ModelInfo
from runner.manifest.media import (
    AUDIO_MIMES,
    IMAGE_MIMES,
    LocalFile,
    MediaCache,
    MediaFormatError,
    decode_data_url,
    describe_bytes,
)
from runner.manifest.readers import RowPlace

__all__ = ["AUDIO_MAX_BYTES", "AUDIO_MAX_S", "AUDIO_MIN_S", "MediaResolver"]

AUDIO_MIN_S: Final = 3.0
AUDIO_MAX_S: Final = 30.0
AUDIO_MAX_BYTES: Final = 15 * 1024 * 1024
_PASS_THROUGH: Final = ("http://", "https://", "oss://")
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_IMAGE_NAMES: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/bmp": "BMP", "image/webp": "WEBP"}

Outcome = tuple[MediaRef | None, str | None]


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class MediaResolver:
    """Resolves and checks media values; caches paths per folder and files by (path, mtime, size)."""

    def __init__(self, cache: MediaCache | None = None) -> None:
        self._cache = cache or MediaCache()
        self._paths: dict[tuple[Path, Path, str], Path | str] = {}
        self._data_urls: dict[str, LocalFile | str] = {}
        self._files: dict[Path, LocalFile | str] = {}  # files do not change during one load

    def image(self, value: str, place: RowPlace, model: ModelInfo) -> Outcome:
        """A MediaRef for an image value, or the reason it cannot be used with `model`."""
        if value.startswith(_PASS_THROUGH):
            return MediaRef("image", url=value), None
        if value[:5].lower() == "data:":
            return self._data_image(value, model)
        file = self._local(value, place)
        if isinstance(file, str):
            return None, file
        shown = repr(value if len(value) <= 80 else "…" + value[-79:])
        problem = _image_problem(file, shown, model)
        ref = MediaRef("image", path=file.path, sha256=file.sha256, size=file.size, mime=file.mime)
        return (None, problem) if problem else (ref, None)

    def audio(self, value: str, place: RowPlace) -> Outcome:
        """A MediaRef for an audio value, or the reason it cannot be used."""
        if value.startswith(_PASS_THROUGH):
            return MediaRef("audio", url=value), None
        if value[:5].lower() == "data:":
            return None, "the API takes audio only as an http(s) URL or a file, not as a data: URL."
        file = self._local(value, place)
        if isinstance(file, str):
            return None, file
        problem = _audio_problem(file, value)
        ref = MediaRef("audio", path=file.path, sha256=file.sha256, size=file.size, mime=file.mime)
        return (None, problem) if problem else (ref, None)

    def _data_image(self, value: str, model: ModelInfo) -> Outcome:
        file = self._data_urls.get(value)
        if file is None:
            file = _decode_image(value)
            self._data_urls[value] = file
        if isinstance(file, str):
            return None, file
        problem = _image_problem(file, "the data: URL", model)
        ref = MediaRef("image", url=value, sha256=file.sha256, size=file.size, mime=file.mime)
        return (None, problem) if problem else (ref, None)

    def _local(self, value: str, place: RowPlace) -> LocalFile | str:
        """The inspected file named by `value`, or why it cannot be used."""
        path = self._path(value, place)
        if isinstance(path, str):
            return path
        known = self._files.get(path)
        if known is None:
            known = self._files[path] = self._inspect(value, path)
        return known

    def _inspect(self, value: str, path: Path) -> LocalFile | str:
        try:
            return self._cache.inspect(path)
        except FileNotFoundError:
            return f"file {value!r} does not exist (looked for {path})."
        except IsADirectoryError:
            return f"{value!r} is a folder, not a file."
        except PermissionError:
            return f"file {value!r} cannot be read (permission denied)."
        except OSError as exc:
            return f"file {value!r} cannot be read: {exc.strerror}."

    def _path(self, value: str, place: RowPlace) -> Path | str:
        key = (place.folder, place.root, value)
        cached = self._paths.get(key)
        if cached is None:
            cached = _local_path(value, place.folder, place.root)
            self._paths[key] = cached
        return cached


def _local_path(value: str, folder: Path, root: Path) -> Path | str:
    """The absolute path meant by a file:// URL or a plain path, or why it is refused."""
    if value.lower().startswith("file:"):
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            return (
                f"{value!r} is not a local file URL; write file:///absolute/path, "
                "or a plain path relative to the manifest."
            )
        return Path(os.path.normpath(url2pathname(unquote(parts.path))))
    if _SCHEME.match(value) and not Path(value).exists():
        scheme = value.split(":", 1)[0]
        return f"{scheme}: URLs are not supported; use http(s)://, oss://, data:, file:// or a file path."
    if not value:
        return "is empty; give a URL or a file path."
    path = Path(value).expanduser()
    if path.is_absolute():
        return Path(os.path.normpath(path))
    joined = Path(os.path.normpath(folder / path))
    if not joined.is_relative_to(root):
        return (
            f"{value!r} points outside the manifest's folder ({root}); move the file inside it, "
            "or give an absolute path if you really mean that file."
        )
    return joined


def _decode_image(value: str) -> LocalFile | str:
    try:
        mime, data = decode_data_url(value)
    except MediaFormatError as exc:
        return f"{exc}."
    if mime not in IMAGE_MIMES:
        return f"a data: URL image must be {', '.join(IMAGE_MIMES)}; got {mime or 'no type'!r}."
    file = describe_bytes("data:", data)
    if file.mime != mime:
        found = file.mime or "not an image of a supported kind"
        return f"the data: URL says {mime} but its bytes are {found}; the API rejects a mismatch."
    return file


def _image_problem(file: LocalFile, shown: str, model: ModelInfo) -> str | None:
    if file.mime not in IMAGE_MIMES:
        return f"{shown} is not a JPEG, PNG, BMP or WEBP image (judged by its content, not its name)."
    kind = _IMAGE_NAMES[file.mime]
    if file.size > model.image_max_bytes:
        return f"{shown} is {_mb(file.size)}; {model.name} accepts images up to {_mb(model.image_max_bytes)}."
    if file.error or file.width is None or file.height is None:
        return f"{shown}: {file.error or 'the image size could not be read'}."
    low, high = model.image_min_px, model.image_max_px
    if not (low <= file.width <= high and low <= file.height <= high):
        return (
            f"{shown} is {file.width}×{file.height} pixels; {model.name} needs each side "
            f"between {low} and {high}."
        )
    if file.has_alpha:
        return (
            f"{shown} is a {kind} with an alpha channel, which the API refuses; save it without transparency."
        )
    return None


def _audio_problem(file: LocalFile, shown: str) -> str | None:
    if file.mime not in AUDIO_MIMES:
        return f"{shown!r} is not a WAV or MP3 file (judged by its content, not its name)."
    if file.size > AUDIO_MAX_BYTES:
        return f"{shown!r} is {_mb(file.size)}; audio may be at most {_mb(AUDIO_MAX_BYTES)}."
    if file.duration_s is None:
        why = file.error or "its length could not be determined"
        return f"{shown!r}: {why}; convert it to WAV or constant-bitrate MP3."
    if not AUDIO_MIN_S <= file.duration_s <= AUDIO_MAX_S:
        return (
            f"{shown!r} is {file.duration_s:.1f} seconds long; audio must be "
            f"{AUDIO_MIN_S:g} to {AUDIO_MAX_S:g} seconds."
        )
    return None
