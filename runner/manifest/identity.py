"""Task identity: the content key and the readable, file-safe id of each task.

The key is `task_key` of the canonical request (local files by content hash), so the
same content has the same key whatever its row, order, file name or manifest format.
The id is the row's own `id` (plus the varying matrix/vars values, `rap-boy-noir-s1`),
or a slug of the prompt plus the key's first 8 hex digits (`a-cat-on-a-roof-2feaba7a`);
both survive row reordering and file renames.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final
from urllib.parse import unquote, urlsplit

from runner.core import TaskSpec, canonical_request, task_key
from runner.manifest.fields import Request
from runner.manifest.templates import is_safe_id, slugify

__all__ = ["ID_RULE", "check_explicit_id", "make_spec", "readable_stem"]

ID_RULE: Final = (
    "use letters, digits, '.', '_' or '-' (at most 100, starting with a letter or digit, no '..')"
)


def check_explicit_id(raw: object) -> tuple[str | None, str | None]:
    """(the row's own id or None, or a problem message when it cannot be a file name)."""
    if raw is None or raw == "":
        return None, None
    text = str(raw).strip()
    if not is_safe_id(text):
        return None, f"{text!r} cannot be used as a task id and file name; {ID_RULE}."
    return text, None


def make_spec(request: Request, explicit_id: str | None, suffix: tuple[str, ...], location: str) -> TaskSpec:
    """The TaskSpec of a validated row, with its key and id."""
    canonical = canonical_request(
        request.model,
        request.prompt,
        request.negative_prompt,
        request.media,
        request.parameters,
        request.variant,
    )
    key = task_key(canonical)
    if explicit_id is not None:
        task_id = "-".join((explicit_id, *suffix))[:100].rstrip("-.")
    else:
        task_id = f"{readable_stem(request)}-{key[:8]}"
    return TaskSpec(
        id=task_id,
        key=key,
        model=request.model,
        media=request.media,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        parameters=request.parameters,
        variant=request.variant,
        meta=request.meta,
        location=location,
    )


def readable_stem(request: Request) -> str:
    """A slug of the prompt, else of the first input's URL file name, else "task".

    Never a local file's name: ids must not change when a file is renamed (its key does not).
    """
    if request.prompt:
        slug = slugify(request.prompt)
        if slug:
            return slug
    url = (request.media[0].ref.url or "") if request.media else ""
    if url.startswith(("http://", "https://", "oss://")):
        slug = slugify(PurePosixPath(unquote(urlsplit(url).path)).stem)
        if slug:
            return slug
    return "task"
