"""Layer 1: a manifest (YAML, or CSV rows) into validated TaskSpecs, every problem reported at once.

loader      the entry point: read, expand, validate; the run folder a manifest names
readers     YAML and CSV files into rows, with each row's place (file:line)
csvrows     a CSV's rows as tasks (columns named like task fields, meta.* columns)
expand      defaults, matrix and vars crossed into one row per task
templates   `{name}` placeholders in prompts and paths
fields      each task field checked against the model catalogue
limits      the manifest's `limits:` section
mediarefs   local files, URLs and data: URLs as MediaRefs (hashed, checked by content)
media       image and audio formats by their bytes (size, duration)
identity    task ids and content keys
"""

from __future__ import annotations

from runner.manifest.limits import Limits, ModelLimits
from runner.manifest.loader import Manifest, load_manifest, run_folder

__all__ = ["Limits", "Manifest", "ModelLimits", "load_manifest", "run_folder"]
