"""From a media value (an image, audio or video input) to a checked MediaRef.

A value may be an http(s) or oss:// URL (sent as-is), a data: URL (images only: decoded
and checked now), a file:// URL or a path relative to the file the row came from. Local
files must exist, be a supported format by content, and fit the limits of their role
for the model (runner.core.families.MediaRule); they enter the task key by content hash.
Relative paths may not leave the manifest's folder; absolute paths are taken as the
user's explicit choice.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from runner.core import MediaRef, MediaRule
from runner.manifest.media import (
    IMAGE_MIMES,
    LocalFile,
    MediaCache,
    MediaFormatError,
    decode_data_url,
    describe_bytes,
)
from runner.manifest.readers import RowPlace

__all__ = ["MediaResolver"]

_PASS_THROUGH: Final = ("http://", "https://", "oss://")
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_IMAGE_NAMES: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/bmp": "BMP", "image/webp": "WEBP"}
_PLURALS: Final = {"image": "images", "audio": "audio", "video": "videos"}
_CONVERT: Final = {"audio": "convert it to WAV or constant-bitrate MP3", "video": "convert it to MP4 (H.264)"}
_KINDS: Final = {
    "image": "a JPEG, PNG, BMP or WEBP image",
    "audio": "a WAV or MP3 file",
    "video": "an MP4 or MOV video",
}

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
        self._listings: dict[Path, list[str]] = {}  # folders' file names, for suggestions
        #: rows naming the same input for the same role share one outcome: checked once
        self._outcomes: dict[tuple[str, Path, Path, MediaRule, str], Outcome] = {}

    def resolve(self, value: str, place: RowPlace, rule: MediaRule, owner: str) -> Outcome:
        """A MediaRef for one input of a role whose limits are `rule` (for the model `owner`),
        or the reason it cannot be used."""
        key = (value, place.folder, place.root, rule, owner)
        outcome = self._outcomes.get(key)
        if outcome is None:
            outcome = self._outcomes[key] = self._resolve(value, place, rule, owner)
        return outcome

    def _resolve(self, value: str, place: RowPlace, rule: MediaRule, owner: str) -> Outcome:
        if value.startswith(_PASS_THROUGH):
            return MediaRef(rule.kind, url=value), None
        if value[:5].lower() == "data:":
            if not rule.data_url:
                return (
                    None,
                    f"the API takes {rule.kind} only as an http(s) URL or a file, not as a data: URL.",
                )
            return self._data_image(value, rule, owner)
        file = self._local(value, place)
        if isinstance(file, str):
            return None, file
        shown = repr(value if len(value) <= 80 else "…" + value[-79:])
        problem = _problem(file, shown, rule, owner)
        seconds = file.duration_s if rule.kind != "image" else None
        ref = MediaRef(
            rule.kind, path=file.path, sha256=file.sha256, size=file.size, mime=file.mime, seconds=seconds
        )
        return (None, problem) if problem else (ref, None)

    def _data_image(self, value: str, rule: MediaRule, owner: str) -> Outcome:
        file = self._data_urls.get(value)
        if file is None:
            file = _decode_image(value)
            self._data_urls[value] = file
        if isinstance(file, str):
            return None, file
        problem = _problem(file, "the data: URL", rule, owner)
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
            return f"file {value!r} does not exist (looked for {path}).{self._closest(value, path)}"
        except IsADirectoryError:
            return f"{value!r} is a folder, not a file."
        except PermissionError:
            return f"file {value!r} cannot be read (permission denied)."
        except OSError as exc:
            return f"file {value!r} cannot be read: {exc.strerror}."

    def _closest(self, value: str, path: Path) -> str:
        """' Did you mean ...?' naming the closest file in the missing file's folder, as written."""
        names = self._listings.get(path.parent)
        if names is None:
            try:
                with os.scandir(path.parent) as entries:
                    names = sorted(entry.name for entry in entries if entry.is_file())
                self._listings[path.parent] = names
            except OSError:
                return f" The folder {path.parent} does not exist either."
        close = _closest_name(path.name, names)
        if close is None:
            return ""
        written = value[: -len(path.name)] + close if value.endswith(path.name) else close
        return f" Did you mean {written!r}?"

    def _path(self, value: str, place: RowPlace) -> Path | str:
        key = (place.folder, place.root, value)
        cached = self._paths.get(key)
        if cached is None:
            cached = _local_path(value, place.folder, place.root)
            self._paths[key] = cached
        return cached


def _closest_name(name: str, names: list[str]) -> str | None:
    """The file name closest to `name`, judged by the names without their extensions (every
    `.png` looks alike), preferring one with the same extension; None when none is close."""
    stems: dict[str, list[str]] = {}
    for candidate in names:
        stems.setdefault(os.path.splitext(candidate)[0].lower(), []).append(candidate)
    stem, extension = os.path.splitext(name)
    close = difflib.get_close_matches(stem.lower(), list(stems), n=1, cutoff=0.6)
    if not close:
        return None
    found = stems[close[0]]
    return next((c for c in found if c.lower().endswith(extension.lower())), found[0])


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


def _problem(file: LocalFile, shown: str, rule: MediaRule, owner: str) -> str | None:
    """What is wrong with a local file for one role, or None."""
    if file.mime not in rule.mimes:
        return f"{shown} is not {_KINDS[rule.kind]} (judged by its content, not its name)."
    if file.size > rule.max_bytes:
        return (
            f"{shown} is {_mb(file.size)}; {owner} accepts {_PLURALS[rule.kind]} up to {_mb(rule.max_bytes)}."
        )
    if rule.kind == "image":
        if file.error:
            return f"{shown}: {file.error}."
        return _image_problem(file, shown, rule, owner)
    if file.error or file.duration_s is None:
        why = file.error or "its length could not be determined"
        return f"{shown}: {why}; {_CONVERT[rule.kind]}."
    if rule.kind == "video" and not _sides_within(file, rule):
        return (
            f"{shown} is {file.width}×{file.height}; {owner} needs each side of a video between "
            f"{rule.min_px} and {rule.max_px}."
        )
    if not rule.min_s <= file.duration_s <= rule.max_s:
        return (
            f"{shown} is {file.duration_s:.1f} seconds long; {owner} needs {_PLURALS[rule.kind]} of "
            f"{rule.min_s:g} to {rule.max_s:g} seconds."
        )
    return None


def _image_problem(file: LocalFile, shown: str, rule: MediaRule, owner: str) -> str | None:
    if file.width is None or file.height is None:
        return f"{shown}: the image size could not be read."
    if not _sides_within(file, rule):
        return (
            f"{shown} is {file.width}×{file.height} pixels; {owner} needs each side "
            f"between {rule.min_px} and {rule.max_px}."
        )
    longer, shorter = max(file.width, file.height), min(file.width, file.height)
    if rule.max_aspect and longer > rule.max_aspect * shorter:
        return (
            f"{shown} is {file.width}×{file.height}; {owner} needs the longer side at most "
            f"{rule.max_aspect:g} times the shorter."
        )
    if file.has_alpha:
        kind = _IMAGE_NAMES[file.mime or "image/png"]
        return (
            f"{shown} is a {kind} with an alpha channel, which the API refuses; save it without transparency."
        )
    return None


def _sides_within(file: LocalFile, rule: MediaRule) -> bool:
    sides = (file.width or 0, file.height or 0)
    return all(rule.min_px <= side <= rule.max_px for side in sides)
